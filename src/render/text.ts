import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'

import type {FleetResult} from '../fleet/outcome.js'
import type {ShutdownResult} from '../fleet/shutdown.js'
import {errorOf} from '../protocol/collector.js'

export interface View {
  color: boolean
  /** Terminal width; long values are shortened to fit. */
  columns: number
}

export function style(view: View): ChalkInstance {
  return new Chalk({level: view.color ? 1 : 0})
}

/** Shortens to `max` characters with an ellipsis. */
export function shorten(text: string, max: number): string {
  if (max < 2) return text.slice(0, Math.max(0, max))
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** What an operator wants to read of a payload: the `ok` text, the error text, else compact JSON. */
export function payloadText(payload: unknown): string {
  const error = errorOf(payload)
  if (error !== undefined) return error
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload) && 'ok' in payload) {
    const ok = (payload as {ok: unknown}).ok
    return typeof ok === 'string' ? ok : JSON.stringify(ok)
  }
  return JSON.stringify(payload) ?? 'null'
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** The table as text, without the padding cli-table3 leaves at the end of each line. */
export function text(t: Table.Table): string {
  return t.length > 0 ? t.toString().split('\n').map((line) => line.trimEnd()).join('\n') : ''
}

export function table(head: string[], view: View): Table.Table {
  const c = style(view)
  return new Table({
    head: head.map((h) => c.bold(h)),
    style: {head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 0},
    chars: {top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  '},
  })
}

/** The reply table: one row per node that replied (sorted), then one per silent awaited node. */
export function repliesTable(result: FleetResult, view: View): string {
  const c = style(view)
  const nodes = Object.keys(result.replies).sort()
  const nodeWidth = Math.max(4, ...nodes.map((n) => n.length), ...result.missing.map((n) => n.length))
  // Columns: node, STATUS (7), LATENCY (8), reply; three 2-space gaps; one spare for terminals that wrap at the edge.
  const replyWidth = Math.max(16, view.columns - nodeWidth - 7 - 8 - 3 * 2 - 1)
  const t = table(['NODE', 'STATUS', 'LATENCY', 'REPLY'], view)
  for (const node of nodes) {
    const duplicated = result.duplicateReplies?.[node]
    for (const payload of duplicated ?? [result.replies[node]]) {
      const failed = errorOf(payload) !== undefined
      t.push([
        node,
        failed ? c.red('ERROR') : c.green('OK'),
        `${Math.round(result.latencyMs[node] ?? 0)} ms`,
        shorten(payloadText(payload) + (duplicated ? ' (duplicate name)' : ''), replyWidth),
      ])
    }
  }
  for (const node of result.missing) t.push([node, c.yellow('missing'), '-', '-'])
  return text(t)
}

/** One line, as the contract shows: `3 nodes replied, 1 missing: w4@host`. */
export function summaryLine(result: FleetResult): string {
  const replied = Object.keys(result.replies).length
  const parts = [`${plural(replied, 'node')} replied`]
  if (result.expected !== null && result.missing.length === 0 && replied < result.expected) {
    parts[0] = `${replied} of ${result.expected} expected nodes replied`
  }
  if (result.missing.length > 0) parts.push(`${result.missing.length} missing: ${result.missing.join(', ')}`)
  const errors = Object.keys(result.errors).sort()
  if (errors.length > 0) parts.push(`${plural(errors.length, 'error')}: ${errors.join(', ')}`)
  if (result.duplicates.length > 0) parts.push(`duplicate node names: ${result.duplicates.join(', ')}`)
  if (result.undecodable.length > 0) parts.push(plural(result.undecodable.length, 'undecodable reply').replace('replys', 'replies'))
  return `${parts.join(', ')} (${result.elapsedMs} ms)`
}

/** Why nobody may have answered, when the broker could tell (shown only when no node replied). */
export function silenceHint(result: FleetResult, address: string): string | undefined {
  if (Object.keys(result.replies).length > 0 || result.listeners !== 0) return undefined
  return `nobody listens on ${address}: no worker uses this broker, database or vhost, control exchange and key prefix, or remote control is disabled`
}

/** `wfctl status`: the nodes online, like `celery status`. */
export function statusTable(result: FleetResult, view: View): string {
  const c = style(view)
  const t = table(['NODE', 'STATUS', 'LATENCY'], view)
  for (const node of Object.keys(result.replies).sort()) {
    t.push([node, node in result.errors ? c.red('error') : c.green('online'), `${Math.round(result.latencyMs[node] ?? 0)} ms`])
  }
  for (const node of result.missing) t.push([node, c.yellow('missing'), '-'])
  return text(t)
}

export function statusLine(result: FleetResult): string {
  const online = Object.keys(result.replies).length
  const parts = [`${plural(online, 'node')} online`]
  if (result.missing.length > 0) parts.push(`${result.missing.length} missing: ${result.missing.join(', ')}`)
  if (result.duplicates.length > 0) parts.push(`duplicate node names: ${result.duplicates.join(', ')}`)
  return `${parts.join(', ')}.`
}

export function shutdownTable(result: ShutdownResult, view: View): string {
  const c = style(view)
  const t = table(['NODE', 'RESULT'], view)
  for (const node of result.stopped) t.push([node, c.green('stopped')])
  for (const node of result.running) t.push([node, c.red('still running')])
  for (const node of result.missing) t.push([node, c.yellow('no answer before shutdown (not running, or busy): not verified')])
  return text(t)
}

export function shutdownLine(result: ShutdownResult): string {
  if (!result.verified) return 'shutdown sent; not verified (--no-wait)'
  const total = result.stopped.length + result.running.length
  const parts = [`${result.stopped.length} of ${plural(total, 'node')} stopped (${(result.elapsedMs / 1000).toFixed(1)}s)`]
  if (result.running.length > 0) parts.push(`still running: ${result.running.join(', ')}`)
  if (result.missing.length > 0) parts.push(`not verified, no answer before shutdown: ${result.missing.join(', ')}`)
  return parts.join(', ')
}
