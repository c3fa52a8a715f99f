import type {QueuesResult} from '../fleet/queues.js'
import {plural} from '../words.js'
import {safe} from './safe.js'
import {Table, type Cell} from './table.js'
import type {View} from './text.js'

/*
 * `wfctl queues` as text: one row per queue (NAME MESSAGES CONSUMERS, with each priority list of a
 * Redis queue on request), then one summary line that says where the consumer counts come from.
 */

/** kombu's priority lists on Redis, as columns: the plain list holds priorities 0-2. */
const PRIORITY_COLUMNS: [string, string][] = [['0', 'P0-2'], ['3', 'P3-5'], ['6', 'P6-8'], ['9', 'P9']]

export function queuesTable(result: QueuesResult, view: View, opts: {priorities?: boolean} = {}): string {
  const priorities = opts.priorities === true
  const noted = result.queues.some((q) => !q.exists || q.error !== undefined)
  const head = ['NAME', 'MESSAGES', ...(priorities ? PRIORITY_COLUMNS.map(([, h]) => h) : []), 'CONSUMERS', ...(noted ? ['NOTE'] : [])]
  // The name gives way first (down to 12 columns), then the note.
  const t = new Table(head, view, {shrink: [0, head.length - 1], min: {0: 12}})
  for (const q of result.queues) {
    const missing = !q.exists || q.error !== undefined
    const row: Cell[] = [q.name, missing || q.messages === null ? '-' : String(q.messages)]
    if (priorities) for (const [step] of PRIORITY_COLUMNS) row.push(missing || !q.byPriority ? '-' : String(q.byPriority[step] ?? 0))
    row.push(missing || q.consumers === null ? '-' : String(q.consumers))
    if (noted) row.push(q.error !== undefined ? q.error : q.exists ? '' : 'no such queue')
    t.push(row)
  }
  return t.toString()
}

/** `3 queues, 12 messages waiting (consumers: the 2 workers that answered)`. */
export function queuesLine(result: QueuesResult): string {
  const read = result.queues.filter((q) => q.exists && q.messages !== null)
  const waiting = read.reduce((n, q) => n + (q.messages ?? 0), 0)
  const parts = [`${plural(result.queues.length, 'queue')}, ${plural(waiting, 'message')} waiting`]
  const absent = result.queues.filter((q) => !q.exists).length
  if (absent > 0) parts.push(`${absent} not found`)
  const unread = result.queues.filter((q) => q.error !== undefined).length
  if (unread > 0) parts.push(`${unread} not readable`)
  const asked = result.asked
  if (asked && asked.missing.length > 0) parts.push(`${asked.missing.length} missing: ${asked.missing.join(', ')}`)
  const answered = asked ? new Set([...Object.keys(asked.replies), ...Object.keys(asked.errors)]).size : 0
  const from = result.consumersFrom === 'broker'
    ? 'consumers as the broker counts them'
    : result.consumersFrom === 'workers'
      ? asked ? `consumers: of the ${plural(answered, 'worker')} that answered` : 'consumers: as the workers said earlier'
      : 'consumers unknown: the workers were not asked'
  return safe(`${parts.join(', ')} (${from})`)
}
