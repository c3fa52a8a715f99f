import {Flags} from '@oclif/core'
import {closeSync} from 'node:fs'

import {FleetCommand, type AuditStart} from '../../base-command.js'
import {UsageError} from '../../errors.js'
import {isChange} from '../../fleet/audit.js'
import {SHUTDOWN_WAIT_SECONDS} from '../../fleet/operation.js'
import type {FleetResult} from '../../fleet/outcome.js'
import type {ShutdownResult} from '../../fleet/shutdown.js'

const SUBCOMMANDS = 'active, reserved, scheduled, revoked, registered, stats, active-queues, query-task, conf, clock, report, memsample, memdump, objgraph, ping'

export default class Inspect extends FleetCommand {
  static override summary = 'Explore the fleet interactively (on a terminal): pick nodes, read views, run actions.'
  static override description = `On a terminal, sends one "ping" to discover the nodes (all of them, or those named with -d or
matching --pattern), then lets you pick nodes (type to filter; one, all the matching ones, or several)
and a view (active, reserved, scheduled, stats, active queues, registered, revoked, conf) or an action
(add / cancel consumer, pool grow / shrink / restart, autoscale, rate limit, time limit, query tasks,
revoke, terminate, shutdown with a reason), offering the task ids, queues and task names the views
showed, and confirming destructive ones. Escape goes back (and quits from the menu, exit 0); Ctrl-C
leaves at once (exit 130). Everything it created in the broker is removed either way, a closed terminal
included. It needs a terminal for its input and output (stderr may go to a file); without one it exits
2: use the subcommands (${SUBCOMMANDS}).`
  static override examples = [
    '<%= config.bin %> inspect',
    '<%= config.bin %> inspect --pattern "celery@batch-*"',
    '<%= config.bin %> inspect -d celery@web1,celery@web2 -b amqp://guest:guest@rabbit:5672//',
  ]
  static override enableJsonFlag = false
  static override flags = {
    destination: FleetCommand.targetFlags.destination,
    pattern: FleetCommand.targetFlags.pattern,
    matcher: FleetCommand.targetFlags.matcher,
    timeout: Flags.string({char: 't', summary: 'Seconds to wait for replies to each request (a deadline).', default: '1'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Inspect)
    // The discovery ping, planned and checked as any command's (-d names, the pattern) before connecting.
    const plan = this.plan(flags, 'ping')
    const opts = plan.session
    const timeoutMs = plan.timeoutMs
    // Keys come from stdin and tables go to stdout: both must be the terminal. stderr may be a log.
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new UsageError(`the explorer needs a terminal for its input and output; without one use \`wfctl inspect <${SUBCOMMANDS.replace(/, /g, '|')}>\` or \`wfctl control ...\``)
    }
    // Questions are drawn where the operator looks: stderr, or stdout when stderr goes to a file.
    const screen = process.stderr.isTTY ? process.stderr : process.stdout
    // A closed terminal ends stdin, often before its SIGHUP arrives: the session ends as on SIGHUP,
    // with the cleanup. Nothing may end the process before that: every write fails (EIO), and
    // oclif's handler of stdout errors rethrows all but EPIPE, so it is replaced; the prompt's
    // attempt to set the terminal back from raw mode would be an uncaught error too, so it is not
    // made on an input that has ended. Kept to the end: the last error line may fail as well.
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
    const operation = await this.open(opts)
    const r = await this.render()
    const {inspectView} = await import('../../render/inspect.js')
    const {Explorer} = await import('../../explorer/explorer.js')
    const view = this.view(flags)
    // Each action that changes workers is one line in the audit log, written as soon as it is done.
    const audited = async <T extends FleetResult | ShutdownResult>(start: AuditStart, work: () => Promise<T>, reason?: string): Promise<T> => {
      try {
        const result = await work()
        this.auditAction(start, {result}, reason)
        return result
      } catch (error) {
        this.auditAction(start, {error: error as Error}, reason)
        throw error
      }
    }
    const call = (method: string, args: Record<string, unknown>, nodes: string[]) => {
      const send = () => operation.request({method, args, target: {destination: nodes}, timeoutMs})
      return isChange(method) ? audited({method, args, target: {destination: nodes}, broker: opts.url.masked}, send) : send()
    }
    const scope = plan.target.pattern !== undefined ? `matching ${plan.target.matcher ?? 'glob'} "${plan.target.pattern}"` : plan.target.destination.length > 0 ? 'named with -d' : undefined
    const explorer = new Explorer({
      broker: opts.url.masked,
      scope,
      discover: () => operation.request({method: 'ping', args: {}, target: plan.target, timeoutMs}),
      call,
      // The same shutdown as `wfctl control shutdown -d NODES --reason ...`: running nodes learnt first, then verified.
      shutdown: (nodes, given) => {
        const reason = given ?? `shutdown requested by wfctl inspect (${this.operator()})`
        const start = {method: 'shutdown', args: {msg: reason}, target: {destination: nodes}, broker: opts.url.masked}
        return audited(start, () => operation.shutdown({target: {destination: nodes}, reason, waitMs: SHUTDOWN_WAIT_SECONDS * 1000, pingTimeoutMs: timeoutMs}), given)
      },
      show: (text) => this.log(text),
      note: (text) => (screen === process.stderr ? this.logToStderr(text) : this.log(text)),
      render: {
        status: (result) => [r.statusTable(result, view), r.statusLine(result)].filter(Boolean).join('\n'),
        view: (result, ids) => [inspectView(result, view, {now: Date.now(), ids}), r.summaryLine(result)].filter(Boolean).join('\n'),
        replies: (result) => [r.repliesTable(result, view), r.summaryLine(result)].filter(Boolean).join('\n'),
        shutdown: (result) => [r.shutdownTable(result, view), r.shutdownLine(result)].filter(Boolean).join('\n'),
      },
      signal: this.interrupt.signal,
      screen,
      columns: () => process.stdout.columns || 80,
    })
    await explorer.run()
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {
    // Already closed.
  }
}
