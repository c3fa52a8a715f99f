import {Flags} from '@oclif/core'

import {UsageError} from '../../errors.js'
import {isChange} from '../../fleet/audit.js'
import {SHUTDOWN_WAIT_SECONDS, type RequestPlan} from '../../fleet/operation.js'
import {LiveCommand} from '../top.js'

const SUBCOMMANDS = 'active, reserved, scheduled, revoked, registered, stats, active-queues, query-task, conf, clock, report, memsample, memdump, objgraph, ping'

export default class Inspect extends LiveCommand {
  static override summary = 'Explore the fleet on a terminal: the live view of `wfctl top`, scoped by -d / --pattern, with the explorer\'s menu on m.'
  static override description = `On a terminal, opens the live view of \`wfctl top\` (one row per worker from its heartbeats, the
queues under them), scoped to the nodes named with -d or matching --pattern when given. Type / to
filter, space to select, Enter for a worker's detail, and m for the explorer's menu on the selected
workers (or the one under the cursor): the views (active, reserved, scheduled, stats, active queues,
registered, revoked, conf) and every action (add / cancel consumer, pool grow / shrink / restart,
autoscale, rate limit, time limit, query tasks, revoke, terminate, shutdown with a reason), offering
the task ids, queues and task names shown, and confirming destructive ones; Escape comes back to the
live view. q quits (exit 0); Ctrl-C leaves at once (exit 130).
--menu runs the explorer line by line instead, without the full screen: one ping to discover the
nodes, then pick nodes (type to filter; one, all the matching ones, or several), views and actions;
Escape goes back (and quits from the menu, exit 0).
Everything it created in the broker is removed either way, a closed terminal included. It needs a
terminal for its input and output (stderr may go to a file); without one it exits 2: use the
subcommands (${SUBCOMMANDS}).`
  static override examples = [
    '<%= config.bin %> inspect',
    '<%= config.bin %> inspect --pattern "celery@batch-*"',
    '<%= config.bin %> inspect -d celery@web1,celery@web2 -b amqp://guest:guest@rabbit:5672//',
    '<%= config.bin %> inspect --menu',
  ]
  static override enableJsonFlag = false
  static override flags = {
    destination: LiveCommand.targetFlags.destination,
    pattern: LiveCommand.targetFlags.pattern,
    matcher: LiveCommand.targetFlags.matcher,
    timeout: Flags.string({char: 't', summary: 'Seconds to wait for replies to each request (a deadline).', default: '1'}),
    menu: Flags.boolean({summary: 'The explorer alone, line by line: its menu, questions and tables, without the full screen.'}),
  }

  async run(): Promise<undefined> {
    const {flags} = await this.parse(Inspect)
    // The discovery ping, planned and checked as any command's (-d names, the pattern) before connecting.
    const plan = this.plan(flags, 'ping')
    // Keys come from stdin and tables go to stdout: both must be the terminal. stderr may be a log.
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new UsageError(`the explorer needs a terminal for its input and output; without one use \`wfctl inspect <${SUBCOMMANDS.replace(/, /g, '|')}>\` or \`wfctl control ...\``)
    }
    const scope = plan.target.pattern !== undefined ? `matching ${plan.target.matcher ?? 'glob'} "${plan.target.pattern}"` : plan.target.destination.length > 0 ? 'named with -d' : undefined
    if (flags.menu) await this.explore(plan, scope, flags['no-color'] ?? false)
    else await this.live(plan.session, {timeoutMs: plan.timeoutMs, queues: [], noColor: flags['no-color'] ?? false, target: plan.target, scope})
    return undefined
  }

  /** The menu explorer (--menu): discover, pick nodes, views and actions, line by line. */
  private async explore(plan: RequestPlan, scope: string | undefined, noColor: boolean): Promise<void> {
    const opts = plan.session
    const timeoutMs = plan.timeoutMs
    const screen = this.questionScreen()
    this.guardTerminal(screen)
    const operation = await this.open(opts)
    const r = await this.render()
    const {inspectView} = await import('../../render/inspect.js')
    const {Explorer} = await import('../../explorer/explorer.js')
    const view = this.view({'no-color': noColor})
    const broker = opts.url.masked
    // Each action that changes workers is one line in the audit log, written as soon as it is done.
    const call = (method: string, args: Record<string, unknown>, nodes: string[]) => {
      const send = () => operation.request({method, args, target: {destination: nodes}, timeoutMs})
      return isChange(method) ? this.audited({method, args, target: {destination: nodes}, broker}, send, {via: 'explorer'}) : send()
    }
    const explorer = new Explorer({
      broker,
      scope,
      discover: () => operation.request({method: 'ping', args: {}, target: plan.target, timeoutMs}),
      call,
      // The same shutdown as `wfctl control shutdown -d NODES --reason ...`: running nodes learnt first, then verified.
      shutdown: (nodes, given) => {
        const reason = given ?? `shutdown requested by wfctl inspect (${this.operator()})`
        const start = {method: 'shutdown', args: {msg: reason}, target: {destination: nodes}, broker}
        return this.audited(start, () => operation.shutdown({target: {destination: nodes}, reason, waitMs: SHUTDOWN_WAIT_SECONDS * 1000, pingTimeoutMs: timeoutMs}), {via: 'explorer', reason: given})
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
