import {InterruptedError, WfctlError} from '../errors.js'
import {positiveInteger, word} from '../fleet/arguments.js'
import {queuesOf, type DrainProgress, type DrainResult} from '../fleet/drain.js'
import {arrange, naturalCompare, type LiveFleet, type SortColumn, type WorkerRow} from '../fleet/live.js'
import {isDestructive, whom} from '../fleet/methods.js'
import {own, type FleetResult} from '../fleet/outcome.js'
import {parseDestinations} from '../fleet/roster.js'
import type {ShutdownResult} from '../fleet/shutdown.js'
import {renderTop, type Detail, type Footer, type QueueLine, type Section} from '../render/top.js'
import type {MenuOutcome, MenuRequest, ShownReply} from './explorer.js'
import {Screen, type Key, type TerminalIO} from './screen.js'

/*
 * The loop of `wfctl top` (README.md#live-view-wfctl-top): the fleet's rows from the live model,
 * the queues under them, keys to move, filter, sort, select, look closer and act. It reaches the
 * fleet only through the operations it is given (the command holds the connection), confirms as
 * the commands do (isDestructive), and draws at most a few frames a second however fast events come.
 */

export interface TopOps {
  /** The masked broker URL, for the title and the confirmations. */
  broker: string
  live: LiveFleet
  io: TerminalIO
  color: boolean
  /** One request to these nodes (the command serializes them on its one connection and audits changes). */
  request(method: string, args: Record<string, unknown>, nodes: string[]): Promise<FleetResult>
  /** The same shutdown as `wfctl control shutdown -d NODES`, verified. */
  shutdown(nodes: string[]): Promise<ShutdownResult>
  /** The same drain as `wfctl control drain -d NODES`; `signal` ends its wait early (when the view is left). */
  drain(nodes: string[], onProgress: (progress: DrainProgress) => void, signal: AbortSignal): Promise<DrainResult>
  /** Who is there besides those that beat: the one ping at start. What it resolves with is said on the bottom line. */
  discover?(): Promise<string | void>
  /** The queue depths now; `again` after an action that may have changed who consumes what. */
  queues(again?: boolean): Promise<QueueLine[]>
  /** Whatever else is read again with the queues (the bound mailboxes, on Redis). */
  refresh?(): Promise<void>
  /** One line for what an action did. */
  describe: {
    result(method: string, nodes: string[], result: FleetResult): string
    shutdown(result: ShutdownResult): string
    drain(result: DrainResult): string
    progress(progress: DrainProgress): string
  }
  /** Aborted by SIGINT, SIGTERM or SIGHUP from outside, and by interrupt(). */
  signal: AbortSignal
  /** Ctrl-C pressed: leave at once (exit 130). */
  interrupt(): void
  /** How often the queue depths are read again. */
  queueRefreshMs?: number
  /** The live model's clock (performance.now by default). */
  now?: () => number
  /** What the view is scoped to (`wfctl inspect -d` / `--pattern`), in words, for the title line. */
  scope?: string
  /**
   * The explorer's menu (`m`) for these nodes: views and every action, asked on the main screen.
   * The view gives the terminal up meanwhile and takes it back when it resolves.
   */
  menu?(request: MenuRequest): Promise<MenuOutcome>
}

export interface TopOutcome {
  /** Every drain run from the view, finished or cut short: their restore lines are printed after it. */
  drains: DrainResult[]
}

type Mode =
  | {kind: 'list'}
  | {kind: 'filter'; before: string}
  | {kind: 'prompt'; label: string; input: string; typed: string; cycle: number; complete: () => string[]; submit: (value: string) => void}
  | {kind: 'confirm'; question: string; yes: () => void}

/** Frames caused by events and the clock: at most this often. */
const FRAME_MS = 250
/** Frames caused by a key: soon, but not one per key of a held-down arrow. */
const KEY_FRAME_MS = 40
/** Ages change by the second. */
const TICK_MS = 1000
const QUEUE_REFRESH_MS = 3000
/** A message stays this long unless another replaces it. */
const MESSAGE_MS = 20_000
const SORTS: SortColumn[] = ['node', 'state', 'active', 'processed', 'rate', 'load', 'version', 'age']
/** Sorting by these shows the largest first (the busiest worker, the oldest heartbeat). */
const LARGEST_FIRST = new Set<SortColumn>(['active', 'processed', 'rate', 'load', 'age'])
/** A worker applies a pool or consumer change a moment after it replied. */
const APPLIED_MS = 1000
const SOLO_HINT = 'no answer within the timeout (a solo pool busy with a task answers only between tasks)'

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export class TopView {
  private readonly screen: Screen
  private readonly now: () => number
  private sort: SortColumn = 'node'
  private descending = false
  private filter = ''
  private cursorNode?: string
  private cursorIndex = 0
  private scroll = 0
  private pageRows = 10
  private readonly selected = new Set<string>()
  private detail?: Detail
  private help = false
  private mode: Mode = {kind: 'list'}
  private message?: {text: string; error: boolean; at: number}
  private readonly busy = new Map<number, string>()
  private busyId = 0
  private readonly running = new Set<Promise<unknown>>()
  private queues: QueueLine[] = []
  private queuesAt?: number
  private queueNote?: string
  private readingQueues = false
  private lastDraw = -Infinity
  private drawTimer?: NodeJS.Timeout
  private expiryTimer?: NodeJS.Timeout
  private timers: NodeJS.Timeout[] = []
  private leaving = false
  private ended = false
  /** The menu has the terminal: no frames, no queue reads (events still reach the live model). */
  private suspended = false
  /** Ends the waits of actions under way (a drain) when the view is left. */
  private readonly local = new AbortController()
  private readonly drains: DrainResult[] = []
  private settle: (error?: Error) => void = () => {}
  /** The rows of the last frame, in their order: what the cursor keys move over. */
  private rowsShown: WorkerRow[] = []
  /** The filter and sort rowsShown was arranged by: keys typed faster than a frame must not act on an older one. */
  private arrangedBy = ''

  constructor(private readonly ops: TopOps) {
    this.now = ops.now ?? (() => performance.now())
    this.screen = new Screen(ops.io, {
      key: (key, text) => this.onKey(key, text),
      resize: () => this.draw(),
      failed: (error) => this.end(error),
    })
  }

  /** Runs until `q` (resolves) or an interrupt (rejects with InterruptedError); the terminal is given back either way. */
  run(): Promise<TopOutcome> {
    return new Promise<TopOutcome>((resolve, reject) => {
      const signal = this.ops.signal
      const onAbort = () => this.end(new InterruptedError(String(signal.reason ?? 'SIGINT')))
      this.settle = (error) => {
        signal.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve({drains: this.drains})
      }
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, {once: true})
      try {
        this.screen.start()
        this.draw()
        this.timers.push(setInterval(() => this.requestDraw(), TICK_MS))
        if (this.ops.discover) {
          this.track(this.ops.discover().then((note) => {
            if (note) this.say(note)
          }))
        }
        this.refreshQueues()
        this.timers.push(setInterval(() => this.refreshQueues(), this.ops.queueRefreshMs ?? QUEUE_REFRESH_MS))
      } catch (error) {
        this.end(error as Error)
      }
    })
  }

  /**
   * What the view did, once every action under way has ended: after an interrupt the requests end at
   * once, and a drain cut short still has restore lines to print.
   */
  async outcome(): Promise<TopOutcome> {
    await Promise.allSettled([...this.running])
    return {drains: this.drains}
  }

  /** Ends the view with an error (the broker was lost): the terminal is given back first. */
  fail(error: Error): void {
    this.end(error)
  }

  /** The live model changed (events arrived): a frame soon, within the frame rate. */
  changed(): void {
    this.requestDraw()
  }

  private end(error?: Error): void {
    if (this.ended) return
    this.ended = true
    for (const t of this.timers) clearTimeout(t)
    clearTimeout(this.drawTimer)
    clearTimeout(this.expiryTimer)
    this.local.abort('left')
    this.screen.stop()
    this.settle(error)
  }

  /** `q`: whatever is under way ends first (a drain at its next pause), then the view. */
  private async leave(): Promise<void> {
    if (this.leaving) return
    this.leaving = true
    this.local.abort('left')
    if (this.running.size > 0) {
      this.say(`leaving: waiting for ${this.busy.size > 0 ? [...this.busy.values()][0] : 'the last request'} to end (Ctrl-C leaves at once)`)
      this.draw()
    }
    await Promise.allSettled([...this.running])
    this.end()
  }

  /** Runs `work` after `ms`, unless the view ended. */
  private later(ms: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer)
      if (!this.ended && !this.leaving) work()
    }, ms)
    this.timers.push(timer)
  }

  private track(work: Promise<unknown>): void {
    const p = work.catch(() => {}).finally(() => {
      this.running.delete(p)
      this.requestDraw()
    })
    this.running.add(p)
  }

  private say(text: string, error = false): void {
    this.message = {text, error, at: this.now()}
  }

  // ─── frames ─────────────────────────────────────────────────────────────────────────────────

  private requestDraw(gap = FRAME_MS): void {
    if (this.ended || this.suspended) return
    const wait = Math.max(0, this.lastDraw + gap - this.now())
    if (this.drawTimer) {
      // A key wants its frame sooner than the one already planned for an event.
      if (gap >= FRAME_MS) return
      clearTimeout(this.drawTimer)
    }
    this.drawTimer = setTimeout(() => {
      this.drawTimer = undefined
      this.draw()
    }, wait)
  }

  private draw(): void {
    if (this.ended || this.suspended) return
    clearTimeout(this.drawTimer)
    this.drawTimer = undefined
    const now = this.now()
    this.lastDraw = now
    const snap = this.ops.live.snapshot(now)
    const rows = this.arrangeRows(snap.rows)
    if (this.detail) this.detail.row = snap.rows.find((r) => r.node === this.detail!.node)
    if (this.message && now - this.message.at > MESSAGE_MS) this.message = undefined
    const frame = renderTop({
      broker: this.ops.broker,
      scope: this.ops.scope,
      rows,
      total: snap.rows.length,
      counts: snap.counts,
      cursor: this.cursorIndex,
      scroll: this.scroll,
      selected: this.selected,
      sort: this.sort,
      descending: this.descending,
      filter: this.filter,
      queues: {lines: this.queues, ageSeconds: this.queuesAt === undefined ? null : (now - this.queuesAt) / 1000, note: this.queueNote},
      detail: this.detail,
      help: this.help,
      footer: this.footer(),
      busy: this.busy.size > 0 ? [...this.busy.values()].join(' · ') : undefined,
      ignored: snap.ignored,
      nowS: Date.now() / 1000,
    }, {width: this.screen.width, height: this.screen.height, color: this.ops.color})
    this.scroll = frame.scroll
    this.pageRows = frame.pageRows
    this.screen.draw(frame.lines)
    // The next worker to turn offline does so on time, not at the next tick.
    clearTimeout(this.expiryTimer)
    if (snap.nextExpiryMs !== null) this.expiryTimer = setTimeout(() => this.requestDraw(), Math.max(0, snap.nextExpiryMs - now) + 5)
  }

  /** The rows in the order the filter and sort give, the cursor kept on its worker while the rows move under it. */
  private arrangeRows(all: WorkerRow[]): WorkerRow[] {
    const rows = arrange(all, {filter: this.filter, sort: this.sort, descending: this.descending})
    let at = this.cursorNode === undefined ? -1 : rows.findIndex((r) => r.node === this.cursorNode)
    if (at < 0) at = Math.min(this.cursorIndex, rows.length - 1)
    this.cursorIndex = Math.max(0, at)
    this.cursorNode = rows[this.cursorIndex]?.node
    this.rowsShown = rows
    this.arrangedBy = this.arrangement()
    return rows
  }

  private arrangement(): string {
    return `${this.sort}\0${this.descending}\0${this.filter}`
  }

  private footer(): Footer {
    const m = this.mode
    if (m.kind === 'filter') return {kind: 'filter', input: this.filter}
    if (m.kind === 'prompt') return {kind: 'prompt', label: m.label, input: m.input}
    if (m.kind === 'confirm') return {kind: 'confirm', question: m.question}
    if (this.message) return {kind: 'message', text: this.message.text, error: this.message.error}
    return {kind: 'keys'}
  }

  // ─── the queues ─────────────────────────────────────────────────────────────────────────────

  private refreshQueues(again = false): void {
    if (this.readingQueues || this.leaving || this.ended || this.suspended) return
    this.readingQueues = true
    this.track((async () => {
      try {
        this.queues = await this.ops.queues(again)
        this.queuesAt = this.now()
        this.queueNote = undefined
      } catch (error) {
        if (!(error instanceof InterruptedError)) this.queueNote = `cannot read the queues: ${errorText(error)}`
      }
      try {
        await this.ops.refresh?.()
      } catch {
        // Only the "possibly dead" rows depend on it: they stay as they were.
      }
      this.readingQueues = false
    })())
  }

  // ─── keys ───────────────────────────────────────────────────────────────────────────────────

  private onKey(key: Key, text: string | undefined): void {
    if (this.ended) return
    if (key.ctrl && key.name === 'c') return this.ops.interrupt()
    // Escape and a key typed right after it reach readline as one "meta" key: they are two.
    const seq = key.sequence
    if (key.meta && !key.ctrl && seq !== undefined && seq.length === 2 && seq[0] === '\u001B') {
      this.onKey({name: 'escape', sequence: '\u001B'}, undefined)
      return this.onKey({name: key.name, sequence: seq[1], shift: key.shift}, seq[1])
    }
    const m = this.mode
    if (m.kind === 'filter') this.filterKey(key, text)
    else if (m.kind === 'prompt') this.promptKey(m, key, text)
    else if (m.kind === 'confirm') this.confirmKey(m, key, text)
    else if (!this.leaving) this.listKey(key, text)
    this.requestDraw(KEY_FRAME_MS)
  }

  private printable(key: Key, text: string | undefined): string | undefined {
    if (key.ctrl || key.meta || text === undefined || text.length !== 1) return undefined
    const code = text.charCodeAt(0)
    return code >= 0x20 && code !== 0x7f ? text : undefined
  }

  private filterKey(key: Key, text: string | undefined): void {
    if (key.name === 'return' || key.name === 'enter') this.mode = {kind: 'list'}
    else if (key.name === 'escape') {
      this.filter = ''
      this.mode = {kind: 'list'}
    } else if (key.name === 'backspace') this.filter = this.filter.slice(0, -1)
    else if (key.ctrl && key.name === 'u') this.filter = ''
    else {
      const ch = this.printable(key, text)
      if (ch !== undefined && this.filter.length < 200) this.filter += ch
    }
  }

  private promptKey(m: Extract<Mode, {kind: 'prompt'}>, key: Key, text: string | undefined): void {
    if (key.name === 'return' || key.name === 'enter') {
      this.mode = {kind: 'list'}
      try {
        m.submit(m.input.trim())
      } catch (error) {
        if (!(error instanceof WfctlError)) throw error
        this.say(`not sent: ${error.message}`, true)
      }
    } else if (key.name === 'escape') {
      this.mode = {kind: 'list'}
      this.say('cancelled: nothing was sent')
    } else if (key.name === 'tab') {
      const candidates = m.complete().filter((c) => c.startsWith(m.typed))
      if (candidates.length > 0) {
        m.input = candidates[m.cycle % candidates.length]
        m.cycle++
      }
    } else if (key.name === 'backspace') {
      m.input = m.input.slice(0, -1)
      m.typed = m.input
      m.cycle = 0
    } else if (key.ctrl && key.name === 'u') {
      m.input = m.typed = ''
      m.cycle = 0
    } else {
      const ch = this.printable(key, text)
      if (ch !== undefined && m.input.length < 255) {
        m.input += ch
        m.typed = m.input
        m.cycle = 0
      }
    }
  }

  private confirmKey(m: Extract<Mode, {kind: 'confirm'}>, key: Key, text: string | undefined): void {
    this.mode = {kind: 'list'}
    if (text === 'y' || text === 'Y') m.yes()
    else this.say('not confirmed: nothing was sent')
  }

  private listKey(key: Key, text: string | undefined): void {
    const ch = this.printable(key, text)
    if (ch === 'q') return void this.leave()
    if (this.help) {
      if (key.name === 'escape' || ch === '?' || key.name === 'return') this.help = false
      return
    }
    if (ch === '?') return void (this.help = true)
    if (this.detail) return this.detailKey(key, ch)
    // The filter or sort changed since the last frame (`/x` Enter Enter, typed within one frame):
    // the cursor, Enter and the selection act on the rows as they are now, not on the frame before.
    if (this.arrangedBy !== this.arrangement()) this.arrangeRows(this.ops.live.snapshot(this.now()).rows)
    const rows = this.rowsShown
    const move = (to: number) => {
      this.cursorIndex = Math.max(0, Math.min(rows.length - 1, to))
      this.cursorNode = rows[this.cursorIndex]?.node
    }
    switch (key.name) {
      case 'up':
        return move(this.cursorIndex - 1)
      case 'down':
        return move(this.cursorIndex + 1)
      case 'pageup':
        return move(this.cursorIndex - this.pageRows)
      case 'pagedown':
        return move(this.cursorIndex + this.pageRows)
      case 'home':
        return move(0)
      case 'end':
        return move(rows.length - 1)
      case 'return':
      case 'enter':
        return this.openDetail()
      case 'escape':
        if (this.message) this.message = undefined
        else if (this.selected.size > 0) this.selected.clear()
        else this.filter = ''
        return
      case 'space': {
        const node = this.cursorNode
        if (node === undefined) return
        if (this.selected.has(node)) this.selected.delete(node)
        else this.selected.add(node)
        return move(this.cursorIndex + 1)
      }
    }
    switch (ch) {
      case 'k':
        return move(this.cursorIndex - 1)
      case 'j':
        return move(this.cursorIndex + 1)
      case 'g':
        return move(0)
      case 'G':
        return move(rows.length - 1)
      case '/':
        this.mode = {kind: 'filter', before: this.filter}
        return
      case '<':
      case '>': {
        const i = SORTS.indexOf(this.sort)
        this.sort = SORTS[(i + (ch === '>' ? 1 : SORTS.length - 1)) % SORTS.length]
        this.descending = LARGEST_FIRST.has(this.sort)
        return
      }
      case 'i':
        this.descending = !this.descending
        return
      case 'A':
        for (const r of rows) this.selected.add(r.node)
        return
      case 'r':
        return this.refreshQueues(true)
      default:
        if (ch !== undefined) this.action(ch)
    }
  }

  private detailKey(key: Key, ch: string | undefined): void {
    const d = this.detail!
    if (key.name === 'escape' || key.name === 'return' || key.name === 'enter' || key.name === 'left' || key.name === 'backspace') {
      this.detail = undefined
      return
    }
    if (key.name === 'up' || ch === 'k') d.scroll = Math.max(0, d.scroll - 1)
    else if (key.name === 'down' || ch === 'j') d.scroll += 1
    else if (key.name === 'pageup') d.scroll = Math.max(0, d.scroll - this.pageRows)
    else if (key.name === 'pagedown') d.scroll += this.pageRows
    else if (ch === 'r') this.fetchDetail(d, ['active', 'queues', 'stats'])
    else if (ch !== undefined) this.action(ch)
  }

  // ─── the detail pane ────────────────────────────────────────────────────────────────────────

  private openDetail(): void {
    const node = this.cursorNode
    if (node === undefined) return
    this.detail = {node, active: {status: 'loading'}, queues: {status: 'loading'}, stats: {status: 'loading'}, scroll: 0}
    this.fetchDetail(this.detail, ['active', 'queues', 'stats'])
  }

  /** One targeted request per part asked for, each shown as it comes. */
  private fetchDetail(d: Detail, parts: ('active' | 'queues' | 'stats')[]): void {
    const methods = {active: 'active', queues: 'active_queues', stats: 'stats'} as const
    for (const part of parts) {
      d[part] = {status: 'loading'}
      this.track((async () => {
        let section: Section
        try {
          const result = await this.ops.request(methods[part], {}, [d.node])
          const error = own(result.errors, d.node)
          if (error !== undefined) section = {status: 'error', message: error}
          else if (Object.hasOwn(result.replies, d.node)) section = {status: 'ok', payload: own(result.replies, d.node)}
          else section = {status: 'error', message: SOLO_HINT}
        } catch (error) {
          section = {status: 'error', message: errorText(error)}
        }
        d[part] = section
      })())
    }
  }

  // ─── actions ────────────────────────────────────────────────────────────────────────────────

  /** Who an action reaches: the detail pane's worker, else the selection, else the worker under the cursor. */
  private targets(): string[] {
    if (this.detail) return [this.detail.node]
    if (this.selected.size > 0) return [...this.selected].sort(naturalCompare)
    return this.cursorNode === undefined ? [] : [this.cursorNode]
  }

  /** Queue names to complete with: those under the workers, and those the detail pane showed. */
  private queueNames(): string[] {
    const names = new Set(this.queues.map((q) => q.name))
    if (this.detail?.queues.status === 'ok') for (const q of queuesOf(this.detail.queues.payload) ?? []) names.add(q.queue)
    return [...names].sort(naturalCompare)
  }

  private action(ch: string): void {
    const kinds = new Set(['+', '-', 'a', 'c', 'D', 'X', ...(this.ops.menu ? ['m'] : [])])
    if (!kinds.has(ch)) return
    const nodes = this.targets()
    if (nodes.length === 0) return this.say('no worker under the cursor', true)
    try {
      parseDestinations(nodes)
    } catch (error) {
      return this.say(`not sent: ${errorText(error)}`, true)
    }
    const who = whom({destination: nodes})
    const broker = this.ops.broker
    switch (ch) {
      case '+':
        return this.prompt(`Pool grow ${who}: processes to add`, '1', () => [], (v) => this.send('pool_grow', {n: positiveInteger(v, 'N')}, nodes))
      case '-':
        return this.prompt(`Pool shrink ${who}: processes to remove`, '1', () => [], (v) => this.send('pool_shrink', {n: positiveInteger(v, 'N')}, nodes))
      case 'a':
        return this.prompt(`Add consumer on ${who}: queue (Tab completes)`, '', () => this.queueNames(), (v) => this.send('add_consumer', {queue: word(v, 'queue')}, nodes))
      case 'c':
        return this.prompt(`Cancel consumer on ${who}: queue (Tab completes)`, '', () => this.queueNames(), (v) => this.send('cancel_consumer', {queue: word(v, 'queue')}, nodes))
      case 'D':
        return this.confirm(`Drain ${who} (cancel every queue they consume and wait until idle) on ${broker}?`, () => this.runDrain(nodes))
      case 'X':
        return this.confirm(`Shut down ${who} on ${broker}?`, () => this.runShutdown(nodes))
      case 'm':
        return this.openMenu(nodes)
    }
  }

  // ─── the explorer's menu ────────────────────────────────────────────────────────────────────

  /**
   * `m`: the terminal goes to the explorer's menu for these nodes (the main screen, line by line),
   * and comes back to the view when the operator goes back: the cursor, the selection, the filter,
   * the sort and the detail pane as they were. Events keep reaching the live model meanwhile;
   * frames and queue reads wait, and are done at once on return.
   */
  private openMenu(nodes: string[]): void {
    const menu = this.ops.menu!
    const all = this.ops.live.snapshot(this.now()).rows.map((r) => r.node)
    // What the detail pane showed of its worker is offered to pick from (task ids, queues).
    const shown: ShownReply[] = []
    const d = this.detail
    if (d && nodes.includes(d.node)) {
      if (d.active.status === 'ok') shown.push({method: 'active', node: d.node, payload: d.active.payload})
      if (d.queues.status === 'ok') shown.push({method: 'active_queues', node: d.node, payload: d.queues.payload})
    }
    this.message = undefined
    this.suspended = true
    clearTimeout(this.drawTimer)
    this.drawTimer = undefined
    this.screen.stop()
    this.track((async () => {
      try {
        const {stopped} = await menu({nodes, all, shown, queues: this.queues.map((q) => q.name)})
        for (const n of stopped) this.selected.delete(n)
        if (stopped.length > 0) this.say(`shut down from the menu: ${whom({destination: stopped})}`)
      } catch (error) {
        // Ctrl-C in the menu leaves as it does here (exit 130); a signal has ended the view already.
        if (error instanceof InterruptedError) return this.ops.interrupt()
        this.say(`the menu failed: ${errorText(error)}`, true)
      } finally {
        this.resume()
      }
    })())
  }

  /** The terminal back from the menu: a whole frame, and what the menu may have changed read again. */
  private resume(): void {
    this.suspended = false
    if (this.ended) return
    this.screen.start()
    this.draw()
    if (this.leaving) return
    this.refreshQueues(true)
    if (this.detail) this.fetchDetail(this.detail, ['active', 'queues', 'stats'])
  }

  private prompt(label: string, initial: string, complete: () => string[], submit: (value: string) => void): void {
    this.mode = {kind: 'prompt', label, input: initial, typed: initial, cycle: 0, complete, submit}
  }

  private confirm(question: string, yes: () => void): void {
    this.mode = {kind: 'confirm', question, yes}
  }

  /** A request as its command sends it: confirmed first when it is destructive (docs/architecture.md#destructive-requests-and-dry-runs). */
  private send(method: string, args: Record<string, unknown>, nodes: string[]): void {
    const target = {destination: nodes}
    if (isDestructive(method, args, target)) return this.confirm(`Send "${method}" to ${whom(target)} on ${this.ops.broker}?`, () => this.dispatch(method, args, nodes))
    this.dispatch(method, args, nodes)
  }

  private begin(text: string): number {
    // What is under way is shown from now on, instead of what an earlier action said.
    this.message = undefined
    const id = ++this.busyId
    this.busy.set(id, text)
    return id
  }

  private dispatch(method: string, args: Record<string, unknown>, nodes: string[]): void {
    const id = this.begin(`${method} → ${whom({destination: nodes})}…`)
    const detail = this.detail
    this.track(this.ops.request(method, args, nodes).then(
      (result) => {
        this.say(this.ops.describe.result(method, nodes, result))
        if (method.endsWith('consumer')) this.refreshQueues(true)
        // The detail pane shows what the action changed, asked again once the worker applied it
        // (a worker replies first, then changes its pool or consumers).
        if (detail && nodes.includes(detail.node)) {
          this.later(APPLIED_MS, () => {
            if (detail === this.detail) this.fetchDetail(detail, method.endsWith('consumer') ? ['queues'] : ['stats'])
          })
        }
      },
      (error: unknown) => this.say(`${method} failed: ${errorText(error)}`, true),
    ).finally(() => this.busy.delete(id)))
  }

  private runShutdown(nodes: string[]): void {
    const id = this.begin(`shutdown → ${whom({destination: nodes})}: sent, verifying…`)
    this.track(this.ops.shutdown(nodes).then(
      (result) => this.say(this.ops.describe.shutdown(result)),
      (error: unknown) => this.say(`shutdown failed: ${errorText(error)}`, true),
    ).finally(() => this.busy.delete(id)))
  }

  private runDrain(nodes: string[]): void {
    const id = this.begin(`drain → ${whom({destination: nodes})}: asking what they consume…`)
    this.track(this.ops.drain(nodes, (p) => {
      this.busy.set(id, this.ops.describe.progress(p))
      this.requestDraw()
    }, this.local.signal).then(
      (result) => {
        this.drains.push(result)
        this.refreshQueues(true)
        this.say(`${this.ops.describe.drain(result)}${result.restore.length > 0 ? ' · the restore commands are printed when you leave' : ''}`)
      },
      (error: unknown) => this.say(`drain failed: ${errorText(error)}`, true),
    ).finally(() => this.busy.delete(id)))
  }
}
