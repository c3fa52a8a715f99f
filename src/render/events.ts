import {Chalk, type ChalkInstance} from 'chalk'

import type {CeleryEvent, EventHint, UndecodableEvent} from '../fleet/events.js'
import {safe, safeJson} from './safe.js'
import {clip, displayWidth, shorten} from './table.js'
import {maskTokens} from './airflow.js'

/*
 * `wfctl events`: one line per event for a person, or one JSON object per line for a program.
 * Every string in an event is the sender's: each goes through safe() (or safeJson) before it is
 * printed, and a line never holds a line break of the sender's.
 */

export interface EventView {
  color: boolean
  /** Lines are cut to this width (a terminal); undefined: never cut, values only bounded. */
  columns?: number
}

/** The event as Celery sent it, the common fields first: what --json prints, one per line. */
export function eventObject(event: CeleryEvent): Record<string, unknown> {
  const head: Record<string, unknown> = {type: event.type, hostname: event.hostname, timestamp: event.timestamp}
  if (event.clock !== undefined) head.clock = event.clock
  if (event.utcoffset !== undefined) head.utcoffset = event.utcoffset
  // Spread defines own properties: a field named "__proto__" stays a field.
  return {...head, ...event.fields}
}

/** One NDJSON line (without its newline), every character a terminal could act on escaped. */
export function eventJson(event: CeleryEvent): string {
  return safeJson(eventObject(event))
}

/** A value longer than this is cut, even where lines are not (a traceback, a long repr). */
const VALUE_MAX = 500
/** The node column grows with the names seen, up to this width. */
const NODE_COLUMN_MAX = 40
const TYPE_COLUMN = 16
/** Task names remembered for the events that do not carry one (all but task-received and task-sent). */
const NAMES_KEPT = 10_000

/** The sender's time of the event, UTC, to the millisecond: `14:49:03.123Z`. */
export function eventTime(timestamp: number): string {
  const ms = timestamp * 1000
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return '??:??:??.???Z'
  return `${new Date(ms).toISOString().slice(11, 23)}Z`
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

/** A field's value as text: strings neutralised and bounded, anything else as compact JSON. */
function value(v: unknown, max = VALUE_MAX): string {
  if (typeof v === 'string') return clip(v, max)
  if (isNumber(v)) return String(v)
  let json: string | undefined
  try {
    json = JSON.stringify(v)
  } catch {
    json = undefined
  }
  return clip(json ?? String(v), max)
}

function seconds(runtime: unknown): string {
  if (!isNumber(runtime)) return value(runtime)
  if (runtime >= 1 || runtime <= -1) return `${runtime.toFixed(2)}s`
  return `${(runtime * 1000).toFixed(runtime < 0.01 ? 3 : 1)}ms`
}

function load(v: unknown): string {
  return Array.isArray(v) && v.length <= 3 && v.every(isNumber) ? v.join(',') : value(v)
}

type Fields = Record<string, unknown>

/** `key=value` for each field present. */
function pairs(fields: Fields, keys: string[]): string[] {
  const out: string[] = []
  // Arguments may hold an Airflow 3 workload's token: never on a line (--json keeps events as sent).
  for (const key of keys) if (Object.hasOwn(fields, key) && fields[key] !== undefined) out.push(`${key}=${key === 'args' || key === 'kwargs' ? maskTokens(value(fields[key])) : value(fields[key])}`)
  return out
}

/** The fields an operator reads first, per event type. */
function workerDetails(event: CeleryEvent): string[] {
  const f = event.fields
  const out: string[] = []
  if (Object.hasOwn(f, 'active')) out.push(`active=${value(f.active)}`)
  if (Object.hasOwn(f, 'processed')) out.push(`processed=${value(f.processed)}`)
  if (Object.hasOwn(f, 'loadavg')) out.push(`load=${load(f.loadavg)}`)
  if (event.type === 'worker-online' && (Object.hasOwn(f, 'sw_ident') || Object.hasOwn(f, 'sw_ver'))) {
    out.push([f.sw_ident, f.sw_ver].filter((x) => x !== undefined).map((x) => value(x, 60)).join(' '))
  }
  return out
}

/** Event lines with the task names remembered and the node column as wide as the names seen. */
export class EventLines {
  private readonly names = new Map<string, string>()
  private nodeWidth = 0
  private readonly paint: ChalkInstance

  constructor(private readonly view: EventView) {
    this.paint = new Chalk({level: view.color ? 1 : 0})
  }

  private taskDetails(event: CeleryEvent): string[] {
    const f = event.fields
    const id = typeof f.uuid === 'string' ? f.uuid : undefined
    const out: string[] = [id === undefined ? '-' : value(id, 200)]
    if (id !== undefined && typeof f.name === 'string') {
      if (!this.names.has(id) && this.names.size >= NAMES_KEPT) this.names.delete(this.names.keys().next().value!)
      this.names.set(id, f.name)
    }
    const name = typeof f.name === 'string' ? f.name : id === undefined ? undefined : this.names.get(id)
    if (name !== undefined) out.push(value(name, 200))
    switch (event.type) {
      case 'task-succeeded':
        if (Object.hasOwn(f, 'runtime')) out.push(`runtime=${seconds(f.runtime)}`)
        out.push(...pairs(f, ['result']))
        break
      case 'task-failed':
      case 'task-retried':
        out.push(...pairs(f, ['exception']))
        break
      case 'task-received':
        if (isNumber(f.retries) && f.retries > 0) out.push(`retries=${f.retries}`)
        if (f.eta !== undefined && f.eta !== null) out.push(`eta=${value(f.eta)}`)
        out.push(...pairs(f, ['args', 'kwargs']))
        break
      case 'task-sent':
        out.push(...pairs(f, ['queue', 'args', 'kwargs']))
        break
      case 'task-rejected':
        out.push(...pairs(f, ['requeue']))
        break
      case 'task-revoked':
        out.push(...pairs(f, ['terminated', 'signum', 'expired']))
        break
      default:
        break
    }
    return out
  }

  private colour(type: string, text: string): string {
    if (!this.view.color) return text
    if (type === 'task-failed' || type === 'worker-offline' || type === 'task-rejected') return this.paint.red(text)
    if (type === 'task-succeeded' || type === 'worker-online') return this.paint.green(text)
    if (type === 'task-retried' || type === 'task-revoked') return this.paint.yellow(text)
    if (type === 'worker-heartbeat') return this.paint.dim(text)
    return text
  }

  /** One line (without its newline): time, node, type, what matters of the event. */
  line(event: CeleryEvent): string {
    const node = safe(event.hostname)
    const width = displayWidth(node)
    if (width > this.nodeWidth) this.nodeWidth = Math.min(width, NODE_COLUMN_MAX)
    const type = safe(event.type)
    const details = event.type.startsWith('worker-')
      ? workerDetails(event)
      : event.type.startsWith('task-')
        ? this.taskDetails(event)
        : Object.keys(event.fields).slice(0, 8).map((key) => `${clip(key, 40)}=${value(event.fields[key], 100)}`)
    const head = `${eventTime(event.timestamp)}  ${node}${' '.repeat(Math.max(0, this.nodeWidth - width))}  `
    const typeCell = `${type}${' '.repeat(Math.max(0, TYPE_COLUMN - displayWidth(type)))}`
    let rest = details.join(' ')
    const columns = this.view.columns
    if (columns !== undefined) {
      const room = columns - displayWidth(head) - displayWidth(typeCell) - 2
      rest = room >= 2 ? shorten(rest, room) : ''
    }
    return rest === '' ? `${head}${this.colour(event.type, type)}` : `${head}${this.colour(event.type, typeCell)}  ${rest}`
  }
}

/** What a message that is not an event was, for a warning line. */
export function undecodableLine(item: UndecodableEvent): string {
  return `${item.node === undefined ? '' : `${safe(item.node)}: `}${safe(item.reason)}`
}

/** Why nothing shows, for stderr: what to check, in the operator's terms. */
export function hintLine(hint: EventHint, broker: string, taskTypesOnly: boolean): string {
  const seconds = (ms: number) => `${Math.round(ms / 1000)} s`
  switch (hint.kind) {
    case 'waiting':
      return `no worker has sent events on ${broker} yet (no event exchange): waiting for one`
    case 'available':
      return 'the event exchange is there now: listening'
    case 'silent':
      return taskTypesOnly
        ? `no event in ${seconds(hint.afterMs)} on ${broker}: workers send task events only when started with -E (or after \`wfctl control enable-events\`); check the broker URL and --redis-key-prefix too`
        : `no event in ${seconds(hint.afterMs)} on ${broker}: workers send a heartbeat every 2 s unless started with --without-heartbeat (then only with -E); check the broker URL, its database and --redis-key-prefix, or run \`wfctl status\``
    case 'no-task-events':
      return `no task event in ${seconds(hint.afterMs)} (${hint.heard} other events heard): workers send task events only when started with -E, or after \`wfctl control enable-events\``
    case 'no-match':
      return `${hint.heard} events in ${seconds(hint.afterMs)}, none matched --type/--node; heard from ${hint.nodes.map((n) => safe(n)).join(', ')}${hint.nodes.length >= 5 ? ', ...' : ''}`
  }
}
