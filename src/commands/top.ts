import {Flags} from '@oclif/core'
import {closeSync} from 'node:fs'

import {FleetCommand, type AuditStart} from '../base-command.js'
import {ExitCode, UsageError} from '../errors.js'
import {durationMs, word} from '../fleet/arguments.js'
import {isChange} from '../fleet/audit.js'
import type {DrainProgress, DrainResult} from '../fleet/drain.js'
import {openFleetEvents, WORKER_EVENTS, type FleetEvents} from '../fleet/events.js'
import {jsonWorker, LiveFleet, scopeOf, type TopJsonWorker} from '../fleet/live.js'
import {abortable, SHUTDOWN_WAIT_SECONDS, type Addressed, type FleetOperation} from '../fleet/operation.js'
import type {FleetResult} from '../fleet/outcome.js'
import {readQueues, type QueueRow, type QueuesResult} from '../fleet/queues.js'
import type {SessionOptions} from '../fleet/session.js'
import type {ShutdownResult} from '../fleet/shutdown.js'

/** One heartbeat interval (Celery's default: 2 s) and a margin: long enough to hear every worker beat once. */
const WINDOW_SECONDS = 2.5
/** The live view asks the workers which queues they consume again this often (their answers give Redis its consumer counts). */
const REASK_MS = 60_000
/** What a drain from the view waits for, as `control drain` does by default. */
const DRAIN_WAIT_MS = 600_000

export interface TopJson {
  workers: TopJsonWorker[]
  queues: {name: string; messages: number | null; consumers: number | null}[]
}

/** How the live view is run: by `wfctl top`, or by `wfctl inspect` on a terminal (scoped by -d / --pattern). */
export interface LiveViewOptions {
  timeoutMs: number
  /** Queues to show whether or not anyone consumes them (--queue). */
  queues: string[]
  noColor: boolean
  /** The nodes the view is scoped to (-d, --pattern): only they are shown, asked and acted on. */
  target?: Addressed
  /** The scope in words, for the title line and the confirmations: `matching glob "pod-*"`. */
  scope?: string
}

/**
 * The live view, shared by `wfctl top` and `wfctl inspect` on a terminal (one screen for both):
 * the rows from heartbeats, the queues, the keys' actions, and the explorer's menu (`m`) on the
 * same connection; and what keeps a terminal that goes away from ending the process before its
 * cleanup.
 */
export abstract class LiveCommand extends FleetCommand {
  /** A change from an interactive session, to the audit log as soon as it is done (or failed). */
  protected async audited<T extends FleetResult | ShutdownResult | DrainResult>(
    start: AuditStart, work: () => Promise<T>, how: {via: 'explorer' | 'top'; reason?: string; exitCode?: (result: T) => number},
  ): Promise<T> {
    try {
      const result = await work()
      if (how.exitCode) this.auditAction(start, {result: result as DrainResult, exitCode: how.exitCode(result)}, how.reason, how.via)
      else this.auditAction(start, {result: result as FleetResult | ShutdownResult}, how.reason, how.via)
      return result
    } catch (error) {
      this.auditAction(start, {error: error as Error}, how.reason, how.via)
      throw error
    }
  }

  /**
   * A closed terminal ends stdin, often before its SIGHUP arrives: the session ends as on SIGHUP,
   * with the cleanup. Nothing may end the process before that: every write fails (EIO), and
   * oclif's handler of stdout errors rethrows all but EPIPE, so it is replaced; a prompt's attempt
   * to set the terminal back from raw mode would be an uncaught error too, so it is not made on an
   * input that has ended. Kept to the end: the last error line may fail as well. `screen` is where
   * questions are drawn (stderr, or stdout when stderr goes to a file).
   */
  protected guardTerminal(screen: NodeJS.WriteStream): void {
    let hungUp = false
    const gone = () => {
      hungUp = true
      if (!this.interrupt.signal.aborted) this.interrupt.abort('SIGHUP')
    }
    // And at exit Node sets the terminal back as it found it, and aborts when that fails (EIO):
    // a terminal that is gone is closed first, so there is nothing to set back.
    process.once('exit', () => {
      if (hungUp) for (const fd of [0, 1, 2]) closeQuietly(fd)
    })
    const stdin = process.stdin
    const setRawMode = stdin.setRawMode.bind(stdin)
    stdin.setRawMode = (mode: boolean) => (stdin.readableEnded ? stdin : setRawMode(mode))
    stdin.once('end', gone)
    process.stdout.removeAllListeners('error')
    for (const stream of [stdin, process.stdout, ...(screen === process.stderr ? [process.stderr] : [])]) stream.on('error', gone)
  }

  /** Where questions are drawn: stderr, or stdout when stderr goes to a file. */
  protected questionScreen(): NodeJS.WriteStream {
    return process.stderr.isTTY ? process.stderr : process.stdout
  }

  /** The mailboxes the broker keeps bound (Redis); undefined where it keeps none, or would not say (an ACL). */
  protected async boundMailboxes(op: FleetOperation): Promise<string[] | undefined> {
    try {
      return await op.boundMailboxes()
    } catch (error) {
      if (this.interrupt.signal.aborted) throw error
      return undefined
    }
  }

  /** The live view, until `q` or an interrupt. */
  protected async live(session: SessionOptions, o: LiveViewOptions): Promise<void> {
    const [{TopView}, render, text, drainText] = await Promise.all([
      import('../explorer/top.js'), import('../render/top.js'), this.render(), import('../render/drain.js'),
    ])
    const {drain, drainExitCode} = await import('../fleet/drain.js')
    const screen = this.questionScreen()
    this.guardTerminal(screen)
    // It stays connected: RabbitMQ heartbeats tell a broker gone silent.
    const op = await this.open({...session, longLived: true})
    const {timeoutMs} = o
    const broker = session.url.masked
    const everyone: Addressed = o.target ?? {destination: []}
    const scoped = everyone.destination.length > 0 || everyone.pattern !== undefined
    const live = new LiveFleet({startedAtMs: performance.now(), graceMs: WINDOW_SECONDS * 1000, scope: scopeOf(everyone)})
    const reason = `requested by wfctl top (${this.operator()})`
    const restoreFlags = [
      ...(session.namespace.controlExchange === 'celery' ? [] : ['--control-exchange', session.namespace.controlExchange]),
      ...(session.namespace.redisKeyPrefix ? ['--redis-key-prefix', session.namespace.redisKeyPrefix] : []),
    ]
    const request = (method: string, args: Record<string, unknown>, nodes: string[]) => {
      const send = () => op.request({method, args, target: {destination: nodes}, timeoutMs})
      return isChange(method) ? this.audited({method, args, target: {destination: nodes}, broker}, send, {via: 'top'}) : send()
    }

    // The queues: who consumes what is asked at start and now and then; depths every refresh.
    let first: QueuesResult | undefined
    let askedAt = -Infinity
    let reaskAfter = Infinity
    const queues = async (again?: boolean) => {
      const now = performance.now()
      // After a consumer change the workers apply it after replying: asked again at the next refresh.
      if (again) reaskAfter = Math.min(reaskAfter, now + 1000)
      const ask = !first || now - askedAt > REASK_MS || now >= reaskAfter
      const names = first ? [...new Set([...o.queues, ...first.queues.map((q) => q.name)])] : o.queues
      const read = ask ? await readQueues(op, {queues: names, target: everyone, timeoutMs}) : await readQueues(op, {queues: names, ask: false, consumedBy: first!.consumedBy, timeoutMs})
      if (ask) {
        first = read
        askedAt = now
        reaskAfter = Infinity
      }
      return read.queues.map(queueLine)
    }

    // The explorer's menu (`m`), made on first use: its views, actions, questions and picking, on this connection.
    let explorer: InstanceType<typeof import('../explorer/explorer.js').Explorer> | undefined
    const menu = async (asked: import('../explorer/explorer.js').MenuRequest) => {
      if (!explorer) {
        const [{Explorer}, {inspectView}] = await Promise.all([import('../explorer/explorer.js'), import('../render/inspect.js')])
        const tables = () => this.view({'no-color': o.noColor})
        explorer = new Explorer({
          broker,
          scope: o.scope,
          discover: () => op.request({method: 'ping', args: {}, target: everyone, timeoutMs}),
          call: request,
          // The same shutdown as `wfctl control shutdown -d NODES --reason ...`, verified.
          shutdown: (nodes, given) => {
            const msg = given ?? `shutdown ${reason}`
            const start = {method: 'shutdown', args: {msg}, target: {destination: nodes}, broker}
            return this.audited(start, () => op.shutdown({target: {destination: nodes}, reason: msg, waitMs: SHUTDOWN_WAIT_SECONDS * 1000, pingTimeoutMs: timeoutMs}), {via: 'top', reason: given})
          },
          show: (table) => this.log(table),
          note: (line) => (screen === process.stderr ? this.logToStderr(line) : this.log(line)),
          render: {
            status: (result) => [text.statusTable(result, tables()), text.statusLine(result)].filter(Boolean).join('\n'),
            view: (result, ids) => [inspectView(result, tables(), {now: Date.now(), ids}), text.summaryLine(result)].filter(Boolean).join('\n'),
            replies: (result) => [text.repliesTable(result, tables()), text.summaryLine(result)].filter(Boolean).join('\n'),
            shutdown: (result) => [text.shutdownTable(result, tables()), text.shutdownLine(result)].filter(Boolean).join('\n'),
          },
          signal: this.interrupt.signal,
          screen,
          columns: () => process.stdout.columns || 80,
          fetchToPick: true,
        })
      }
      return explorer.menuFor(asked)
    }

    let view: InstanceType<typeof TopView> | undefined
    let events: FleetEvents | undefined
    let lost: Error | undefined
    try {
      events = await openFleetEvents(op, {
        routingKeys: [WORKER_EVENTS],
        onEvents: (batch) => {
          live.applyAll(batch)
          view?.changed()
        },
        onFailure: (error) => {
          lost ??= error
          view?.fail(error)
        },
      })
      view = new TopView({
        broker,
        scope: o.scope,
        live,
        io: {input: process.stdin, output: process.stdout},
        color: !o.noColor && !('NO_COLOR' in process.env),
        discover: async () => {
          const ping = await op.request({method: 'ping', args: {}, target: everyone, timeoutMs})
          live.pinged([...Object.keys(ping.replies), ...Object.keys(ping.errors)])
          view?.changed()
          // A node named with -d that neither beats nor answers would not be shown at all: it is said.
          if (scoped && ping.missing.length > 0) return `no answer to the ping from ${ping.missing.length} named with -d: ${ping.missing.slice(0, 3).join(', ')}${ping.missing.length > 3 ? ' …' : ''}`
          return undefined
        },
        queues,
        refresh: async () => {
          const bound = await this.boundMailboxes(op)
          if (bound) live.mailboxes(bound)
        },
        request,
        shutdown: (nodes) => this.audited({method: 'shutdown', args: {msg: `shutdown ${reason}`}, target: {destination: nodes}, broker}, () => op.shutdown({target: {destination: nodes}, reason: `shutdown ${reason}`, waitMs: SHUTDOWN_WAIT_SECONDS * 1000, pingTimeoutMs: timeoutMs}), {via: 'top'}),
        drain: (nodes, onProgress: (p: DrainProgress) => void, signal) => this.audited(
          {method: 'drain', args: {shutdown: false, waitSeconds: DRAIN_WAIT_MS / 1000}, target: {destination: nodes}, broker},
          () => drain(op, {target: {destination: nodes}, timeoutMs, waitMs: DRAIN_WAIT_MS, restoreFlags, onProgress, signal}),
          {via: 'top', exitCode: drainExitCode},
        ),
        describe: {
          result: render.actionLine,
          shutdown: text.shutdownLine,
          drain: drainText.drainLine,
          progress: render.drainProgressLine,
        },
        signal: this.interrupt.signal,
        interrupt: () => this.interrupt.abort('SIGINT'),
        menu,
      })
      let drains: DrainResult[]
      try {
        const running = view.run()
        if (lost) view.fail(lost)
        ;({drains} = await running)
      } catch (error) {
        // Interrupted: the requests under way end at once; a drain cut short still says how to restore.
        ;({drains} = await view.outcome())
        this.restoreNotes(drains, drainText)
        throw error
      }
      this.restoreNotes(drains, drainText)
      this.setExitCode(ExitCode.ok)
    } finally {
      await events?.close()
    }
  }

  /** After the view: what each drain cancelled, and the lines that restore it, on stderr. */
  private restoreNotes(drains: DrainResult[], r: typeof import('../render/drain.js')): void {
    for (const result of drains) {
      if (result.interrupted) this.notice(`drain interrupted while ${result.interrupted}: ${r.cancelledSummary(result)}`)
      for (const line of r.restoreLines(result)) this.notice(line)
    }
  }
}

export default class Top extends LiveCommand {
  static override summary = 'A live view of the fleet from its heartbeats: who is online, how busy, which queues pile up.'
  static override description = `Full screen, on a terminal: one row per worker from the worker-heartbeat events every worker
sends (no -E needed): state, active tasks, processed and its rate, load average, Celery version and
the age of the last heartbeat. A worker is offline by Celery's own rule: no heartbeat for 2 x its
interval, or a worker-offline event. One ping at start finds workers that send no heartbeat; on
Redis, mailboxes still bound in kombu's binding set whose node neither beats nor answers are shown
as possibly dead. Queue depths are shown under the workers and read again every few seconds.
Keys: / filter, < > sort, space select, Enter detail pane, + - pool, a c consumer, D drain,
X shutdown, m the explorer's menu (its views and every action: revoke, terminate, query tasks,
limits, pool restart, autoscale, shutdown with a reason), ? help, q quit (exit 0); Ctrl-C leaves at
once (exit 130). Destructive actions are confirmed as the commands confirm them, and every change
goes to the audit log. \`wfctl inspect\` on a terminal opens this same view, scoped by -d / --pattern.
With --once, one snapshot after one heartbeat window (--window), as a table or --json: exit 0 when
a worker was seen, 69 when none.`
  static override examples = [
    '<%= config.bin %> top',
    '<%= config.bin %> top --once --json',
    '<%= config.bin %> top --once --window 6 --queue reports',
  ]
  static override flags = {
    once: Flags.boolean({summary: 'Print one snapshot after one heartbeat window, and exit (no terminal needed).'}),
    window: Flags.string({summary: `With --once: seconds to listen for heartbeats (default ${WINDOW_SECONDS}: one 2 s interval and a margin).`}),
    queue: Flags.string({char: 'q', summary: 'A queue to show, whether or not anyone consumes it (repeatable; commas too).', multiple: true}),
    timeout: Flags.string({char: 't', summary: 'Seconds to wait for replies to each request (the ping at start, the queues, the detail pane, actions).', default: '1'}),
  }

  async run(): Promise<TopJson | undefined> {
    const {flags} = await this.parse(Top)
    const session = this.sessionOptions(flags)
    const timeoutMs = this.timeoutMs(flags)
    const queues = [...new Set((flags.queue ?? []).flatMap((q) => q.split(',')).map((q) => word(q, '--queue')))]
    // --json is a snapshot: there is no live JSON.
    const once = flags.once || this.jsonEnabled()
    if (!once && flags.window !== undefined) throw new UsageError('--window applies to --once')
    const windowMs = durationMs(flags.window ?? String(WINDOW_SECONDS), '--window')
    if (once) return this.once(session, {timeoutMs, windowMs, queues, color: flags['no-color']})
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new UsageError('wfctl top needs a terminal on stdin and stdout; without one, take a snapshot: wfctl top --once --json')
    }
    await this.live(session, {timeoutMs, queues, noColor: flags['no-color'] ?? false})
    return undefined
  }

  /** One snapshot: listen for one heartbeat window, with the ping, the bound mailboxes and the queues read meanwhile. */
  private async once(session: SessionOptions, o: {timeoutMs: number; windowMs: number; queues: string[]; color?: boolean}): Promise<TopJson> {
    const op = await this.open(session)
    const started = performance.now()
    const live = new LiveFleet({startedAtMs: started, graceMs: 0})
    let failure: Error | undefined
    const events = await openFleetEvents(op, {routingKeys: [WORKER_EVENTS], onEvents: (batch) => live.applyAll(batch), onFailure: (error) => (failure ??= error)})
    let read: QueuesResult
    try {
      const ping = await op.request({method: 'ping', args: {}, target: {destination: []}, timeoutMs: o.timeoutMs})
      live.pinged([...Object.keys(ping.replies), ...Object.keys(ping.errors)])
      const bound = await this.boundMailboxes(op)
      if (bound) live.mailboxes(bound)
      read = await readQueues(op, {queues: o.queues, timeoutMs: o.timeoutMs})
      const left = started + o.windowMs - performance.now()
      if (left > 0) await abortable(new Promise((resolve) => setTimeout(resolve, left)), this.interrupt.signal)
      if (failure) throw failure
    } finally {
      await events.close()
    }
    const snap = live.snapshot(performance.now())
    const cleanup = await op.close()
    if (cleanup) this.notice(`warning: ${cleanup.message}`)
    const seen = snap.rows.some((r) => r.state !== 'possibly-dead')
    this.setExitCode(seen ? ExitCode.ok : ExitCode.noReply)
    const out: TopJson = {
      workers: snap.rows.map(jsonWorker),
      queues: read.queues.map((q) => ({name: q.name, messages: q.messages, consumers: q.consumers})),
    }
    if (this.jsonEnabled()) return out
    const {onceText} = await import('../render/top.js')
    this.log(onceText(snap.rows, snap.counts, read.queues.map(queueLine), this.view({'no-color': o.color})))
    if (!events.available) this.notice('note: no worker has declared the event exchange in this vhost yet: no heartbeat can reach wfctl here')
    return out
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {
    // Already closed.
  }
}

function queueLine(q: QueueRow) {
  return {name: q.name, messages: q.messages, consumers: q.consumers, exists: q.exists, ...(q.error === undefined ? {} : {error: q.error})}
}
