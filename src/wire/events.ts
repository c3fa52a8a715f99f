import {UnsafeMessageError} from '../errors.js'

export type WorkerEventType = 'worker-online' | 'worker-heartbeat' | 'worker-offline'

/** A worker event body with every field real workers' gossip and monitors read (docs/wire-protocol.md#worker-events). */
export interface WorkerEvent {
  hostname: string
  utcoffset: number
  pid: number
  clock: number
  freq: number
  active: number
  processed: number
  loadavg: [number, number, number]
  sw_ident: string
  sw_ver: string
  sw_sys: string
  timestamp: number
  type: WorkerEventType
}

/** What an event claims to run: monitors only display it, so it names the Celery protocol spoken. */
export interface Software {
  ident: string
  version: string
  system: string
}

/** The Celery release whose wire protocol the agent reproduces (the version its stats and events report). */
export const DEFAULT_SOFTWARE: Software = {
  ident: 'py-celery',
  version: '5.2.6',
  system: process.platform === 'linux' ? 'Linux' : process.platform === 'darwin' ? 'Darwin' : process.platform === 'win32' ? 'Windows' : process.platform,
}

/** Routing key (and Redis channel suffix) of an event: its type with dashes as dots. */
export function eventRoutingKey(type: string): string {
  return type.replace(/-/g, '.')
}

/** Celery's `utcoffset()`: hours WEST of UTC, DST-aware, floored (docs/wire-protocol.md#worker-events). */
export function utcoffset(now = new Date()): number {
  return Math.floor(now.getTimezoneOffset() / 60)
}

const REQUIRED_FIELDS = ['hostname', 'timestamp', 'clock', 'utcoffset', 'pid', 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys'] as const

/**
 * Refuses worker events that would crash every real worker's gossip (docs/wire-protocol.md#what-wfctl-never-sends): no `type`,
 * an election event, or one missing the fields monitors use.
 */
export function assertSafeEvent(event: WorkerEvent): void {
  if (typeof event !== 'object' || event === null) throw new UnsafeMessageError('event is not an object')
  if (event.type !== 'worker-online' && event.type !== 'worker-heartbeat' && event.type !== 'worker-offline') {
    throw new UnsafeMessageError(`event type ${JSON.stringify(event.type)} is not a worker lifecycle event (it would break real workers' gossip)`)
  }
  for (const field of REQUIRED_FIELDS) {
    if (event[field] === undefined || event[field] === null) throw new UnsafeMessageError(`${event.type} event has no ${field}`)
  }
  if (typeof event.hostname !== 'string' || event.hostname === '') throw new UnsafeMessageError('event hostname must be a node name')
}
