import {errorOf} from '../protocol/collector.js'
import {own, type FleetResult} from '../fleet/outcome.js'
import {clip, collate, displayWidth, renderTable, sorted, type Cell, type Layout} from './table.js'
import {answeredUnread, repliesTable, safe, style, type View} from './text.js'
import {airflowTask, airflowText, maskTokens, taskLabel, type AirflowTask} from './airflow.js'
import {isPlain} from './safe.js'
import {plural} from '../words.js'

export type {Cell, Layout} from './table.js'

/*
 * Tables for the inspect commands. Each method has a layout that says how to read its payload;
 * a payload of another shape, an error reply or a silent node never breaks the table: they are
 * listed under it, as they are, so the valid replies always show.
 */

/**
 * Lays out a table within the terminal width, shortening the shrinkable columns in order; every
 * cell made safe (values come from the wire) and on one line.
 */
export function fitTable(layout: Layout, view: View): string {
  return renderTable(layout, view)
}

/** One reply to lay out: a node's payload (each of them, when several workers share a name). */
export interface Entry {
  node: string
  payload: unknown
}

/** What the renderers know beyond the replies: the time now, and what the operator asked for. */
export interface Context {
  now: number
  /** query-task: the ids asked about, so that ids no node knows are shown too. */
  ids?: string[]
}

interface Spec {
  /** True when the payload has the shape this method's replies have. */
  accepts(payload: unknown): boolean
  layout(entries: Entry[], ctx: Context, view: View): Layout | string
  /** Said instead of an empty table. */
  empty: string
}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function str(v: unknown): string {
  if (v === null || v === undefined) return '-'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/**
 * A task's arguments as an operator reads them: `6, "x", key=1` (repr strings as sent with --safe),
 * every `"token"` field's value masked.
 */
export function argsText(args: unknown, kwargs: unknown): string {
  const parts: string[] = []
  if (Array.isArray(args)) parts.push(...args.map((a) => JSON.stringify(a)))
  else if (typeof args === 'string') parts.push(args)
  else if (args !== undefined && args !== null) parts.push(JSON.stringify(args))
  if (isObj(kwargs)) parts.push(...Object.entries(kwargs).map(([k, v]) => `${k}=${k === 'token' ? '"****"' : JSON.stringify(v)}`))
  else if (typeof kwargs === 'string' && kwargs !== '{}') parts.push(kwargs)
  // Airflow 3's workload token (a credential) never shows, nor a token= keyword argument.
  return maskTokens(parts.join(', '))
}

/** A duration as `45s`, `3m 20s`, `2h 5m`, `3d 4h`. */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
}

/** A duration in its largest unit, for table cells: `45s`, `9m`, `3h`, `2d`. */
export function roughly(totalSeconds: number): string {
  // Rounded to the nearest unit: a 600 s countdown read a moment later is still "in 10m".
  const s = Math.max(0, Math.round(totalSeconds))
  if (s < 60) return `${s}s`
  if (Math.round(s / 60) < 60) return `${Math.round(s / 60)}m`
  if (Math.round(s / 3600) < 24) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86_400)}d`
}

/** When a task started, relative to now: `12s ago`. */
export function ago(epochSeconds: unknown, now: number): string {
  if (typeof epochSeconds !== 'number' || !Number.isFinite(epochSeconds)) return '-'
  return `${roughly(now / 1000 - epochSeconds)} ago`
}

/** An ETA as an operator scans it: `in 9m` within the hour, else its UTC time too (date when days off). */
export function etaText(eta: unknown, now: number): string {
  if (typeof eta !== 'string') return str(eta)
  const at = Date.parse(eta)
  if (Number.isNaN(at)) return eta
  const delta = (at - now) / 1000
  const rel = delta >= 0 ? `in ${roughly(delta)}` : `${roughly(-delta)} late`
  if (Math.abs(delta) < 3600) return rel
  const iso = new Date(at).toISOString()
  return Math.abs(delta) < 86_400 ? `${iso.slice(11, 16)}Z ${rel}` : `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`
}

/** One task in a task table: its node, its TaskInfo (or what came instead), and what the method adds. */
interface TaskItem {
  node: string
  info: unknown
  /** query_task: the id asked about, and its state. */
  id?: string
  state?: string
  /** The STARTED or ETA cell. */
  time?: string
  /** query_task: an id that no node knows. */
  unknown?: boolean
}

/** The Airflow task instance a TaskInfo runs, if it runs one. */
function airflowOf(info: unknown): AirflowTask | undefined {
  return isObj(info) ? airflowTask(info.name ?? info.type, info.args, info.kwargs) : undefined
}

/** Columns as wide as their cells, at most `cap`; printable ASCII measured as it is. */
function cellWidth(cell: Cell | undefined, cap: number): number {
  const raw = cell === undefined ? '' : typeof cell === 'string' ? cell : cell.text
  return raw.length <= cap && isPlain(raw) ? raw.length : displayWidth(clip(raw, cap))
}

/**
 * Whether every node name (column 0) shows whole at this width, with the columns that give way
 * before it (`before`) at their floors and the others (id, state, time) whole.
 */
function nodesFit(layout: Layout, before: number[], columns: number): boolean {
  const n = layout.head.length
  let need = 2 * (n - 1)
  for (let i = 0; i < n; i++) {
    const head = displayWidth(layout.head[i])
    const cap = before.includes(i) ? Math.max(layout.min?.[i] ?? 8, head) : columns
    let width = head
    for (const row of layout.rows) {
      width = Math.max(width, cellWidth(row[i], cap))
      if (width >= cap) break
    }
    need += Math.min(width, cap)
    if (need > columns - 1) return false
  }
  return true
}

/** The layout without column `i`: its cells, and what says how the others give way, renumbered. */
function withoutColumn(layout: Layout, i: number): Layout {
  const renumber = (k: number) => (k > i ? k - 1 : k)
  const shift = <T>(r: Record<number, T> | undefined) => r && Object.fromEntries(Object.entries(r).filter(([k]) => Number(k) !== i).map(([k, v]) => [renumber(Number(k)), v]))
  return {
    head: layout.head.filter((_, k) => k !== i),
    rows: layout.rows.map((r) => (i === 0 ? r.slice(1) : [...r.slice(0, i), ...r.slice(i + 1)])),
    shrink: layout.shrink.filter((k) => k !== i).map(renumber),
    min: shift(layout.min),
    cut: shift(layout.cut),
  }
}

/** A column as wide as its heading and cells need, at most `cap`. */
function columnWidth(layout: Layout, i: number, cap: number): number {
  let width = displayWidth(layout.head[i])
  for (const row of layout.rows) {
    width = Math.max(width, cellWidth(row[i], cap))
    if (width >= cap) return cap
  }
  return width
}

/** A run id keeps at least this much when it shows: its type and date (`scheduled__2026-12-03…`). */
const RUN_MIN = 22
/** The narrowest a DAG or task id becomes, on a terminal too narrow for them beside the id. */
const AIRFLOW_ID_MIN = 8

/**
 * `budget` columns shared by two columns `a` and `b` wide: each whole when both fit, else the
 * narrower whole when it takes at most half, else half each; never below their floors.
 */
function share(budget: number, a: number, b: number, floorA: number, floorB: number): [number, number] {
  if (a + b <= budget) return [a, b]
  const x = Math.min(a, Math.max(Math.floor(budget / 2), budget - b))
  return [Math.max(x, Math.min(a, floorA)), Math.max(budget - x, Math.min(b, floorB))]
}

/**
 * An Airflow task table laid out for the operator, who reads the DAG and the task first: the id,
 * DAG, task, try and time whole whenever they can be, and around them, the first layout that fits
 * of: the node column and the run (cut to no less than RUN_MIN); the node column without the run;
 * the node above its tasks and the run; the node above its tasks without the run, DAG and task
 * sharing what is left. Run ids are long and say the least at a glance.
 */
function airflowFit(layout: Layout, view: View): Layout | string {
  const at = (name: string) => layout.head.indexOf(name)
  const [run, dag, task] = [at('RUN'), at('DAG'), at('TASK')]
  const widths = layout.head.map((_, i) => columnWidth(layout, i, view.columns))
  const runFloor = Math.min(widths[run], RUN_MIN)
  const room = view.columns - 1
  const need = (node: boolean, runShown: boolean) =>
    widths.reduce((sum, w, i) => ((i === 0 && !node) || (i === run && !runShown) ? sum : sum + (i === run ? runFloor : w) + 2), -2)
  const withRun: Layout = {...layout, shrink: [run, ...layout.shrink.filter((i) => i !== run)], min: {...layout.min, [run]: runFloor}}
  if (need(true, true) <= room) return withRun
  const noRun = withoutColumn(layout, run)
  if (need(true, false) <= room) return noRun
  if (need(false, true) <= room) return byNode(withRun, view)
  const floor = (i: number) => Math.max(AIRFLOW_ID_MIN, displayWidth(layout.head[i]))
  const [d, t] = share(room - (need(false, false) - widths[dag] - widths[task]), widths[dag], widths[task], floor(dag), floor(task))
  const [nd, nt] = [dag - Number(dag > run), task - Number(task > run)]
  return byNode({...noRun, shrink: [nd, nt, ...noRun.shrink.filter((i) => i !== nd && i !== nt)], min: {...noRun.min, [nd]: d, [nt]: t}}, view)
}

/**
 * A task table whose node names cannot all show whole: each node's name on a line of its own above
 * its tasks (`── celery@host`), the table without the NODE column. Rows of a node are consecutive.
 */
function byNode(layout: Layout, view: View): string {
  const lines = renderTable(withoutColumn(layout, 0), view).split('\n')
  const c = style(view)
  const out = [lines[0]]
  let last: string | undefined
  layout.rows.forEach((row, k) => {
    const cell = row[0]
    const node = typeof cell === 'string' ? cell : cell.text
    if (k === 0 || node !== last) out.push(c.bold(`── ${node === '-' ? '(no node)' : clip(node, Math.max(1, view.columns - 4), 'middle')}`))
    last = node
    out.push(lines[k + 1])
  })
  return out.join('\n')
}

/**
 * The table of active, reserved, scheduled and query_task. Airflow task instances show as DAG,
 * TASK, RUN and TRY (when Airflow sends it) when every task is one, else as `dag=... task=...` in
 * ARGS. Arguments and long names give way first, then the node, the state and the time, the id
 * (which operators copy) last; and when the node names cannot show whole, they go above their
 * tasks instead of in a column. An Airflow table is laid out by airflowFit().
 */
function taskTable(items: TaskItem[], opts: {state?: boolean; time?: 'STARTED' | 'ETA'}, view: View): Layout | string {
  const decoded = items.map((t) => (t.unknown ? undefined : airflowOf(t.info)))
  const airflow = items.some((t) => !t.unknown) && items.every((t, k) => t.unknown || decoded[k] !== undefined)
  const tries = airflow && decoded.some((a) => a?.tryNumber !== undefined)
  const body = airflow ? ['DAG', 'TASK', 'RUN', ...(tries ? ['TRY'] : [])] : ['TASK', 'ARGS']
  const head = ['NODE', 'ID', ...(opts.state ? ['STATE'] : []), ...body, ...(opts.time ? [opts.time] : [])]
  const rows = items.map((t, k): Cell[] => {
    const info = t.info
    const lead = [t.node, t.id ?? (isObj(info) ? str(info.id) : '?'), ...(opts.state ? [t.state ?? '-'] : [])]
    const time = opts.time ? [isObj(info) ? t.time ?? '-' : ''] : []
    if (t.unknown) return [...lead, ...body.map(() => '-'), ...time]
    const a = decoded[k]
    if (airflow && a) return [...lead, a.dag, taskLabel(a), a.run, ...(tries ? [a.tryNumber === undefined ? '-' : String(a.tryNumber)] : []), ...time]
    if (!isObj(info)) return [...lead, '?', str(info), ...time]
    return [...lead, str(info.name ?? info.type), a ? airflowText(a) : argsText(info.args, info.kwargs), ...time]
  })
  const at = (name: string) => head.indexOf(name)
  const before = (airflow ? ['RUN', 'DAG', 'TASK'] : ['ARGS', 'TASK']).map(at)
  const layout: Layout = {
    head,
    rows,
    shrink: [...before, 0, ...['STATE', opts.time ?? '', 'TRY', 'ID'].map(at).filter((i) => i > 0)],
    min: Object.fromEntries([[at('ID'), 12], ...(airflow ? before.map((i) => [i, 12]) : [[at('TASK'), 12], [at('ARGS'), 6]])]),
    // Dotted task names (and task group ids) keep their last part; node names both ends.
    cut: {0: 'middle', [at('TASK')]: 'start'},
  }
  if (rows.length === 0) return layout
  if (airflow) return airflowFit(layout, view)
  return nodesFit(layout, before, view.columns) ? layout : byNode(layout, view)
}

const active: Spec = {
  accepts: Array.isArray,
  layout: (entries, ctx, view) =>
    taskTable(entries.flatMap((e) => (e.payload as unknown[]).map((t) => ({node: e.node, info: t, time: ago(isObj(t) ? t.time_start : undefined, ctx.now)}))), {time: 'STARTED'}, view),
  empty: 'no active tasks',
}

const reserved: Spec = {
  accepts: Array.isArray,
  layout: (entries, _ctx, view) => taskTable(entries.flatMap((e) => (e.payload as unknown[]).map((t) => ({node: e.node, info: t}))), {}, view),
  empty: 'no reserved tasks',
}

const scheduled: Spec = {
  accepts: Array.isArray,
  layout: (entries, ctx, view) =>
    taskTable(entries.flatMap((e) => (e.payload as unknown[]).map((s) => ({node: e.node, info: isObj(s) ? s.request : s, time: etaText(isObj(s) ? s.eta : undefined, ctx.now)}))), {time: 'ETA'}, view),
  empty: 'no scheduled tasks',
}

const revoked: Spec = {
  accepts: Array.isArray,
  layout: (entries) => ({
    head: ['NODE', 'REVOKED', 'IDS'],
    rows: entries.map((e) => [e.node, String((e.payload as unknown[]).length), (e.payload as unknown[]).map(str).join(', ') || '-']),
    shrink: [2, 0],
    cut: {0: 'middle'},
  }),
  empty: 'no revoked tasks',
}

/** Groups identical rows of several nodes into one, naming the nodes (or "all N"). */
function nodesText(nodes: string[], total: number): string {
  if (total > 1 && nodes.length === total) return `all ${total}`
  return nodes.join(', ')
}

function grouped(entries: Entry[], items: (payload: unknown) => [string, string][]): {key: string; value: string; nodes: string[]}[] {
  // By key, then by value: no id to build for each item.
  const groups = new Map<string, Map<string, {key: string; value: string; nodes: string[]; seen: Set<string>}>>()
  const all: {key: string; value: string; nodes: string[]}[] = []
  for (const e of entries) {
    for (const [key, value] of items(e.payload)) {
      let byValue = groups.get(key)
      if (byValue === undefined) groups.set(key, (byValue = new Map()))
      let g = byValue.get(value)
      if (g === undefined) {
        byValue.set(value, (g = {key, value, nodes: [], seen: new Set()}))
        all.push(g)
      }
      if (!g.seen.has(e.node)) {
        g.seen.add(e.node)
        g.nodes.push(e.node)
      }
    }
  }
  return all.sort((a, b) => collate(a.key, b.key) || collate(a.value, b.value)).map(({key, value, nodes}) => ({key, value, nodes}))
}

/** `registered` items are `name` or `name [k=v k=v]`. */
export function registeredItem(item: unknown): [string, string] {
  const s = str(item)
  const m = /^(\S+) \[(.*)\]$/.exec(s)
  return m ? [m[1], m[2]] : [s, '']
}

const registered: Spec = {
  accepts: Array.isArray,
  layout: (entries) => {
    const total = new Set(entries.map((e) => e.node)).size
    const groups = grouped(entries, (p) => (p as unknown[]).map(registeredItem))
    return {head: ['TASK', 'ATTRIBUTES', 'NODES'], rows: groups.map((g) => [g.key, g.value || '-', nodesText(g.nodes, total)]), shrink: [2, 1, 0], min: {0: 16}, cut: {0: 'start'}}
  },
  empty: 'no tasks registered',
}

const conf: Spec = {
  accepts: isObj,
  layout: (entries) => {
    const total = new Set(entries.map((e) => e.node)).size
    const groups = grouped(entries, (p) => Object.entries(p as Obj).map(([k, v]) => [k, str(v)]))
    return {head: ['SETTING', 'VALUE', 'NODES'], rows: groups.map((g) => [g.key, g.value, nodesText(g.nodes, total)]), shrink: [1, 2, 0], min: {0: 16, 1: 16}}
  },
  empty: 'no settings reported',
}

/** The pool kind, read from the shape of stats' pool section (Celery does not name it). */
export function poolKind(pool: Obj, pid: unknown): string {
  if ('threads' in pool) return 'threads'
  if ('writes' in pool) return 'prefork'
  if ('free-threads' in pool || 'running-threads' in pool) return 'green'
  if (Array.isArray(pool.processes) && pool.processes.length === 1 && pool.processes[0] === pid) return 'solo'
  return 'pool'
}

/** Bytes in KiB (as rusage's maxrss on Linux) to MiB. */
function kib(v: unknown): string {
  return typeof v === 'number' ? `${(v / 1024).toFixed(0)} MiB` : '-'
}

const stats: Spec = {
  accepts: isObj,
  layout: (entries) => ({
    head: ['NODE', 'PID', 'UPTIME', 'POOL', 'DONE', 'PREFETCH', 'MAX RSS'],
    rows: entries.map(({node, payload}) => {
      const s = payload as Obj
      const pool = isObj(s.pool) ? s.pool : {}
      const total = isObj(s.total) ? Object.values(s.total).reduce<number>((a, b) => a + (typeof b === 'number' ? b : 0), 0) : undefined
      // Celery never updates max-concurrency: the processes running now say the size (prefork, solo).
      const size = Array.isArray(pool.processes) && pool.processes.length > 0 ? pool.processes.length : pool['max-concurrency']
      const auto = isObj(s.autoscaler) ? ` (auto ${str(s.autoscaler.min)}-${str(s.autoscaler.max)})` : ''
      return [
        node,
        str(s.pid),
        typeof s.uptime === 'number' ? duration(s.uptime) : str(s.uptime),
        isObj(s.pool) ? `${poolKind(pool, s.pid)} ${size === undefined ? '?' : str(size)}${auto}` : '-',
        total === undefined ? '-' : String(total),
        str(s.prefetch_count),
        isObj(s.rusage) ? kib(s.rusage.maxrss) : '-',
      ]
    }),
    // On a narrow terminal every column gives way, down to its heading (the node name to 12).
    shrink: [0, 3, 2, 6, 4, 1, 5],
    min: {0: 12, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1},
    cut: {0: 'middle'},
  }),
  empty: 'no stats',
}

function exchangeText(q: Obj): string {
  const ex = q.exchange
  if (!isObj(ex)) return str(ex)
  const name = ex.name === '' ? '(default)' : str(ex.name)
  return ex.type ? `${name} (${str(ex.type)})` : name
}

const activeQueues: Spec = {
  accepts: Array.isArray,
  layout: (entries) => ({
    head: ['NODE', 'QUEUE', 'EXCHANGE', 'ROUTING KEY'],
    rows: entries.flatMap((e) => (e.payload as unknown[]).map((q) => (isObj(q) ? [e.node, str(q.name), exchangeText(q), str(q.routing_key)] : [e.node, str(q), '?', '?']))),
    shrink: [2, 3, 0, 1],
    min: {1: 12},
    cut: {0: 'middle'},
  }),
  empty: 'no queues consumed',
}

const queryTask: Spec = {
  accepts: isObj,
  layout: (entries, ctx, view) => {
    const items: TaskItem[] = []
    const found = new Set<string>()
    for (const e of entries) {
      for (const [id, value] of Object.entries(e.payload as Obj)) {
        found.add(id)
        const [state, info] = Array.isArray(value) ? value : ['?', value]
        items.push({node: e.node, id, state: str(state), info})
      }
    }
    for (const id of ctx.ids ?? []) if (!found.has(id)) items.push({node: '-', id, state: 'unknown', info: undefined, unknown: true})
    return taskTable(items, {state: true}, view)
  },
  empty: 'no node knows these tasks',
}

const clock: Spec = {
  accepts: (p) => isObj(p) && 'clock' in p,
  layout: (entries) => ({head: ['NODE', 'CLOCK'], rows: entries.map((e) => [e.node, str((e.payload as Obj).clock)]), shrink: [0, 1]}),
  empty: '',
}

const memsample: Spec = {
  accepts: (p) => p === null || typeof p === 'string',
  layout: (entries) => ({
    head: ['NODE', 'MEMORY'],
    rows: entries.map((e) => [e.node, e.payload === null ? 'n/a (psutil is not installed on the worker)' : str(e.payload)]),
    shrink: [1, 0],
  }),
  empty: '',
}

const objgraph: Spec = {
  accepts: (p) => isObj(p) && 'filename' in p,
  layout: (entries) => ({head: ['NODE', 'FILE (on the worker host)'], rows: entries.map((e) => [e.node, str((e.payload as Obj).filename)]), shrink: [1, 0]}),
  empty: '',
}

/** Multi-line text per node (report, memdump): a heading per node, the text as the worker wrote it. */
function blocks(read: (payload: unknown) => string): Spec['layout'] {
  return (entries, _ctx, view) => {
    const c = style(view)
    // Line breaks kept (it is a text), every other control character made harmless.
    const clean = (t: string) => t.split('\n').map((line) => safe(line.replace(/\r$/, ''))).join('\n')
    // trimEnd, not /\s+$/: that regular expression is quadratic in a long run of white space.
    return entries.map((e) => `${c.bold(`── ${safe(e.node)}`)}\n${clean(read(e.payload).replace(/^\n+/, '').trimEnd())}`).join('\n\n')
  }
}

const report: Spec = {
  accepts: (p) => isObj(p) && typeof p.ok === 'string',
  layout: blocks((p) => (p as {ok: string}).ok),
  empty: '',
}

const memdump: Spec = {
  accepts: (p) => typeof p === 'string',
  layout: blocks((p) => p as string),
  empty: '',
}

const ping: Spec = {
  accepts: isObj,
  layout: (entries) => ({head: ['NODE', 'REPLY'], rows: entries.map((e) => [e.node, str((e.payload as Obj).ok ?? e.payload)]), shrink: [1, 0]}),
  empty: '',
}

const SPECS: Record<string, Spec & {kind?: 'text'}> = {
  ping,
  active,
  reserved,
  scheduled,
  revoked,
  registered,
  stats,
  active_queues: activeQueues,
  query_task: queryTask,
  conf,
  clock,
  report: {...report, kind: 'text'},
  memsample,
  memdump: {...memdump, kind: 'text'},
  objgraph,
}

/**
 * Each method with a view of its own, and how it shows: a table, or (report, memdump) the text
 * each node sent under a heading per node. Every other method shows the reply table.
 */
export const INSPECT_VIEWS: Readonly<Record<string, 'table' | 'text'>> = Object.freeze(
  Object.fromEntries(Object.entries(SPECS).map(([method, spec]): [string, 'table' | 'text'] => [method, spec.kind ?? 'table'])),
)

/**
 * The human view of an inspect reply: the method's table over the nodes whose payload has the
 * expected shape, then a table of everything else — error replies, payloads of another shape,
 * silent nodes — with each one's latency and what it sent.
 */
export function inspectView(result: FleetResult, view: View, ctx: Context): string {
  const spec = Object.hasOwn(SPECS, result.method) ? SPECS[result.method] : undefined
  // Methods without a view of their own (control methods, custom ones via `call`): the reply table.
  if (!spec) return repliesTable(result, view)
  const c = style(view)
  const good: Entry[] = []
  const problems: Cell[][] = []
  for (const node of sorted(Object.keys(result.replies))) {
    const payloads = own(result.duplicateReplies, node) ?? [own(result.replies, node)]
    for (const payload of payloads) {
      const error = errorOf(payload)
      if (error !== undefined) problems.push([node, {text: 'ERROR', paint: c.red}, error])
      else if (spec.accepts(payload)) good.push({node, payload})
      else problems.push([node, {text: 'unexpected', paint: c.yellow}, maskTokens(JSON.stringify(payload) ?? 'undefined')])
    }
  }
  for (const node of answeredUnread(result)) problems.push([node, {text: 'ERROR', paint: c.red}, own(result.errors, node) ?? '-'])
  for (const node of result.missing) problems.push([node, {text: 'missing', paint: c.yellow}, 'no reply'])
  const out: string[] = []
  if (good.length > 0) {
    let laid: Layout | string
    try {
      laid = spec.layout(good, ctx, view)
    } catch {
      // A shape the layout did not foresee: show the payloads raw rather than fail.
      laid = {head: ['NODE', 'REPLY'], rows: good.map((e) => [e.node, maskTokens(JSON.stringify(e.payload) ?? '')]), shrink: [1, 0]}
    }
    const body = typeof laid === 'string' ? laid : fitTable(laid, view)
    if (body) out.push(body)
    else if (spec.empty) out.push(`${spec.empty} (${plural(new Set(good.map((e) => e.node)).size, 'node')})`)
  }
  if (problems.length > 0) {
    if (out.length > 0) out.push('')
    out.push(fitTable({head: ['NODE', 'STATUS', 'REPLY'], rows: problems, shrink: [2, 0], min: {2: 16}}, view))
  }
  return out.join('\n')
}
