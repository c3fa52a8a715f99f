import {queuesOf, type DrainProgress} from '../fleet/drain.js'
import {naturalCompare as naturalOrder, stateWord, type Counts, type SortColumn, type WorkerRow, type WorkerState} from '../fleet/live.js'
import {own, type FleetResult} from '../fleet/outcome.js'
import {plural} from '../words.js'
import {safe} from './safe.js'
import {clip, displayWidth, Table} from './table.js'
import {payloadText} from './text.js'
import {maskTokens} from './airflow.js'

/*
 * The frames of `wfctl top`: what the view holds in, exactly `height` lines out, none wider than
 * `width - 1` columns (a terminal may wrap a line that reaches its last column). Pure: no terminal,
 * no clock (the caller gives `nowS`). Every string from the wire (node names, queue and task names,
 * payloads) is made safe and shortened here, so that no frame can act on the operator's terminal.
 */

/** One queue under the workers. */
export interface QueueLine {
  name: string
  /** null when the broker would not tell (see `error`). */
  messages: number | null
  /** null where the broker cannot tell and no worker said (Redis without an answer). */
  consumers: number | null
  /** False when the broker has no such queue (RabbitMQ). */
  exists?: boolean
  /** Why the broker would not tell. */
  error?: string
}

/** A part of the detail pane, fetched on demand. */
export type Section = {status: 'loading'} | {status: 'error'; message: string} | {status: 'ok'; payload: unknown}

export interface Detail {
  node: string
  row?: WorkerRow
  active: Section
  queues: Section
  stats: Section
  /** First line shown (the pane scrolls). */
  scroll: number
}

/** The bottom line: what the keys do, or what is being typed, asked or said. */
export type Footer =
  | {kind: 'keys'}
  | {kind: 'filter'; input: string}
  | {kind: 'prompt'; label: string; input: string}
  | {kind: 'confirm'; question: string}
  | {kind: 'message'; text: string; error?: boolean}

export interface TopScreen {
  /** The masked broker URL. */
  broker: string
  /** What the view is scoped to (`wfctl inspect -d` / `--pattern`), in words: `matching glob "pod-*"`. */
  scope?: string
  /** The workers to list, filtered and sorted. */
  rows: WorkerRow[]
  /** How many there are before the filter. */
  total: number
  counts: Counts
  cursor: number
  /** The first row shown, as last drawn (kept when the cursor stays in view). */
  scroll: number
  selected: ReadonlySet<string>
  sort: SortColumn
  descending: boolean
  filter: string
  queues: {lines: QueueLine[]; ageSeconds: number | null; note?: string}
  detail?: Detail
  help?: boolean
  footer: Footer
  /** An action under way ("draining w1@h…"). */
  busy?: string
  /** Events that were not worker events wfctl could read. */
  ignored?: number
  /** Seconds since the epoch, for the runtimes of active tasks. */
  nowS: number
}

export interface FrameSize {
  width: number
  height: number
  color: boolean
}

export interface Frame {
  lines: string[]
  /** The first row shown: keep it for the next frame. */
  scroll: number
  /** How many worker rows fit: a page for PgUp / PgDn. */
  pageRows: number
}

// ─── colour ────────────────────────────────────────────────────────────────────────────────────

type Paint = (s: string) => string
const plain: Paint = (s) => s
const sgr = (on: string, off: string): Paint => (s) => (s === '' ? s : `\u001B[${on}m${s}\u001B[${off}m`)

interface Palette {
  bold: Paint
  dim: Paint
  inverse: Paint
  error: Paint
  state: Record<WorkerState, Paint>
}

function palette(color: boolean): Palette {
  if (!color) return {bold: plain, dim: plain, inverse: plain, error: plain, state: {online: plain, offline: plain, 'no-heartbeat': plain, 'possibly-dead': plain}}
  return {
    bold: sgr('1', '22'),
    dim: sgr('2', '22'),
    inverse: sgr('7', '27'),
    error: sgr('31', '39'),
    state: {online: sgr('32', '39'), offline: sgr('31', '39'), 'no-heartbeat': sgr('33', '39'), 'possibly-dead': sgr('35', '39')},
  }
}

// ─── numbers ───────────────────────────────────────────────────────────────────────────────────

function pad(text: string, width: number, right = false): string {
  const gap = width - displayWidth(text)
  if (gap <= 0) return text
  return right ? ' '.repeat(gap) + text : text + ' '.repeat(gap)
}

/** A count in at most `width` columns: 12345, 1.2M, 3.4G. */
export function countText(n: number | null, width = 9): string {
  if (n === null) return '-'
  const s = String(n)
  if (s.length <= width) return s
  // The unit that leaves at most three digits: 1.2M, 12G, 345T.
  for (const [unit, size] of [['k', 1e3], ['M', 1e6], ['G', 1e9], ['T', 1e12], ['P', 1e15]] as const) {
    const v = n / size
    if (v >= 999.5) continue
    const t = v < 9.95 ? `${v.toFixed(1)}${unit}` : `${Math.round(v)}${unit}`
    if (t.length <= width) return t
  }
  return '>'.repeat(Math.max(1, width))
}

/** Tasks a second: 0.25, 3.1, 42, 1.2k. */
export function rateText(rate: number | null): string {
  if (rate === null) return '-'
  if (rate < 0.005) return '0'
  if (rate < 10) return rate.toFixed(rate < 1 ? 2 : 1)
  if (rate < 1000) return String(Math.round(rate))
  return countText(Math.round(rate), 5)
}

/** An age: 0.8s, 12s, 5m, 3h, 2d. */
export function ageText(seconds: number | null): string {
  if (seconds === null) return '-'
  if (seconds < 10) return `${seconds.toFixed(1)}s`
  if (seconds < 120) return `${Math.round(seconds)}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`
  return `${Math.round(seconds / 86400)}d`
}

function loadText(load: [number, number, number] | null, full: boolean): string {
  if (!load) return '-'
  const one = (v: number) => (v >= 100 ? String(Math.round(v)) : v.toFixed(2))
  return full ? load.map(one).join(' ') : one(load[0])
}

function freqText(freq: number | null): string {
  if (freq === null) return '-'
  return `${Number.isInteger(freq) ? freq : freq.toFixed(1)}s`
}

// ─── the worker table ──────────────────────────────────────────────────────────────────────────

const GAP = '  '
/** Between the worker columns: one space on a narrow terminal (80 columns), two from WIDE on. */
const WIDE = 100
/** The cursor and selection marks before each row: `>` the cursor, `*` selected. */
const MARK = 3

interface Column {
  id: SortColumn | 'freq'
  head: string
  width: number
  right?: boolean
  cell: (row: WorkerRow) => string
}

const STATE_WIDTH = Math.max(...(['online', 'offline', 'no-heartbeat', 'possibly-dead'] as const).map((s) => stateWord(s).length))

function columnsFor(width: number, rows: WorkerRow[]): Layout {
  const gap = width >= WIDE ? GAP : ' '
  const stateWidth = Math.max(6, ...rows.slice(0, 500).map((r) => stateWord(r.state).length).concat(rows.length > 500 ? [STATE_WIDTH] : []))
  const state: Column = {id: 'state', head: 'STATE', width: stateWidth, cell: (r) => stateWord(r.state)}
  // One column more than the heading: room for the sort arrow.
  const active: Column = {id: 'active', head: 'ACTIVE', width: 7, right: true, cell: (r) => countText(r.active, 7)}
  const processed: Column = {id: 'processed', head: 'PROCESSED', width: 10, right: true, cell: (r) => countText(r.processed, 10)}
  const rate: Column = {id: 'rate', head: 'RATE/S', width: 7, right: true, cell: (r) => rateText(r.rate)}
  const load1: Column = {id: 'load', head: 'LOAD', width: 5, right: true, cell: (r) => loadText(r.loadavg, false)}
  const load3: Column = {id: 'load', head: 'LOAD 1/5/15', width: 14, cell: (r) => loadText(r.loadavg, true)}
  const version: Column = {id: 'version', head: 'VERSION', width: 8, cell: (r) => r.swVer ?? '-'}
  const freq: Column = {id: 'freq', head: 'FREQ', width: 5, right: true, cell: (r) => freqText(r.freq)}
  const age: Column = {id: 'age', head: 'AGE', width: 5, right: true, cell: (r) => ageText(r.heartbeatAgeSeconds)}
  const usable = width - 1 - MARK
  const used = (cols: Column[]) => cols.reduce((sum, c) => sum + c.width + gap.length, 0)
  const longest = Math.max(4, ...rows.slice(0, 500).map((r) => displayWidth(safe(r.node))))
  const want = Math.min(longest, 32)
  let columns = [state, active, processed, rate, load1, age]
  // Wider terminals show more, as long as node names keep the room they need.
  for (const more of [[state, active, processed, rate, load1, version, age], [state, active, processed, rate, load3, version, age], [state, active, processed, rate, load3, freq, version, age]]) {
    if (usable - used(more) >= want) columns = more
  }
  let nodeWidth = Math.max(4, usable - used(columns))
  // Room to spare on a wide terminal: the node column is as wide as the names, the rest stays left.
  if (nodeWidth > Math.max(longest, 4)) nodeWidth = Math.max(longest, 4)
  return {columns, nodeWidth, gap, usable: width - 1}
}

interface Layout {
  columns: Column[]
  nodeWidth: number
  gap: string
  usable: number
}

function workerHead({columns, nodeWidth, gap, usable}: Layout, sort: SortColumn, descending: boolean, p: Palette): string {
  const mark = (id: string, head: string) => (id === sort ? `${head}${descending ? '↓' : '↑'}` : head)
  let line = ' '.repeat(MARK) + pad(mark('node', 'NODE'), nodeWidth)
  for (const c of columns) line += gap + pad(mark(c.id, c.head), c.width, c.right)
  return p.bold(clip(line.trimEnd(), usable))
}

function workerLine(row: WorkerRow, {columns, nodeWidth, gap, usable}: Layout, cursor: boolean, selected: boolean, p: Palette): string {
  const mark = `${cursor ? '>' : ' '}${selected ? '*' : ' '} `
  const head = mark + pad(clip(row.node, nodeWidth, 'middle'), nodeWidth)
  let plainLine = head
  let painted = head
  for (const c of columns) {
    const text = pad(clip(c.cell(row), c.width), c.width, c.right)
    plainLine += gap + text
    painted += gap + (c.id === 'state' && !cursor ? p.state[row.state](text) : text)
  }
  // A terminal too narrow for even the fixed columns: the line is cut, without its colours.
  const line = displayWidth(plainLine.trimEnd()) > usable ? clip(plainLine.trimEnd(), usable) : painted.trimEnd()
  return cursor ? p.inverse(line) : line
}

// ─── the queues ────────────────────────────────────────────────────────────────────────────────

/** The deepest queue first: what piles up is what an operator looks for. */
function byDepth(a: QueueLine, b: QueueLine): number {
  return (b.messages ?? -1) - (a.messages ?? -1) || naturalOrder(a.name, b.name)
}

function queueLines(q: TopScreen['queues'], width: number, rows: number, p: Palette): string[] {
  if (rows <= 0) return []
  const usable = width - 1
  const sorted = [...q.lines].sort(byDepth)
  const nameWidth = Math.max(8, Math.min(usable - 2 * (9 + GAP.length), Math.max(5, ...sorted.slice(0, rows).map((l) => displayWidth(safe(l.name))))))
  const age = q.ageSeconds === null ? 'reading…' : `${ageText(q.ageSeconds)} ago`
  const head = `${pad('QUEUE', nameWidth)}${GAP}${pad('MESSAGES', 9, true)}${GAP}${pad('CONSUMERS', 9, true)}${GAP}${age}${q.note ? ` · ${safe(q.note)}` : ''}`
  const out = [p.bold(clip(head, usable))]
  if (sorted.length === 0) {
    out.push(p.dim(clip(q.ageSeconds === null ? '' : 'no queue known: pass --queue NAME to watch one', usable)))
    return out.slice(0, rows)
  }
  const shown = sorted.slice(0, rows - 1)
  for (const l of shown) {
    const messages = l.error !== undefined || l.exists === false ? '-' : countText(l.messages, 9)
    const note = l.error !== undefined ? `${GAP}${safe(l.error)}` : l.exists === false ? `${GAP}no such queue` : ''
    const line = `${pad(clip(l.name, nameWidth, 'middle'), nameWidth)}${GAP}${pad(messages, 9, true)}${GAP}${pad(l.consumers === null ? '-' : countText(l.consumers, 9), 9, true)}${note}`
    out.push(clip(line.trimEnd(), usable))
  }
  if (sorted.length > shown.length && out.length === rows) out[rows - 1] = p.dim(clip(`… and ${plural(sorted.length - shown.length + 1, 'more queue')}`, usable))
  return out
}

// ─── the detail pane ───────────────────────────────────────────────────────────────────────────

function sectionHead(title: string, s: Section, count?: number): string {
  if (s.status === 'loading') return `${title}: asking…`
  if (s.status === 'error') return `${title}: ${s.message}`
  return count === undefined ? `${title}:` : `${title} (${count}):`
}

function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined
}

function short(value: unknown): string {
  if (typeof value === 'string') return value
  const text = JSON.stringify(value)
  return text === undefined ? String(value) : text
}

/** The detail pane's lines (before scrolling), each already safe; `usable` columns wide at most. */
export function detailLines(d: Detail, nowS: number, usable: number): string[] {
  const out: string[] = []
  const push = (text: string) => out.push(clip(text, usable))
  const r = d.row
  if (r) {
    push(`${d.node}  ${stateWord(r.state)} · celery ${r.swVer ?? '-'}`)
    push(`  active ${countText(r.active)}  processed ${countText(r.processed)}  rate ${rateText(r.rate)}/s  load ${loadText(r.loadavg, true)}`)
    push(`  heartbeat every ${freqText(r.freq)}, the last ${ageText(r.heartbeatAgeSeconds)} ago`)
  } else {
    push(`${d.node}  (no longer listed)`)
  }
  out.push('')

  const active = d.active.status === 'ok' ? d.active.payload : undefined
  const tasks = Array.isArray(active) ? active : undefined
  push(sectionHead('Active tasks', d.active.status === 'ok' && !tasks ? {status: 'error', message: 'the answer is not a list of tasks'} : d.active, tasks?.length))
  if (tasks && tasks.length === 0) push('  none')
  for (const t of tasks ?? []) {
    const started = field(t, 'time_start')
    const runtime = typeof started === 'number' && Number.isFinite(started) ? `running ${ageText(Math.max(0, nowS - started))}` : ''
    const args = field(t, 'args')
    push(`  ${short(field(t, 'id') ?? '?')}  ${short(field(t, 'name') ?? '?')}  ${runtime}${args !== undefined ? `  args ${maskTokens(short(args))}` : ''}`)
  }
  out.push('')

  const queues = d.queues.status === 'ok' ? queuesOf(d.queues.payload) : undefined
  push(sectionHead('Queues consumed', d.queues.status === 'ok' && !queues ? {status: 'error', message: 'the answer is not a list of queues'} : d.queues, queues?.length))
  if (queues && queues.length === 0) push('  none: this worker takes no work')
  for (const q of queues ?? []) {
    const extra = [q.exchange !== undefined ? `exchange ${q.exchange}` : '', q.exchangeType !== undefined ? `type ${q.exchangeType}` : '', q.routingKey !== undefined ? `routing key ${q.routingKey}` : ''].filter(Boolean).join(', ')
    push(`  ${q.queue}${extra ? `  (${extra})` : ''}`)
  }
  out.push('')

  push(sectionHead('Stats', d.stats))
  if (d.stats.status === 'ok') {
    const s = d.stats.payload
    const pool = field(s, 'pool')
    const processes = field(pool, 'processes')
    const poolParts = [
      typeof field(pool, 'implementation') === 'string' ? String(field(pool, 'implementation')) : '',
      field(pool, 'max-concurrency') !== undefined ? `max-concurrency ${short(field(pool, 'max-concurrency'))}` : '',
      Array.isArray(processes) ? `${processes.length} process${processes.length === 1 ? '' : 'es'}` : '',
      field(s, 'prefetch_count') !== undefined ? `prefetch ${short(field(s, 'prefetch_count'))}` : '',
    ].filter(Boolean)
    if (poolParts.length > 0) push(`  pool: ${poolParts.join(', ')}`)
    const uptime = field(s, 'uptime')
    const life = [typeof uptime === 'number' ? `uptime ${ageText(uptime)}` : '', field(s, 'pid') !== undefined ? `pid ${short(field(s, 'pid'))}` : ''].filter(Boolean)
    if (life.length > 0) push(`  ${life.join(', ')}`)
    const total = field(s, 'total')
    if (typeof total === 'object' && total !== null && !Array.isArray(total)) {
      const entries = Object.entries(total as Record<string, unknown>).sort(([a], [b]) => naturalOrder(a, b))
      push(`  tasks run: ${entries.length === 0 ? 'none yet' : entries.map(([name, n]) => `${name} ${short(n)}`).join(', ')}`)
    }
    if (poolParts.length === 0 && life.length === 0 && total === undefined) push(`  ${short(s)}`)
  }
  return out
}

// ─── help ──────────────────────────────────────────────────────────────────────────────────────

/** The keys, as the help pane and the README list them. */
export const KEYS: [string, string][] = [
  ['Up Down j k', 'move; PgUp PgDn, Home End (g G) too'],
  ['/', 'filter: words in the node name or the state; Esc clears it'],
  ['< >', 'sort by the previous / next column; i inverts'],
  ['space', 'select a worker; A selects all shown, Esc unselects'],
  ['Enter', 'detail: active tasks, queues, stats (r asks again)'],
  ['+ -', 'pool grow / shrink (asks how many)'],
  ['a c', 'add / cancel a consumer (asks the queue; Tab completes)'],
  ['D', 'drain: cancel its queues, wait until idle (asks first)'],
  ['X', 'shutdown (asks first)'],
  ['m', 'menu: views and every action (revoke, query tasks, limits...)'],
  ['r', 'read the queue depths now'],
  ['q', 'quit (exit 0); Ctrl-C leaves at once (exit 130)'],
]

function helpLines(usable: number): string[] {
  const keyWidth = Math.min(30, Math.max(...KEYS.map(([k]) => displayWidth(k))))
  return [
    'Keys', '',
    ...KEYS.map(([k, what]) => clip(`  ${pad(k, keyWidth)}  ${what}`, usable)),
    '', clip('Actions apply to the selected workers, else to the one under the cursor.', usable), clip('Esc or ? closes this help.', usable),
  ]
}

// ─── the frame ─────────────────────────────────────────────────────────────────────────────────

const SORT_WORDS: Record<SortColumn, string> = {node: 'node', state: 'state', active: 'active', processed: 'processed', rate: 'rate', load: 'load', version: 'version', age: 'heartbeat age'}

function titleLine(s: TopScreen, usable: number, p: Palette): string {
  const c = s.counts
  const states = [`${c.online} online`]
  if (c.offline > 0) states.push(`${c.offline} offline`)
  if (c.noHeartbeat > 0) states.push(`${c.noHeartbeat} no heartbeat`)
  if (c.possiblyDead > 0) states.push(`${c.possiblyDead} possibly dead`)
  const parts = [states.join(', '), `${c.active} active`, `${rateText(c.rate)}/s`]
  if (s.ignored) parts.push(plural(s.ignored, 'unreadable event'))
  if (s.scope) parts.push(safe(s.scope))
  // The counts first: on a narrow terminal the broker is what gives way.
  return p.bold(clip(`${parts.join(' · ')} · wfctl top ${safe(s.broker)}`, usable))
}

/** How the rows are seen: the filter, the selection, the sort. */
function viewState(s: TopScreen): string {
  const parts: string[] = []
  if (s.filter !== '') parts.push(`filter "${safe(s.filter)}": ${s.rows.length} of ${s.total}`)
  if (s.selected.size > 0) parts.push(`${s.selected.size} selected`)
  parts.push(`sort ${SORT_WORDS[s.sort]}${s.descending ? '↓' : '↑'}`)
  return parts.join(' · ')
}

function footerLine(s: TopScreen, usable: number, p: Palette): string {
  const f = s.footer
  // What is being typed keeps its end in view.
  const typing = (label: string, input: string) => {
    const shown = `${label}${safe(input)}_`
    return displayWidth(shown) <= usable ? shown : clip(shown, usable, 'start')
  }
  if (f.kind === 'filter') return typing(`/ filter (${s.rows.length} of ${s.total}, Enter keeps, Esc clears): `, f.input)
  if (f.kind === 'prompt') return typing(`${safe(f.label)}: `, f.input)
  // The question may be cut, never its [y/N].
  if (f.kind === 'confirm') return p.bold(`${clip(f.question, Math.max(1, usable - 6))} [y/N]`)
  if (s.busy !== undefined && f.kind !== 'message') return clip(s.busy, usable)
  if (f.kind === 'message') return (f.error ? p.error : plain)(clip(f.text, usable))
  return p.dim(clip(`? help · ${viewState(s)} · q quit  m menu  / filter  < > sort  space select  Enter detail  + - pool  a c consumer  D drain  X shutdown`, usable))
}

/** One frame of the view, exactly `height` lines, none wider than `width - 1` columns. */
export function renderTop(s: TopScreen, size: FrameSize): Frame {
  const width = Math.max(20, size.width)
  const height = Math.max(3, size.height)
  const usable = width - 1
  const p = palette(size.color)
  const lines: string[] = [titleLine(s, usable, p)]
  const body = height - 2
  let scroll = s.scroll
  let pageRows = body - 1

  if (s.help) {
    lines.push(...helpLines(usable).slice(0, body))
  } else if (s.detail) {
    const all = detailLines(s.detail, s.nowS, usable)
    const top = Math.max(0, Math.min(s.detail.scroll, all.length - body))
    lines.push(...all.slice(top, top + body))
    pageRows = body
  } else {
    // The queues take the lower part: up to a third of the body, never more than they need.
    const queueRows = body >= 8 ? Math.min(Math.max(2, s.queues.lines.length + 1), Math.max(2, Math.floor(body / 3))) : 0
    const gap = queueRows > 0 ? 1 : 0
    const room = Math.max(1, body - 1 - queueRows - gap)
    // When not every row fits, the last line says how many more there are.
    pageRows = s.rows.length > room ? Math.max(1, room - 1) : room
    const cursor = Math.max(0, Math.min(s.cursor, s.rows.length - 1))
    if (cursor < scroll) scroll = cursor
    if (cursor >= scroll + pageRows) scroll = cursor - pageRows + 1
    scroll = Math.max(0, Math.min(scroll, Math.max(0, s.rows.length - pageRows)))
    const shown = s.rows.slice(scroll, scroll + pageRows)
    const layout = columnsFor(width, shown)
    lines.push(workerHead(layout, s.sort, s.descending, p))
    if (shown.length === 0) {
      lines.push(p.dim(clip(s.total === 0 ? 'waiting for heartbeats…' : `no worker matches the filter "${safe(s.filter)}" (Esc clears it)`, usable)))
    }
    shown.forEach((row, i) => lines.push(workerLine(row, layout, scroll + i === cursor, s.selected.has(row.node), p)))
    const below = s.rows.length - scroll - shown.length
    if (below > 0 && room > 1) lines.push(p.dim(clip(`   … ${plural(below, 'more worker')}${scroll > 0 ? `, ${scroll} above` : ''} (PgDn)`, usable)))
    while (lines.length < 2 + room) lines.push('')
    if (queueRows > 0) {
      lines.push('')
      lines.push(...queueLines(s.queues, width, queueRows, p))
    }
  }
  while (lines.length < height - 1) lines.push('')
  lines.length = height - 1
  lines.push(footerLine(s, usable, p))
  return {lines, scroll, pageRows}
}

// ─── lines for actions, and the --once text ────────────────────────────────────────────────────

/** What one request did, on one line: each node's answer, or counts when many answered. */
export function actionLine(method: string, nodes: string[], result: FleetResult): string {
  const ok = Object.keys(result.replies).filter((n) => own(result.errors, n) === undefined)
  const errors = Object.keys(result.errors)
  const silent = nodes.filter((n) => !Object.hasOwn(result.replies, n) && own(result.errors, n) === undefined)
  if (nodes.length <= 3) {
    const parts = nodes.map((n) => {
      const error = own(result.errors, n)
      if (error !== undefined) return `${n}: error: ${error}`
      if (!Object.hasOwn(result.replies, n)) return `${n}: no answer`
      return `${n}: ${payloadText(own(result.replies, n))}`
    })
    return safe(`${method}: ${parts.join('; ')}`)
  }
  const parts = [`${ok.length} ok`]
  if (errors.length > 0) parts.push(`${errors.length} error${errors.length === 1 ? '' : 's'} (${errors.slice(0, 2).map((n) => `${n}: ${own(result.errors, n)}`).join('; ')}${errors.length > 2 ? '; …' : ''})`)
  if (silent.length > 0) parts.push(`${silent.length} silent`)
  return safe(`${method} to ${plural(nodes.length, 'node')}: ${parts.join(', ')}`)
}

/** A drain under way, on one line. */
export function drainProgressLine(p: DrainProgress): string {
  const nodes = p.nodes.map((n) => (n.drained ? `${n.node} drained` : !n.answered ? `${n.node} silent` : `${n.node} ${n.active ?? '?'} active, ${n.reserved ?? '?'} reserved`))
  return safe(`drain: ${nodes.join('; ')} (${Math.round(p.elapsedMs / 1000)}s of ${Math.round(p.waitMs / 1000)}s)`)
}

/** `wfctl top --once` without --json: the workers, the queues, and one line of counts. */
export function onceText(rows: WorkerRow[], counts: Counts, queues: QueueLine[], view: {color: boolean; columns: number}): string {
  const out: string[] = []
  const fullLoad = view.columns >= WIDE
  const workers = new Table(['NODE', 'STATE', 'ACTIVE', 'PROCESSED', 'RATE/S', fullLoad ? 'LOAD 1/5/15' : 'LOAD', 'VERSION', 'AGE'], view, {shrink: [0], cut: {0: 'middle'}, min: {0: 12}})
  for (const r of rows) {
    workers.push([r.node, stateWord(r.state), countText(r.active), countText(r.processed), rateText(r.rate), loadText(r.loadavg, fullLoad), r.swVer ?? '-', ageText(r.heartbeatAgeSeconds)])
  }
  if (workers.length > 0) out.push(workers.toString(), '')
  const q = new Table(['QUEUE', 'MESSAGES', 'CONSUMERS'], view, {shrink: [0], cut: {0: 'middle'}})
  for (const l of [...queues].sort(byDepth)) {
    q.push([l.name, l.error !== undefined || l.exists === false || l.messages === null ? '-' : String(l.messages), l.consumers === null ? '-' : String(l.consumers)])
  }
  if (q.length > 0) out.push(q.toString(), '')
  const parts = [`${counts.online} online`]
  if (counts.offline > 0) parts.push(`${counts.offline} offline`)
  if (counts.noHeartbeat > 0) parts.push(`${counts.noHeartbeat} without heartbeats`)
  if (counts.possiblyDead > 0) parts.push(`${counts.possiblyDead} possibly dead`)
  parts.push(`${counts.active} active`, `${plural(queues.length, 'queue')}`)
  out.push(rows.length === 0 ? 'no worker seen: no heartbeat, no answer to the ping' : `${plural(rows.length, 'worker')}: ${parts.join(', ')}`)
  return out.join('\n')
}
