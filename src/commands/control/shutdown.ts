import {Flags} from '@oclif/core'

import {durationMs} from '../../fleet/arguments.js'
import {FleetCommand} from '../../base-command.js'
import {whom} from '../../fleet/methods.js'
import {planShutdown, SHUTDOWN_WAIT_SECONDS, type DryRun} from '../../fleet/operation.js'
import type {ShutdownResult} from '../../fleet/shutdown.js'
import {brokerName} from '../../fleet/session.js'

export default class ControlShutdown extends FleetCommand {
  static override summary = 'Shut workers down (warm: running tasks finish first), and verify they stopped.'
  static override description = `Sends Celery's "shutdown" with --reason as the message each worker logs. A worker stops answering
the moment its warm shutdown begins, while its running tasks still finish; so wfctl first asks the targets
what they run ("active"), then pings them until they stop answering, for up to --wait seconds, and reports
each node as stopped (it was idle and went silent), stopping (silent with tasks still running, named: the
process exits when they end), still running, or unknown. With task events on (workers started with -E),
it also watches a stopping node's tasks end within --wait and then reports it stopped. Exit 0 only when
every targeted node is stopped. Refuses to reach every worker unless --all is given; asks for confirmation
on a terminal (skip with --yes) and refuses without one unless --yes.`
  static override examples = [
    '<%= config.bin %> control shutdown -d celery@web1 --reason "deploy 2026-11-21"',
    '<%= config.bin %> control shutdown --pattern "celery@batch-*" --yes --wait 30',
    '<%= config.bin %> control shutdown --all --yes --no-wait',
    '<%= config.bin %> control shutdown -d celery@web1 --dry-run',
  ]
  static override flags = {
    ...FleetCommand.targetFlags,
    reason: Flags.string({summary: 'Why: sent as the message each worker logs.'}),
    wait: Flags.string({summary: 'Seconds to verify that the targeted nodes stopped (and, with task events, that their tasks ended).', default: String(SHUTDOWN_WAIT_SECONDS)}),
    'no-wait': Flags.boolean({summary: 'Return right after publishing, without verifying.'}),
    all: Flags.boolean({summary: 'Shut down every worker on this broker (required when no -d or --pattern is given).'}),
    ...FleetCommand.confirmFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run(): Promise<ShutdownResult | DryRun> {
    const {flags} = await this.parse(ControlShutdown)
    const target = this.explicitTarget(flags, 'shutdown')
    const plan = planShutdown({
      session: this.sessionOptions(flags),
      target,
      reason: flags.reason ?? `shutdown requested by wfctl (${this.operator()})`,
      waitMs: flags['no-wait'] ? undefined : durationMs(flags.wait, '--wait'),
      pingTimeoutMs: this.timeoutMs(flags),
    })
    if (flags['dry-run']) return this.dryRun(plan)
    await this.confirm(`Shut down ${whom(target)} on ${brokerName(plan.session)}?`, flags.yes)
    const {result} = await this.send(plan)
    return this.reportShutdown(result, flags)
  }
}
