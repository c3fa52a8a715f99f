import type {CeleryEvent} from '../protocol/event-stream.js'
import {matchesNode} from '../protocol/pattern.js'
import type {Target} from '../protocol/request.js'

/*
 * The fleet as its events show it, for `wfctl top`: one entry per worker, updated in place by each
 * worker event (O(1) an event, nothing sorted or allocated per event beyond the first sight of a
 * node), read as rows when a frame or a snapshot is wanted. Liveness is Celery's own rule
 * (events.state.Worker.alive): a worker is online until 2 x freq seconds after the last heartbeat
 * it was received at (heartbeat_expires with expire_window 200 %), and offline at once after a
 * `worker-offline` event. Pure: no I/O, no timers; every time is given by the caller.
 */

export type WorkerState = 'online' | 'offline' | 'no-heartbeat' | 'possibly-dead'

/** Celery's HEARTBEAT_EXPIRE_WINDOW (200 %): offline after this many heartbeat intervals of silence. */
export const EXPIRE_WINDOW = 2
/** The interval Celery assumes for a worker whose events never said (events.state.Worker's default). */
export const CELERY_DEFAULT_FREQ_S = 60
/** How far back the processed rate looks. */
export const RATE_WINDOW_MS = 10_000
/** Heartbeats kept per worker for the rate: enough for the window at one a second, and O(1) either way. */
const SAMPLES = 12
/** More workers than any fleet has: names beyond it are counted, not kept (a flood of made-up names). */
export const MAX_WORKERS = 100_000
/** Longer is not a node name (Celery's are host names): such an event is ignored. */
const MAX_NAME = 1024

/** A worker event as the event stream decodes it (src/protocol/event-stream.ts): typed envelope, fields as sent. */
export type LiveEvent = Pick<CeleryEvent, 'type' | 'hostname' | 'fields' | 'receivedAt'> & {timestamp?: number}

/** One worker as a frame or a snapshot shows it. */
export interface WorkerRow {
  node: string
  state: WorkerState
  /** Tasks it runs, as its last heartbeat said; null when none said. */
  active: number | null
  /** Tasks it accepted since it started, as its last heartbeat said. */
  processed: number | null
  /** Processed per second over the last RATE_WINDOW_MS (or three heartbeat intervals); null until two heartbeats apart, and when not online. */
  rate: number | null
  loadavg: [number, number, number] | null
  /** Seconds between its heartbeats, as it says. */
  freq: number | null
  swVer: string | null
  /** Seconds since its last heartbeat was received; null when none was. */
  heartbeatAgeSeconds: number | null
  /** Place in the natural order of node names (pod-2 before pod-100): a cheap tie-break. */
  rank: number
}

export interface Counts {
  online: number
  offline: number
  noHeartbeat: number
  possiblyDead: number
  /** Active tasks of the online workers. */
  active: number
  /** Processed per second of the online workers. */
  rate: number
}

export interface Snapshot {
  rows: WorkerRow[]
  counts: Counts
  /** When the next online worker turns offline by the rule, if none beats before (ms, the caller's clock); null when none is online. */
  nextExpiryMs: number | null
  /** Events ignored: not a worker event, or no usable node name, or past MAX_WORKERS. */
  ignored: number
}

interface Entry {
  node: string
  /** Lower-cased, for the filter. */
  lower: string
  /** When the last heartbeat (or worker-online) was received; undefined: never. */
  beatAt?: number
  /** A worker-offline came after the last heartbeat. */
  wentOffline: boolean
  /** Whether any worker event came at all (then it is not "no heartbeat" nor "possibly dead"). */
  heard: boolean
  freq: number | null
  active: number | null
  processed: number | null
  loadavg: [number, number, number] | null
  swVer: string | null
  /** Ring of (received at, processed) pairs. */
  samples: Float64Array
  first: number
  count: number
  rate: number | null
  /** Answered the ping at start. */
  pinged: boolean
  /** Its mailbox is bound in kombu's pidbox binding set (Redis). */
  bound: boolean
  rank: number
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

function count(v: unknown): number | undefined {
  const n = finite(v)
  return n !== undefined && n >= 0 ? Math.floor(n) : undefined
}

function loadOf(v: unknown): [number, number, number] | undefined {
  if (!Array.isArray(v) || v.length < 3) return undefined
  const [a, b, c] = [finite(v[0]), finite(v[1]), finite(v[2])]
  return a === undefined || b === undefined || c === undefined ? undefined : [a, b, c]
}

const DIGIT = (unit: number) => unit >= 48 && unit <= 57

/**
 * Natural order of node names: runs of digits compare by value (pod-2 before pod-10 before
 * pod-100, numbers of any length), other runs case-insensitively, then by code unit. No allocation.
 */
export function naturalCompare(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i)
    const cb = b.charCodeAt(j)
    if (DIGIT(ca) && DIGIT(cb)) {
      // Leading zeros skipped, then the longer run is the larger number, then digit by digit.
      let si = i
      let sj = j
      while (si < a.length && a.charCodeAt(si) === 48) si++
      while (sj < b.length && b.charCodeAt(sj) === 48) sj++
      let ei = si
      let ej = sj
      while (ei < a.length && DIGIT(a.charCodeAt(ei))) ei++
      while (ej < b.length && DIGIT(b.charCodeAt(ej))) ej++
      if (ei - si !== ej - sj) return ei - si - (ej - sj)
      for (let k = 0; k < ei - si; k++) {
        const d = a.charCodeAt(si + k) - b.charCodeAt(sj + k)
        if (d !== 0) return d
      }
      i = ei
      j = ej
      continue
    }
    const la = ca >= 65 && ca <= 90 ? ca + 32 : ca
    const lb = cb >= 65 && cb <= 90 ? cb + 32 : cb
    if (la !== lb) return la - lb
    i++
    j++
  }
  if (i < a.length || j < b.length) return a.length - i - (b.length - j)
  return a < b ? -1 : a > b ? 1 : 0
}

export interface LiveOptions {
  /** When watching began (the caller's clock, ms). */
  startedAtMs: number
  /**
   * How long after the start a worker known only from the ping or its mailbox is left unjudged:
   * one heartbeat interval, so that "no heartbeat" and "possibly dead" are claimed only after a
   * heartbeat had time to come.
   */
  graceMs: number
  /** Only the nodes it keeps are shown (`wfctl inspect -d` / `--pattern`); events of the others are dropped, uncounted. */
  scope?: (node: string) => boolean
}

/**
 * The nodes a target reaches, as a test of one name: the `-d` names, or `--pattern` as a worker
 * matches it (kombu's rule). Undefined for a broadcast: every node.
 */
export function scopeOf(target: Target): ((node: string) => boolean) | undefined {
  const names = target.destination ?? []
  if (names.length > 0) {
    const named = new Set(names)
    return (node) => named.has(node)
  }
  const pattern = target.pattern
  if (pattern === undefined) return undefined
  const matcher = target.matcher ?? 'glob'
  return (node) => {
    try {
      return matchesNode(pattern, matcher, node)
    } catch {
      // A name the pattern cannot be applied to is not one it reaches.
      return false
    }
  }
}

/** The fleet's live state. Feed it events, the ping's answers and the bound mailboxes; read rows. */
export class LiveFleet {
  private readonly entries = new Map<string, Entry>()
  /** Entries in natural order of their names, rebuilt only when a node was added since. */
  private ordered: Entry[] = []
  private orderDirty = false
  private ignored = 0
  /** Names outside the scope already seen: dropped without asking the scope again (bounded as the entries are). */
  private readonly outside = new Set<string>()
  /** Bumped by every change: a view redraws only when it moved. */
  version = 0

  constructor(private readonly options: LiveOptions) {}

  get size(): number {
    return this.entries.size
  }

  private entry(node: unknown): Entry | undefined {
    if (typeof node !== 'string' || node === '' || node.length > MAX_NAME) return undefined
    let e = this.entries.get(node)
    if (e) return e
    if (this.entries.size >= MAX_WORKERS) return undefined
    const scope = this.options.scope
    if (scope && (this.outside.has(node) || !scope(node))) {
      if (this.outside.size < MAX_WORKERS) this.outside.add(node)
      return undefined
    }
    e = {
      node, lower: node.toLowerCase(), wentOffline: false, heard: false,
      freq: null, active: null, processed: null, loadavg: null, swVer: null,
      samples: new Float64Array(2 * SAMPLES), first: 0, count: 0, rate: null,
      pinged: false, bound: false, rank: this.entries.size,
    }
    this.entries.set(node, e)
    this.ordered.push(e)
    this.orderDirty = true
    return e
  }

  /** One worker event (its receivedAt on the caller's clock). Any other event is ignored (counted). */
  apply(event: LiveEvent): void {
    const type = event.type
    if (type !== 'worker-heartbeat' && type !== 'worker-online' && type !== 'worker-offline') return void this.ignored++
    const e = this.entry(event.hostname)
    if (!e) {
      if (!this.outside.has(event.hostname as string)) this.ignored++
      return
    }
    const atMs = event.receivedAt
    const f = event.fields
    this.version++
    e.heard = true
    // As Celery does, the fields are applied whatever the event; only a timestamped online or heartbeat is a heartbeat.
    const freq = finite(f.freq)
    if (freq !== undefined && freq > 0) e.freq = freq
    const active = count(f.active)
    if (active !== undefined) e.active = active
    const load = loadOf(f.loadavg)
    if (load) e.loadavg = load
    if (typeof f.sw_ver === 'string') e.swVer = f.sw_ver.slice(0, 64)
    const processed = count(f.processed)
    if (type === 'worker-offline') {
      e.wentOffline = true
      e.rate = null
      e.count = 0
      if (processed !== undefined) e.processed = processed
      return
    }
    if (processed !== undefined) this.sample(e, processed, atMs)
    if (finite(event.timestamp) === undefined) return
    if (e.beatAt === undefined || atMs >= e.beatAt) e.beatAt = atMs
    e.wentOffline = false
  }

  /** Several events, as the stream delivers them. */
  applyAll(events: readonly LiveEvent[]): void {
    for (let i = 0; i < events.length; i++) this.apply(events[i])
  }

  /** The processed count at `atMs`: into the ring, and the rate over the window from it. */
  private sample(e: Entry, processed: number, atMs: number): void {
    // Fewer than before: the worker restarted under the same name; its old counts say nothing now.
    if (e.processed !== null && processed < e.processed) e.count = 0
    e.processed = processed
    const s = e.samples
    if (e.count === SAMPLES) {
      e.first = (e.first + 1) % SAMPLES
      e.count--
    }
    const at = (e.first + e.count) % SAMPLES
    s[2 * at] = atMs
    s[2 * at + 1] = processed
    e.count++
    // At least three intervals, so that a worker beating less often than the window still has a rate.
    const window = Math.max(RATE_WINDOW_MS, 3 * (e.freq ?? 0) * 1000)
    while (e.count > 1 && atMs - s[2 * e.first] > window) {
      e.first = (e.first + 1) % SAMPLES
      e.count--
    }
    const span = atMs - s[2 * e.first]
    e.rate = e.count > 1 && span > 0 ? ((processed - s[2 * e.first + 1]) * 1000) / span : null
  }

  /** The nodes that answered the ping at start. */
  pinged(nodes: Iterable<string>): void {
    for (const node of nodes) {
      const e = this.entry(node)
      if (e && !e.pinged) {
        e.pinged = true
        this.version++
      }
    }
  }

  /** The nodes whose mailbox is bound (Redis): replaces what was known before (a warm shutdown unbinds). */
  mailboxes(nodes: Iterable<string>): void {
    const now = new Set<string>()
    for (const node of nodes) {
      const e = this.entry(node)
      if (!e) continue
      now.add(node)
      if (!e.bound) {
        e.bound = true
        this.version++
      }
    }
    for (const e of this.entries.values()) {
      if (e.bound && !now.has(e.node)) {
        e.bound = false
        this.version++
      }
    }
  }

  /** The state of one entry at `now`; undefined while it is not to be shown yet (or no more). */
  private stateOf(e: Entry, now: number): WorkerState | undefined {
    if (e.beatAt !== undefined || e.heard) {
      if (e.wentOffline || e.beatAt === undefined) return e.wentOffline || !e.pinged ? 'offline' : 'no-heartbeat'
      return now < this.expiry(e) ? 'online' : 'offline'
    }
    if (now < this.options.startedAtMs + this.options.graceMs) return undefined
    if (e.pinged) return 'no-heartbeat'
    if (e.bound) return 'possibly-dead'
    return undefined
  }

  private expiry(e: Entry): number {
    return e.beatAt! + (e.freq ?? CELERY_DEFAULT_FREQ_S) * EXPIRE_WINDOW * 1000
  }

  /** Every worker to show at `now`, in natural order of names, with the counts. O(workers). */
  snapshot(now: number): Snapshot {
    if (this.orderDirty) {
      this.ordered.sort((a, b) => naturalCompare(a.node, b.node))
      this.ordered.forEach((e, i) => (e.rank = i))
      this.orderDirty = false
    }
    const rows: WorkerRow[] = []
    const counts: Counts = {online: 0, offline: 0, noHeartbeat: 0, possiblyDead: 0, active: 0, rate: 0}
    let nextExpiryMs: number | null = null
    for (const e of this.ordered) {
      const state = this.stateOf(e, now)
      if (state === undefined) continue
      const online = state === 'online'
      if (online) {
        counts.online++
        counts.active += e.active ?? 0
        counts.rate += e.rate ?? 0
        const expires = this.expiry(e)
        if (nextExpiryMs === null || expires < nextExpiryMs) nextExpiryMs = expires
      } else if (state === 'offline') counts.offline++
      else if (state === 'no-heartbeat') counts.noHeartbeat++
      else counts.possiblyDead++
      rows.push({
        node: e.node,
        state,
        active: e.active,
        processed: e.processed,
        rate: online ? e.rate : null,
        loadavg: e.loadavg,
        freq: e.freq,
        swVer: e.swVer,
        heartbeatAgeSeconds: e.beatAt === undefined ? null : Math.max(0, Math.round((now - e.beatAt) / 100) / 10),
        rank: e.rank,
      })
    }
    return {rows, counts, nextExpiryMs, ignored: this.ignored}
  }
}

// ─── what a view shows of the rows ─────────────────────────────────────────────────────────────

export type SortColumn = 'node' | 'state' | 'active' | 'processed' | 'rate' | 'load' | 'version' | 'age'

export interface Arrangement {
  /** Words that must each appear in the node name or its state (case-insensitive). */
  filter?: string
  sort?: SortColumn
  /** Largest first (the default for the numeric columns is decided by the caller). */
  descending?: boolean
}

const STATE_ORDER: Record<WorkerState, number> = {'possibly-dead': 0, offline: 1, 'no-heartbeat': 2, online: 3}
const STATE_WORDS: Record<WorkerState, string> = {online: 'online', offline: 'offline', 'no-heartbeat': 'no heartbeat', 'possibly-dead': 'possibly dead'}

/** How a state is written on screen (and matched by the filter). */
export function stateWord(state: WorkerState): string {
  return STATE_WORDS[state]
}

/** The filter's words, lower-cased: each must appear in a row's node name or state. */
export function filterTerms(filter: string | undefined): string[] {
  return (filter ?? '').toLowerCase().split(/\s+/).filter((t) => t !== '')
}

/** Whether a row passes the filter's words. */
export function matchesFilter(row: WorkerRow, terms: string[]): boolean {
  if (terms.length === 0) return true
  const node = row.node.toLowerCase()
  const state = STATE_WORDS[row.state]
  return terms.every((t) => node.includes(t) || state.includes(t) || row.state.includes(t))
}

function numeric(row: WorkerRow, column: SortColumn): number | null {
  switch (column) {
    case 'active':
      return row.active
    case 'processed':
      return row.processed
    case 'rate':
      return row.rate
    case 'load':
      return row.loadavg ? row.loadavg[0] : null
    case 'age':
      return row.heartbeatAgeSeconds
    case 'state':
      return STATE_ORDER[row.state]
    default:
      return null
  }
}

/**
 * The rows filtered and sorted as a view asks: by name in natural order, or by a column with ties
 * (and rows without a value, always last) in name order. Rows arrive in name order already, so
 * sorting by name costs nothing. O(n log n) a frame, never per event.
 */
export function arrange(rows: WorkerRow[], how: Arrangement): WorkerRow[] {
  const terms = filterTerms(how.filter)
  const kept = terms.length === 0 ? rows.slice() : rows.filter((r) => matchesFilter(r, terms))
  const column = how.sort ?? 'node'
  const sign = how.descending ? -1 : 1
  if (column === 'node') return how.descending ? kept.reverse() : kept
  if (column === 'version') {
    return kept.sort((a, b) => {
      if (a.swVer === b.swVer) return a.rank - b.rank
      if (a.swVer === null) return 1
      if (b.swVer === null) return -1
      return sign * naturalCompare(a.swVer, b.swVer) || a.rank - b.rank
    })
  }
  return kept.sort((a, b) => {
    const x = numeric(a, column)
    const y = numeric(b, column)
    if (x === y) return a.rank - b.rank
    if (x === null) return 1
    if (y === null) return -1
    return sign * (x - y) || a.rank - b.rank
  })
}

// ─── the --once --json shape ───────────────────────────────────────────────────────────────────

export interface TopJsonWorker {
  node: string
  online: boolean
  state: WorkerState
  active: number | null
  processed: number | null
  loadavg: [number, number, number] | null
  freq: number | null
  heartbeatAgeSeconds: number | null
  swVer: string | null
}

export function jsonWorker(row: WorkerRow): TopJsonWorker {
  return {
    node: row.node, online: row.state === 'online', state: row.state, active: row.active, processed: row.processed,
    loadavg: row.loadavg, freq: row.freq, heartbeatAgeSeconds: row.heartbeatAgeSeconds, swVer: row.swVer,
  }
}
