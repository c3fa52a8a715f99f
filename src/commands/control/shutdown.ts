import {Flags} from '@oclif/core'

import {durationMs} from '../../fleet/arguments.js'
import {FleetCommand} from '../../base-command.js'
import {ExitCode, UsageError} from '../../errors.js'
import {whom} from '../../fleet/methods.js'
import {completionOf} from '../../fleet/roster.js'
import {shutdownNodes, type ShutdownResult} from '../../fleet/shutdown.js'

export default class ControlShutdown extends FleetCommand {
  static override summary = 'Shut workers down (warm: running tasks finish first), and verify they stopped.'
  static override description = `Sends Celery's "shutdown" with --reason as the message each worker logs. Workers never reply to it, so
wfctl then pings the targeted nodes until they stop answering, for up to --wait seconds, and reports each
as stopped or still running. Refuses to reach every worker unless --all is given; asks for confirmation on
a terminal (skip with --yes) and refuses without one unless --yes.`
  static override examples = [
    '<%= config.bin %> control shutdown -d celery@web1 --reason "deploy 2026-11-21"',
    '<%= config.bin %> control shutdown --pattern "celery@batch-*" --yes --wait 30',
    '<%= config.bin %> control shutdown --all --yes --no-wait',
    '<%= config.bin %> control shutdown -d celery@web1 --dry-run',
  ]
  static override flags = {
    ...FleetCommand.targetFlags,
    reason: Flags.string({summary: 'Why: sent as the message each worker logs.'}),
    wait: Flags.string({summary: 'Seconds to verify that the targeted nodes stopped.', default: '10'}),
    'no-wait': Flags.boolean({summary: 'Return right after publishing, without verifying.'}),
    all: Flags.boolean({summary: 'Shut down every worker on this broker (required when no -d or --pattern is given).'}),
    ...FleetCommand.confirmFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run(): Promise<ShutdownResult | object> {
    const {flags} = await this.parse(ControlShutdown)
    const opts = this.sessionOptions(flags)
    const target = this.target(flags)
    const addressed = target.destination.length > 0 || target.pattern !== undefined
    if (!addressed && !flags.all) throw new UsageError('shutdown would reach every worker: pass --all, or address nodes with -d or --pattern')
    if (addressed && flags.all) throw new UsageError('--all cannot be combined with -d or --pattern')
    const waitMs = flags['no-wait'] ? undefined : durationMs(flags.wait, '--wait')
    const pingTimeoutMs = this.timeoutMs(flags)
    const reason = flags.reason ?? `shutdown requested by wfctl (${this.operator()})`
    const args = {msg: reason}
    if (flags['dry-run']) return this.dryRun(opts, 'shutdown', args, target, false)

    await this.confirm(`Shut down ${whom(target)} on ${opts.url.masked}?`, flags.yes)

    const session = await this.connect(opts)
    let targets = target.destination
    let notRunning: string[] = []
    if (waitMs !== undefined) {
      // Learn who is running now, so that "stopped" means something afterwards.
      const before = await session.mailbox.call({
        method: 'ping', ...target, timeoutMs: pingTimeoutMs,
        isComplete: completionOf(target.destination, undefined), signal: this.interrupt.signal,
      })
      const running = new Set(before.replies.map((r) => r.node))
      notRunning = target.destination.filter((n) => !running.has(n))
      targets = target.destination.length > 0 ? target.destination.filter((n) => running.has(n)) : [...running].sort()
    }
    const result = await shutdownNodes(session.mailbox, {...target, reason, waitMs, pingTimeoutMs, targets, signal: this.interrupt.signal}, notRunning)

    // 0 only when every targeted node was seen running and then seen stopping (contract §7).
    const verifiedAll = targets.length > 0 && result.running.length === 0 && notRunning.length === 0
    process.exitCode = !result.verified || verifiedAll ? ExitCode.ok : ExitCode.partial
    if (this.jsonEnabled()) return result
    const r = await this.render()
    const table = r.shutdownTable(result, this.view(flags))
    if (table) this.log(table)
    this.log(r.shutdownLine(result))
    if (result.verified && targets.length === 0 && notRunning.length === 0) {
      this.logToStderr('no worker answered a ping before the shutdown was sent, so none could be verified')
    }
    return result
  }
}
