import {closeSync, existsSync, mkdirSync, openSync, writeSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, isAbsolute, join, resolve} from 'node:path'

import type {DrainResult} from './drain.js'
import {own, type FleetResult} from './outcome.js'
import type {ShutdownResult} from './shutdown.js'

/*
 * The audit trail: one JSON line per command that changes workers, appended to
 * ${XDG_STATE_HOME:-~/.local/state}/wfctl/audit.log (WFCTL_AUDIT_LOG=PATH moves it, =off turns it
 * off). Nothing here reads flags or prints: the caller builds the record (its strings already
 * masked) and reports a failed write as one warning, never as a failure of the command.
 */

/**
 * Methods that only read: they are never logged. Every other method is a change and is logged —
 * custom methods too, since wfctl cannot know what they do. `hello` is a change (the worker merges
 * the revoked ids it is given and purges its revoked set); `heartbeat` is not (the worker only
 * emits a worker-heartbeat event).
 */
export const READ_METHODS: ReadonlySet<string> = new Set([
  'ping', 'clock', 'heartbeat',
  'active', 'dump_active', 'reserved', 'dump_reserved', 'scheduled', 'dump_schedule',
  'revoked', 'dump_revoked', 'registered', 'dump_tasks', 'stats', 'active_queues', 'query_task',
  'conf', 'dump_conf', 'report', 'memsample', 'memdump', 'objgraph',
])

/** Whether sending `method` changes workers, and so is written to the audit log. */
export function isChange(method: string): boolean {
  return !READ_METHODS.has(method)
}

/**
 * One node's outcome: `ok`, `error` (with its text), `missing` (targeted or expected, silent); for a
 * shutdown the node's state (stopped, stopping, running, unknown) with its active task count; for a
 * drain the node's drain state, and its shutdown state when it was shut down.
 */
export interface AuditNode {
  outcome: string
  error?: string
  activeTasks?: number | null
  shutdown?: string
}

export interface AuditRecord {
  /** ISO 8601, UTC. */
  time: string
  /** user@host of whoever ran wfctl. */
  user: string
  /** wfctl's argv, every broker URL and password masked. */
  command: string[]
  /** The broker, masked. */
  broker: string
  /**
   * `command` for a command line; `top` for an action run from the live view (`wfctl top`, or
   * `wfctl inspect` on a terminal: its keys and its menu alike); `explorer` for one run from the
   * menu explorer (`wfctl inspect --menu`).
   */
  via: 'command' | 'explorer' | 'top'
  target: {destination: string[]; pattern: string | null; matcher: string | null}
  method: string
  args: Record<string, unknown>
  /** Each node heard from or awaited, by name. */
  nodes: Record<string, AuditNode>
  /** Replies that could not be read and named no node. */
  undecodable?: number
  /** The command's exit code (for an explorer action, the one the same one-shot command would have). */
  exitCode: number
  /** --reason, null when not given. */
  reason: string | null
  /** Why the command failed after it began sending (broker unreachable, interrupted), if it did. */
  error?: string
}

/** Where the log goes (null: off), from the environment. */
export function auditPath(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = env.WFCTL_AUDIT_LOG
  if (set !== undefined && set !== '') return set.trim().toLowerCase() === 'off' ? null : resolve(set)
  // As the XDG base directory spec says: an unset, empty or relative XDG_STATE_HOME is ignored.
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state')
  return join(state, 'wfctl', 'audit.log')
}

/**
 * Appends the record as one line, with one write(2) on a descriptor opened O_APPEND: lines of
 * concurrent wfctl processes do not interleave (on a local filesystem; NFS does not promise it).
 * A new directory is created 0700, a new file 0600; existing ones keep their modes. Returns the
 * path written, null when the log is off; throws when it cannot be written.
 */
export function appendAudit(record: AuditRecord, env: NodeJS.ProcessEnv = process.env): string | null {
  const path = auditPath(env)
  if (path === null) return null
  makeDirectory(dirname(path))
  const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8')
  const fd = openSync(path, 'a', 0o600)
  try {
    const written = writeSync(fd, line, 0, line.length)
    if (written !== line.length) throw new Error(`only ${written} of ${line.length} bytes written`)
  } finally {
    closeSync(fd)
  }
  return path
}

/**
 * mkdir -p, each new directory 0700. (Not mkdirSync's own recursive mode: on a filesystem whose
 * mkdir fails with ENOENT under an existing parent, /proc for one, Node 20's loops forever.)
 */
function makeDirectory(dir: string): void {
  const missing: string[] = []
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d)) break
    missing.unshift(d)
    if (dirname(d) === d) break
  }
  for (const d of missing) {
    try {
      mkdirSync(d, {mode: 0o700})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

/** The per-node outcomes of a request, a shutdown or a drain. */
export function auditNodes(result: FleetResult | ShutdownResult | DrainResult): {nodes: Record<string, AuditNode>; undecodable?: number} {
  const nodes = new Map<string, AuditNode>()
  if (result.method === 'drain') {
    const drain = result as DrainResult
    for (const [node, n] of Object.entries(drain.nodes)) {
      const stop = drain.shutdown ? own(drain.shutdown.nodes, node) : undefined
      nodes.set(node, {outcome: n.state, ...(stop ? {shutdown: stop.state, activeTasks: stop.activeTasks} : {})})
    }
    return {nodes: Object.fromEntries(nodes)}
  }
  if ('stopped' in result) {
    for (const [node, n] of Object.entries(result.nodes)) nodes.set(node, {outcome: n.state, activeTasks: n.activeTasks, ...(n.reason ? {error: n.reason} : {})})
    for (const node of result.missing) if (!nodes.has(node)) nodes.set(node, {outcome: 'missing'})
    return {nodes: Object.fromEntries(nodes)}
  }
  const fleet = result as FleetResult
  for (const node of Object.keys(fleet.replies)) nodes.set(node, {outcome: 'ok'})
  for (const [node, error] of Object.entries(fleet.errors)) nodes.set(node, {outcome: 'error', error})
  for (const node of fleet.missing) if (!nodes.has(node)) nodes.set(node, {outcome: 'missing'})
  const unnamed = fleet.undecodable.filter((u) => u.node === undefined).length
  return {nodes: Object.fromEntries(nodes), ...(unnamed > 0 ? {undecodable: unnamed} : {})}
}

/** Applies `mask` to every string of a value (arguments may hold anything an operator typed). */
export function maskStrings<T>(value: T, mask: (s: string) => string): T {
  if (typeof value === 'string') return mask(value) as T
  if (Array.isArray(value)) return value.map((v) => maskStrings(v, mask)) as T
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [mask(k), maskStrings(v, mask)])) as T
  }
  return value
}
