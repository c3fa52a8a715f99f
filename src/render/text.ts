import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'

import {own, type FleetResult} from '../fleet/outcome.js'
import {safe} from './safe.js'
import type {ShutdownResult} from '../fleet/shutdown.js'
import {errorOf} from '../protocol/collector.js'

export {safe} from './safe.js'

export interface View {
  color: boolean
  /** Terminal width; long values are shortened to fit. */
  columns: number
}

export function style(view: View): ChalkInstance {
  return new Chalk({level: view.color ? 1 : 0})
}

/** Columns a character takes on a terminal: 2 for East Asian wide and emoji, 0 for combining marks. */
function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2
  return 1
}

/** Columns a string takes on a terminal (no escape sequences expected: see safe()). */
export function displayWidth(text: string): number {
  let width = 0
  for (const ch of text) width += charWidth(ch.codePointAt(0)!)
  return width
}

/** The longest run of characters from the start (or from the end) that fits `max` columns. */
function take(text: string, max: number, fromEnd = false): string {
  const chars = [...text]
  if (fromEnd) chars.reverse()
  let width = 0
  let n = 0
  for (const ch of chars) {
    const w = charWidth(ch.codePointAt(0)!)
    if (width + w > max) break
    width += w
    n += 1
  }
  const kept = chars.slice(0, n)
  return (fromEnd ? kept.reverse() : kept).join('')
}

/** Shortens to `max` terminal columns with an ellipsis. */
export function shorten(text: string, max: number): string {
  if (displayWidth(text) <= max) return text
  if (max < 2) return take(text, Math.max(0, max))
  return `${take(text, max - 1)}…`
}

/** Shortens with the ellipsis where the text says least: the end, the start, or the middle. */
export function shortenAt(text: string, max: number, where?: 'start' | 'middle'): string {
  if (displayWidth(text) <= max || max < 2 || where === undefined) return shorten(text, max)
  if (where === 'start') return `…${take(text, max - 1, true)}`
  const head = take(text, Math.ceil((max - 1) / 2))
  return `${head}…${take(text, max - 1 - displayWidth(head), true)}`
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
  const nodeWidth = Math.max(4, ...nodes.map(displayWidth), ...result.missing.map(displayWidth))
  // Columns: node, STATUS (7), LATENCY (8), reply; three 2-space gaps; one spare for terminals that wrap at the edge.
  const replyWidth = Math.max(16, view.columns - nodeWidth - 7 - 8 - 3 * 2 - 1)
  const t = table(['NODE', 'STATUS', 'LATENCY', 'REPLY'], view)
  for (const node of nodes) {
    const duplicated = own(result.duplicateReplies, node)
    for (const payload of duplicated ?? [own(result.replies, node)]) {
      const failed = errorOf(payload) !== undefined
      t.push([
        safe(node),
        failed ? c.red('ERROR') : c.green('OK'),
        `${Math.round(own(result.latencyMs, node) ?? 0)} ms`,
        shorten(safe(payloadText(payload)) + (duplicated ? ' (duplicate name)' : ''), replyWidth),
      ])
    }
  }
  for (const node of result.missing) t.push([safe(node), c.yellow('missing'), '-', '-'])
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
  return safe(`${parts.join(', ')} (${result.elapsedMs} ms)`)
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
    t.push([safe(node), Object.hasOwn(result.errors, node) ? c.red('error') : c.green('online'), `${Math.round(own(result.latencyMs, node) ?? 0)} ms`])
  }
  for (const node of result.missing) t.push([safe(node), c.yellow('missing'), '-'])
  return text(t)
}

export function statusLine(result: FleetResult): string {
  const online = Object.keys(result.replies).length
  const parts = [`${plural(online, 'node')} online`]
  if (result.missing.length > 0) parts.push(`${result.missing.length} missing: ${result.missing.join(', ')}`)
  if (result.duplicates.length > 0) parts.push(`duplicate node names: ${result.duplicates.join(', ')}`)
  return safe(`${parts.join(', ')}.`)
}

export function shutdownTable(result: ShutdownResult, view: View): string {
  const c = style(view)
  const t = table(['NODE', 'RESULT'], view)
  for (const node of result.stopped) t.push([safe(node), c.green('stopped')])
  for (const node of result.running) t.push([safe(node), c.red('still running')])
  for (const node of result.missing) t.push([safe(node), c.yellow('no answer before shutdown (not running, or busy): not verified')])
  return text(t)
}

export function shutdownLine(result: ShutdownResult): string {
  if (!result.verified) return 'shutdown sent; not verified (--no-wait)'
  const total = result.stopped.length + result.running.length
  const parts = [`${result.stopped.length} of ${plural(total, 'node')} stopped (${(result.elapsedMs / 1000).toFixed(1)}s)`]
  if (result.running.length > 0) parts.push(`still running: ${result.running.join(', ')}`)
  if (result.missing.length > 0) parts.push(`not verified, no answer before shutdown: ${result.missing.join(', ')}`)
  return safe(parts.join(', '))
}
