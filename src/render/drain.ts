import type {DrainNode, DrainProgress, DrainResult} from '../fleet/drain.js'
import {own} from '../fleet/outcome.js'
import {naturalCompare} from '../fleet/live.js'
import {plural} from '../words.js'
import {safe} from './safe.js'
import {sorted, type Cell} from './table.js'
import {style, table, text, type View} from './text.js'

/** What `control drain` prints: the live view of the wait, the final table, the restore lines, the notes. */

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`
const count = (n: number | null) => (n === null ? '?' : String(n))

/** The live table of the wait (redrawn on a terminal): one row per node, with the time it has waited. */
export function progressTable(progress: DrainProgress, view: View): string {
  const c = style(view)
  const t = table(['NODE', 'ACTIVE', 'RESERVED', 'SCHEDULED', 'STATE'], view, {shrink: [0], min: {0: 12}, cut: {0: 'middle'}})
  for (const n of [...progress.nodes].sort((a, b) => naturalCompare(a.node, b.node))) {
    const state: Cell = n.drained ? {text: 'drained', paint: c.green} : n.answered ? {text: 'draining', paint: c.yellow} : {text: 'no answer', paint: c.red}
    t.push([n.node, count(n.active), count(n.reserved), count(n.scheduled), state])
  }
  return `draining: ${seconds(progress.elapsedMs)} of ${seconds(progress.waitMs)}\n${text(t)}`
}

/** One plain line per node whose counts changed, for a log (no terminal). */
export function progressLines(progress: DrainProgress, last: Map<string, string>): string[] {
  const lines: string[] = []
  for (const n of progress.nodes) {
    const now = n.answered ? `active=${count(n.active)} reserved=${count(n.reserved)} scheduled=${count(n.scheduled)}${n.drained ? ' drained' : ''}` : 'no answer'
    if (last.get(n.node) === now) continue
    last.set(n.node, now)
    lines.push(safe(`drain: ${n.node} ${now} (${seconds(progress.elapsedMs)})`))
  }
  return lines
}

const SHUTDOWN_WORDS: Record<string, string> = {stopped: 'stopped', stopping: 'stopping', running: 'still running', unknown: 'shutdown unknown'}

/** The final table: each node's result (drained, and with --shutdown its shutdown state) and what it still does. */
export function drainTable(result: DrainResult, view: View): string {
  const c = style(view)
  const t = table(['NODE', 'RESULT', 'DETAIL'], view, {shrink: [2, 0], min: {0: 12, 2: 16}, cut: {0: 'middle'}})
  for (const node of sorted(Object.keys(result.nodes))) {
    const n = result.nodes[node]
    t.push([node, resultCell(result, node, n, c), detail(result, node, n)])
  }
  return text(t)
}

function resultCell(result: DrainResult, node: string, n: DrainNode, c: ReturnType<typeof style>): Cell {
  switch (n.state) {
    case 'drained': {
      const stop = result.shutdown ? own(result.shutdown.nodes, node) : undefined
      if (!stop) return {text: 'drained', paint: c.green}
      return {text: `drained, ${SHUTDOWN_WORDS[stop.state]}`, paint: stop.state === 'stopped' ? c.green : c.yellow}
    }
    case 'busy':
      return {text: 'not drained', paint: c.red}
    case 'silent':
      return {text: 'silent', paint: c.red}
    default:
      return {text: 'no answer', paint: c.red}
  }
}

function detail(result: DrainResult, node: string, n: DrainNode): string {
  const parts: string[] = []
  if (n.cancelled.length > 0) parts.push(`cancelled ${n.cancelled.join(', ')}`)
  if (n.state === 'drained' && n.drainedAfterMs !== undefined) parts.push(`idle after ${seconds(n.drainedAfterMs)}`)
  if (n.state === 'busy') {
    parts.push(`active ${count(n.active)}, reserved ${count(n.reserved)}`)
    if (n.tasks) parts.push(n.tasks.map((t) => `${t.name ?? 'task'}[${t.id}]`).join(', '))
  }
  if (n.stillConsuming) parts.push(`still consuming ${n.stillConsuming.join(', ')}`)
  if (n.cancelErrors) parts.push(`cancel not confirmed: ${Object.entries(n.cancelErrors).map(([q, e]) => `${q} (${e})`).join(', ')}`)
  if (n.scheduled) parts.push(`holds ${plural(n.scheduled, 'ETA task')}`)
  const stop = result.shutdown ? own(result.shutdown.nodes, node) : undefined
  if (stop?.reason) parts.push(stop.reason)
  if (n.reason) parts.push(n.reason)
  return parts.join('; ')
}

/** The summary line. */
export function drainLine(result: DrainResult): string {
  const answered = Object.values(result.nodes).filter((n) => n.state !== 'no-answer').length
  if (Object.keys(result.nodes).length === 0) return 'no worker answered: nothing was drained'
  const parts = [`${result.drained.length} of ${plural(answered, 'node')} drained (${seconds(result.elapsedMs)})`]
  if (result.shutdown) parts.push(`${result.shutdown.stopped.length} stopped`)
  else if (result.shutdownRequested && !result.interrupted) parts.push('none shut down')
  if (result.notDrained.length > 0) parts.push(`not drained within --wait ${seconds(result.waitMs)}: ${result.notDrained.join(', ')}`)
  if (result.missing.length > 0) parts.push(`no answer: ${result.missing.join(', ')}`)
  return safe(parts.join(', '))
}

/** The command lines that bind every cancelled queue again, under a heading; nothing when none was cancelled. */
export function restoreLines(result: DrainResult): string[] {
  if (result.restore.length === 0) return []
  return ['to restore the cancelled queues (with the broker flags of this drain):', ...result.restore.map((r) => safe(`  ${r.command}`))]
}

/** Which queues were cancelled on which node, for the interrupt message. */
export function cancelledSummary(result: DrainResult): string {
  const byNode = Object.entries(result.nodes).filter(([, n]) => n.cancelled.length > 0)
  if (byNode.length === 0) return 'no queue was cancelled'
  return safe(`queues cancelled: ${byNode.map(([node, n]) => `${node}: ${n.cancelled.join(', ')}`).join('; ')}`)
}

/** Notes on the ETA tasks nodes hold: where they go when the node stops. */
export function scheduledNotes(result: DrainResult, broker: 'redis' | 'amqp' | string): string[] {
  const where = broker === 'redis'
    ? 'they go back to their queue when the worker stops: at once after a warm shutdown, but if the worker is killed, on Redis only after the visibility timeout (1 hour by default)'
    : 'they go back to their queue when the worker stops, for a worker that consumes it'
  return Object.entries(result.nodes)
    .filter(([, n]) => (n.scheduled ?? 0) > 0)
    .map(([node, n]) => safe(`note: ${node} holds ${plural(n.scheduled!, 'ETA/countdown task')} (scheduled: ${(n.scheduledTasks ?? []).map((t) => `${t.name ?? 'task'}[${t.id}]${t.eta ? ` eta ${t.eta}` : ''}`).join(', ')}): ${where}`))
}
