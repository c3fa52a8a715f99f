import {Chalk, type ChalkInstance} from 'chalk'

import {own, type FleetResult} from '../fleet/outcome.js'
import {safe} from './safe.js'
import {plural} from '../words.js'
import {sorted, Table, type Cell, type Fit} from './table.js'
import type {ShutdownResult} from '../fleet/shutdown.js'
import {errorOf} from '../protocol/collector.js'
import {maskTokens} from './airflow.js'

export {safe, safeJson, safeLine} from './safe.js'
export {displayWidth, shorten, shortenAt, Table, type Cell} from './table.js'

export interface View {
  color: boolean
  /** Terminal width; long values are shortened to fit. */
  columns: number
}

export function style(view: View): ChalkInstance {
  return new Chalk({level: view.color ? 1 : 0})
}

/**
 * What an operator wants to read of a payload: the `ok` text, the error text, else compact JSON;
 * the value of any `"token"` field in it masked (an Airflow 3 workload's credential).
 */
export function payloadText(payload: unknown): string {
  const error = errorOf(payload)
  if (error !== undefined) return maskTokens(error)
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload) && 'ok' in payload) {
    const ok = (payload as {ok: unknown}).ok
    return maskTokens(typeof ok === 'string' ? ok : JSON.stringify(ok))
  }
  return maskTokens(JSON.stringify(payload) ?? 'null')
}

/** The table as text: no trailing spaces, and nothing at all without rows. */
export function text(t: Table): string {
  return t.toString()
}

/**
 * A table to fill with push(): every cell is made safe by the table itself, and shortened to fit
 * the terminal as `fit` says (by default only a cell wider than the terminal is shortened).
 * Colour goes in a cell as {text, paint}, so that it is painted after the text is made safe.
 */
export function table(head: string[], view: View, fit?: Fit): Table {
  return new Table(head, view, fit)
}

/** Nodes with an error but no payload (their reply could not be read), sorted. */
export function answeredUnread(result: FleetResult): string[] {
  return sorted(Object.keys(result.errors).filter((node) => !Object.hasOwn(result.replies, node)))
}

function latency(result: FleetResult, node: string): string | undefined {
  const ms = own(result.latencyMs, node)
  return ms === undefined ? undefined : `${Math.round(ms)} ms`
}

/** Node names give way in the middle (they share their start and end), down to 12 columns. */
const NODE_FIT = {min: {0: 12}, cut: {0: 'middle'}} as const

/** The reply table: one row per node that replied (sorted), then one per silent awaited node. */
export function repliesTable(result: FleetResult, view: View): string {
  const c = style(view)
  // The reply gives way first, down to 16 columns, then the node name.
  const t = table(['NODE', 'STATUS', 'LATENCY', 'REPLY'], view, {shrink: [3, 0], min: {...NODE_FIT.min, 3: 16}, cut: NODE_FIT.cut})
  const ok: Cell = {text: 'OK', paint: c.green}
  const error: Cell = {text: 'ERROR', paint: c.red}
  for (const node of sorted(Object.keys(result.replies))) {
    const duplicated = own(result.duplicateReplies, node)
    for (const payload of duplicated ?? [own(result.replies, node)]) {
      const failed = errorOf(payload) !== undefined
      const reply = payloadText(payload)
      t.push([node, failed ? error : ok, latency(result, node) ?? '0 ms', duplicated ? `${reply} (duplicate name)` : reply])
    }
  }
  // A node can have answered with nothing readable: an error of its own, without a payload.
  for (const node of answeredUnread(result)) t.push([node, error, latency(result, node) ?? '-', own(result.errors, node) ?? '-'])
  const missing: Cell = {text: 'missing', paint: c.yellow}
  for (const node of result.missing) t.push([node, missing, '-', '-'])
  return text(t)
}

/** The summary line: `3 nodes replied, 1 missing: w4@host`. */
export function summaryLine(result: FleetResult): string {
  const replied = Object.keys(result.replies).length
  const parts = [`${plural(replied, 'node')} replied`]
  if (result.expected !== null && result.missing.length === 0 && replied < result.expected) {
    parts[0] = `${replied} of ${result.expected} expected nodes replied`
  }
  if (result.missing.length > 0) parts.push(`${result.missing.length} missing: ${result.missing.join(', ')}`)
  const errors = sorted(Object.keys(result.errors))
  if (errors.length > 0) parts.push(`${plural(errors.length, 'error')}: ${errors.join(', ')}`)
  if (result.duplicates.length > 0) parts.push(`duplicate node names: ${result.duplicates.join(', ')}`)
  if (result.undecodable.length > 0) parts.push(plural(result.undecodable.length, 'undecodable reply'))
  const heard = heardLine(result, 'it')
  if (heard) parts.push(heard)
  return safe(`${parts.join(', ')} (${result.elapsedMs} ms)`)
}

/**
 * `3 mailboxes heard it, 2 replied`: when the broker counted more mailboxes hearing a broadcast than
 * replied (Redis only; on RabbitMQ the count is not known and nothing is said).
 */
function heardLine(result: FleetResult, what: string): string | undefined {
  const unanswered = result.unanswered ?? 0
  if (unanswered <= 0 || result.listeners === null) return undefined
  return `${result.listeners} ${result.listeners === 1 ? 'mailbox' : 'mailboxes'} heard ${what}, ${result.listeners - unanswered} replied`
}

/** Why nobody may have answered, when the broker could tell (shown only when no node replied). */
export function silenceHint(result: FleetResult, address: string): string | undefined {
  if (heardLine(result, 'it')) {
    return 'a mailbox that hears the broadcast but does not reply is a worker blocked or busy (a solo pool running a task), one slower than --timeout, or a client subscribed to the channel that is not a worker'
  }
  if (Object.keys(result.replies).length > 0 || result.listeners !== 0) return undefined
  // In the operation's order: the likeliest mistake first.
  const elsewhere = result.listenersElsewhere ?? []
  if (elsewhere.length > 0) {
    const more = elsewhere.length > 1 ? ` (and ${elsewhere.length - 1} more)` : ''
    return safe(`nobody listens on ${address}; workers listen on ${elsewhere[0].channel}${more}: try ${elsewhere[0].fix} (wfctl doctor explains)`)
  }
  return safe(`nobody listens on ${address}: no worker uses this broker, database or vhost, control exchange and key prefix, or remote control is disabled (wfctl doctor explains)`)
}

/** `wfctl status`: the nodes online, like `celery status`. */
export function statusTable(result: FleetResult, view: View): string {
  const c = style(view)
  const t = table(['NODE', 'STATUS', 'LATENCY'], view, {shrink: [0], ...NODE_FIT})
  const error: Cell = {text: 'error', paint: c.red}
  const online: Cell = {text: 'online', paint: c.green}
  for (const node of sorted(Object.keys(result.replies))) {
    t.push([node, Object.hasOwn(result.errors, node) ? error : online, latency(result, node) ?? '0 ms'])
  }
  for (const node of answeredUnread(result)) t.push([node, error, latency(result, node) ?? '-'])
  const missing: Cell = {text: 'missing', paint: c.yellow}
  for (const node of result.missing) t.push([node, missing, '-'])
  return text(t)
}

export function statusLine(result: FleetResult): string {
  const online = Object.keys(result.replies).length
  const parts = [`${plural(online, 'node')} online`]
  if (result.missing.length > 0) parts.push(`${result.missing.length} missing: ${result.missing.join(', ')}`)
  if (result.duplicates.length > 0) parts.push(`duplicate node names: ${result.duplicates.join(', ')}`)
  const heard = heardLine(result, 'the ping')
  if (heard) parts.push(heard)
  return safe(`${parts.join(', ')}.`)
}

export function shutdownTable(result: ShutdownResult, view: View): string {
  const c = style(view)
  // The detail gives way first, then the node name.
  const t = table(['NODE', 'RESULT', 'DETAIL'], view, {shrink: [2, 0], min: {...NODE_FIT.min, 2: 16}, cut: NODE_FIT.cut})
  const cells: Record<string, Cell> = {
    stopped: {text: 'stopped', paint: c.green},
    stopping: {text: 'stopping', paint: c.yellow},
    running: {text: 'still running', paint: c.red},
    unknown: {text: 'unknown', paint: c.yellow},
  }
  const order = ['stopped', 'stopping', 'running', 'unknown']
  const rows = sorted(Object.keys(result.nodes)).map((node) => [node, result.nodes[node]] as const)
  for (const state of order) {
    for (const [node, outcome] of rows) {
      if (outcome.state !== state) continue
      t.push([node, cells[state], shutdownDetail(outcome)])
    }
  }
  return text(t)
}

/** What a node is still doing, in a few words: the tasks it runs, the ones it finished, why it is unknown. */
function shutdownDetail(outcome: ShutdownResult['nodes'][string]): string {
  const tasks = (list: {id: string; name: string | null}[]) => list.map((t) => `${t.name ?? 'task'}[${t.id}]`).join(', ')
  switch (outcome.state) {
    case 'stopped':
      return outcome.finished ? `after ${plural(outcome.finished.length, 'task')} ended: ${tasks(outcome.finished)}` : 'was idle'
    case 'stopping':
      return `exits when ${outcome.activeTasks === 1 ? 'its task ends' : `its ${outcome.activeTasks} tasks end`}: ${tasks(outcome.tasks ?? [])}`
    case 'running':
      return outcome.tasks ? `still answers; running ${tasks(outcome.tasks)}` : 'still answers'
    default:
      return outcome.reason ?? ''
  }
}

export function shutdownLine(result: ShutdownResult): string {
  if (!result.waited) return 'shutdown sent; not verified (--no-wait)'
  const total = Object.keys(result.nodes).length
  if (total === 0) return 'no worker answered before the shutdown: nothing was verified'
  const parts = [`${result.stopped.length} of ${plural(total, 'node')} stopped (${(result.elapsedMs / 1000).toFixed(1)}s)`]
  if (result.stopping.length > 0) parts.push(`stopping, tasks still running: ${result.stopping.join(', ')}`)
  if (result.running.length > 0) parts.push(`still running: ${result.running.join(', ')}`)
  const unknown = Object.keys(result.nodes).filter((n) => result.nodes[n].state === 'unknown')
  if (unknown.length > 0) parts.push(`unknown: ${unknown.join(', ')}`)
  return safe(parts.join(', '))
}
