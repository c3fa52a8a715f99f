import {Flags} from '@oclif/core'

import {FleetCommand, type AuditStart} from '../../base-command.js'
import {UsageError} from '../../errors.js'
import {isChange} from '../../fleet/audit.js'
import {SHUTDOWN_WAIT_SECONDS} from '../../fleet/operation.js'
import type {FleetResult} from '../../fleet/outcome.js'
import type {ShutdownResult} from '../../fleet/shutdown.js'

const SUBCOMMANDS = 'active, reserved, scheduled, revoked, registered, stats, active-queues, query-task, conf, clock, report, memsample, memdump, objgraph, ping'

export default class Inspect extends FleetCommand {
  static override summary = 'Explore the fleet interactively (on a terminal): pick nodes, read views, run actions.'
  static override description = `On a terminal, sends one "ping" to discover the nodes, then lets you pick nodes (one, several or
all) and a view (active, reserved, scheduled, stats, active queues, registered, revoked, conf) or an
action (add / cancel consumer, pool grow / shrink, autoscale, rate limit, time limit, revoke,
shutdown), asking for the action's arguments and confirming destructive ones. Escape goes back (and
quits from the menu, exit 0); Ctrl-C leaves at once (exit 130). Everything it created in the broker
is removed either way. Without a terminal it exits 2: use the subcommands (${SUBCOMMANDS}).`
  static override examples = ['<%= config.bin %> inspect', '<%= config.bin %> inspect -b amqp://guest:guest@rabbit:5672//']
  static override enableJsonFlag = false
  static override flags = {
    timeout: Flags.string({char: 't', summary: 'Seconds to wait for replies to each request (a deadline).', default: '1'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Inspect)
    const opts = this.sessionOptions(flags)
    const timeoutMs = this.timeoutMs(flags)
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new UsageError(`the explorer needs a terminal; without one use \`wfctl inspect <${SUBCOMMANDS.replace(/, /g, '|')}>\` or \`wfctl control ...\``)
    }
    const operation = await this.open(opts)
    const r = await this.render()
    const {inspectView} = await import('../../render/inspect.js')
    const {Explorer} = await import('../../explorer/explorer.js')
    const view = this.view(flags)
    // Each action that changes workers is one line in the audit log, written as soon as it is done.
    const audited = async <T extends FleetResult | ShutdownResult>(start: AuditStart, work: () => Promise<T>): Promise<T> => {
      try {
        const result = await work()
        this.auditAction(start, {result})
        return result
      } catch (error) {
        this.auditAction(start, {error: error as Error})
        throw error
      }
    }
    const call = (method: string, args: Record<string, unknown>, nodes: string[]) => {
      const send = () => operation.request({method, args, target: {destination: nodes}, timeoutMs})
      return isChange(method) ? audited({method, args, target: {destination: nodes}, broker: opts.url.masked}, send) : send()
    }
    const reason = `shutdown requested by wfctl inspect (${this.operator()})`
    const explorer = new Explorer({
      broker: opts.url.masked,
      discover: () => call('ping', {}, []),
      call,
      // The same shutdown as `wfctl control shutdown -d NODES`: running nodes learnt first, then verified.
      shutdown: (nodes) => audited({method: 'shutdown', args: {msg: reason}, target: {destination: nodes}, broker: opts.url.masked}, () => operation.shutdown({target: {destination: nodes}, reason, waitMs: SHUTDOWN_WAIT_SECONDS * 1000, pingTimeoutMs: timeoutMs})),
      show: (text) => this.log(text),
      note: (text) => this.logToStderr(text),
      render: {
        status: (result) => [r.statusTable(result, view), r.statusLine(result)].filter(Boolean).join('\n'),
        view: (result) => [inspectView(result, view, {now: Date.now()}), r.summaryLine(result)].filter(Boolean).join('\n'),
        replies: (result) => [r.repliesTable(result, view), r.summaryLine(result)].filter(Boolean).join('\n'),
        shutdown: (result) => [r.shutdownTable(result, view), r.shutdownLine(result)].filter(Boolean).join('\n'),
      },
      signal: this.interrupt.signal,
    })
    await explorer.run()
  }
}
