import {Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {ExitCode, UsageError} from '../../errors.js'
import {durationMs} from '../../fleet/arguments.js'
import {drain, drainExitCode, type DrainProgress, type DrainResult} from '../../fleet/drain.js'
import {whom} from '../../fleet/methods.js'
import {dryRun, planRequest, planShutdown, SHUTDOWN_WAIT_SECONDS, type DryRun} from '../../fleet/operation.js'
import type {View} from '../../render/text.js'
import {brokerName} from '../../fleet/session.js'

/** Seconds drain waits for the nodes to become idle, unless told otherwise (--wait). */
const DRAIN_WAIT_SECONDS = 600

/** What --dry-run prints: the requests drain would send, in order, none of them sent. */
interface DrainDryRun {
  dryRun: true
  broker: string
  address: string
  steps: {step: string; repeat?: string; request: DryRun}[]
}

export default class ControlDrain extends FleetCommand {
  static override summary = 'Drain workers for maintenance: stop them taking work, wait until idle, optionally shut them down.'
  static override description = `For each targeted node: cancels every queue it consumes (printing the exact add-consumer lines
that restore them), then waits until it has no active and no reserved task, for up to --wait seconds,
showing the progress on a terminal. With --shutdown, the drained nodes are then shut down — idle, so
they stop at once. ETA/countdown tasks a node holds are reported: they go back to the broker when it
stops. Refuses to reach every worker unless --all is given; asks for confirmation on a terminal (skip
with --yes) and refuses without one unless --yes. Exits 0 when every node drained (and stopped, with
--shutdown), 1 otherwise.`
  static override examples = [
    '<%= config.bin %> control drain -d celery@old1 --shutdown --yes --wait 1800',
    '<%= config.bin %> control drain --pattern "celery@old-*" --yes --json',
    '<%= config.bin %> control drain --all --dry-run',
  ]
  static override flags = {
    destination: FleetCommand.targetFlags.destination,
    pattern: FleetCommand.targetFlags.pattern,
    matcher: FleetCommand.targetFlags.matcher,
    timeout: FleetCommand.targetFlags.timeout,
    wait: Flags.string({summary: 'Seconds to wait for the nodes to have no active and no reserved task.', default: String(DRAIN_WAIT_SECONDS)}),
    shutdown: Flags.boolean({summary: 'Shut the drained nodes down once idle (a node not drained within --wait is left running).'}),
    reason: Flags.string({summary: 'Why: sent with --shutdown as the message each worker logs.'}),
    all: Flags.boolean({summary: 'Drain every worker on this broker (required when no -d or --pattern is given).'}),
    ...FleetCommand.confirmFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run(): Promise<DrainResult | DrainDryRun> {
    const {flags} = await this.parse(ControlDrain)
    const target = this.explicitTarget(flags, 'drain')
    if (flags.reason !== undefined && flags.reason.trim() === '') throw new UsageError('--reason must not be empty')
    const session = this.sessionOptions(flags)
    const timeoutMs = this.timeoutMs(flags)
    const waitMs = durationMs(flags.wait, '--wait')
    const reason = flags.reason ?? `drained and shut down by wfctl (${this.operator()})`
    // Both checked now: a pattern the workers would choke on is refused before anything connects.
    const ask = planRequest({session, method: 'active_queues', args: {}, target, timeoutMs})
    const stop = planShutdown({session, target, reason, waitMs: SHUTDOWN_WAIT_SECONDS * 1000, pingTimeoutMs: timeoutMs})
    if (flags['dry-run']) return this.drainDryRun(ask, stop, flags.shutdown, waitMs)

    const what = flags.shutdown ? 'cancel every queue they consume, wait until idle, then shut them down' : 'cancel every queue they consume and wait until idle'
    await this.confirm(`Drain ${whom(target)} (${what}) on ${brokerName(session)}?`, flags.yes)

    // The audit log records the drain (its arguments, each node's outcome, the exit code) once it is done.
    this.auditBegin({method: 'drain', args: {shutdown: flags.shutdown, waitSeconds: waitMs / 1000, ...(flags.shutdown ? {msg: reason} : {})}, target, broker: session.url.masked})
    const operation = await this.open(session)
    const restoreFlags = [
      ...(session.namespace.controlExchange === 'celery' ? [] : ['--control-exchange', session.namespace.controlExchange]),
      ...(session.namespace.redisKeyPrefix ? ['--redis-key-prefix', session.namespace.redisKeyPrefix] : []),
    ]
    const progress = await this.progressView(flags)
    let result: DrainResult
    try {
      result = await drain(operation, {
        target, timeoutMs, waitMs, restoreFlags,
        shutdown: flags.shutdown ? {reason, waitMs: SHUTDOWN_WAIT_SECONDS * 1000} : undefined,
        onProgress: progress.show,
        signal: this.interrupt.signal,
      })
    } finally {
      progress.end()
    }
    return this.reportDrain(result, flags, session.url.kind)
  }

  private async drainDryRun(ask: ReturnType<typeof planRequest>, stop: ReturnType<typeof planShutdown>, shutdown: boolean, waitMs: number): Promise<DrainDryRun> {
    const first = await dryRun(ask)
    const each = (method: string, args: Record<string, unknown>) => dryRun(planRequest({...ask, method, args}))
    const steps: DrainDryRun['steps'] = [
      {step: 'ask each targeted node which queues it consumes', request: first},
      {step: 'cancel each queue a node consumes', repeat: 'once per queue and node, addressed to that node alone (-d NODE)', request: await each('cancel_consumer', {queue: '<QUEUE>'})},
      {step: 'see the cancelled queues gone', repeat: `every round until --wait (${waitMs / 1000}s) runs out, to the nodes still draining`, request: await each('active_queues', {})},
      ...(await Promise.all(['active', 'reserved', 'scheduled'].map(async (m) => ({step: `count ${m} tasks`, repeat: 'every round, to the nodes still draining', request: await each(m, {})})))),
      ...(shutdown ? [{step: 'shut the drained nodes down, then verify they stopped', repeat: 'once, addressed to the drained nodes (-d)', request: await dryRun(stop)}] : []),
    ]
    const out: DrainDryRun = {dryRun: true, broker: first.broker, address: first.address, steps}
    if (!this.jsonEnabled()) {
      this.log('dry run: nothing was sent')
      this.log(`broker:  ${out.broker}`)
      this.log(`to:      ${out.address}`)
      steps.forEach((s, i) => {
        this.log(`${i + 1}. ${s.step}${s.repeat ? ` (${s.repeat})` : ''}:`)
        this.log(`   ${JSON.stringify(s.request.body)}`)
      })
    }
    return out
  }

  /** The live view: a table redrawn on stderr on a terminal, plain lines when counts change without one, nothing under --json. */
  private async progressView(flags: {'no-color'?: boolean}): Promise<{show?: (p: DrainProgress) => void; end: () => void}> {
    if (this.jsonEnabled()) return {end: () => {}}
    const r = await import('../../render/drain.js')
    if (process.stderr.isTTY) {
      let drawn = 0
      const view: View = {color: !flags['no-color'] && !('NO_COLOR' in process.env), columns: process.stderr.columns || 120}
      return {
        show: (p) => {
          const table = r.progressTable(p, view)
          process.stderr.write(`${drawn > 0 ? `\u001b[${drawn}A\u001b[J` : ''}${table}\n`)
          drawn = table.split('\n').length
        },
        end: () => {
          if (drawn > 0) process.stderr.write(`\u001b[${drawn}A\u001b[J`)
          drawn = 0
        },
      }
    }
    const last = new Map<string, string>()
    return {
      show: (p) => r.progressLines(p, last).forEach((line) => this.notice(line)),
      end: () => {},
    }
  }

  private async reportDrain(result: DrainResult, flags: {'no-color'?: boolean}, broker: string): Promise<DrainResult> {
    this.setExitCode(result.interrupted ? ExitCode.interrupted : drainExitCode(result))
    this.auditResult(result)
    const r = await import('../../render/drain.js')
    if (result.interrupted) {
      this.notice(`interrupted while ${result.interrupted}: ${r.cancelledSummary(result)}`)
      // The restore lines go to stderr too, so that they are seen even when stdout is a file.
      if (!this.jsonEnabled()) for (const line of r.restoreLines(result)) this.notice(line)
      return result
    }
    if (this.jsonEnabled()) return result
    const table = r.drainTable(result, this.view(flags))
    if (table) this.log(table)
    this.log(r.drainLine(result))
    for (const line of r.restoreLines(result)) this.log(line)
    for (const line of r.scheduledNotes(result, broker)) this.notice(line)
    if (result.shutdownRequested && result.notDrained.length > 0) this.notice(`note: not shut down, as they were not drained: ${result.notDrained.join(', ')}`)
    return result
  }
}
