import {Flags} from '@oclif/core'

import {FleetCommand} from '../base-command.js'
import {ExitCode} from '../errors.js'
import {durationMs} from '../fleet/arguments.js'
import {brokerSource, runDoctor, type DoctorReport} from '../fleet/doctor.js'
import {doctorText} from '../render/doctor.js'


export default class Doctor extends FleetCommand {
  static override summary = 'Explain why workers do not answer: broker, namespaces, leftovers, heartbeats.'
  static override description = `Sends one broadcast ("stats", answered like a ping) and listens to worker heartbeats for --window seconds, then reads the broker's pidbox layout:
  - which broker URL is used and where it came from (-b, an environment variable, a context, airflow.cfg, or the default);
  - Redis: which databases, key prefixes and control exchanges hold worker mailboxes, and the exact
    -b / --redis-key-prefix / --control-exchange to reach them when wfctl looks elsewhere;
    RabbitMQ: whether the pidbox exchange exists in the vhost, and each worker's mailbox queue;
  - reply routes left behind by clients (celery, Flower, wfctl) on Redis; --fix removes them;
  - what heartbeats say: Celery versions, clock skew, workers without a mailbox (remote control
    disabled), solo pools and busy workers that cannot answer.
Exit 0 when nothing is wrong, 1 when something was found (even when --fix removed it), 3 when the broker is unreachable.`
  static override examples = [
    '<%= config.bin %> doctor',
    '<%= config.bin %> doctor -b redis://cache:6379/1 --redis-key-prefix airflow:',
    '<%= config.bin %> doctor --fix',
    '<%= config.bin %> doctor -b amqp://guest:guest@rabbit:5672// --json',
  ]
  static override flags = {
    window: Flags.string({summary: 'Seconds to listen for worker heartbeats (workers send one every 2 s).', default: '2.5'}),
    timeout: Flags.string({char: 't', summary: 'Seconds to wait for replies to the broadcast.', default: '2'}),
    fix: Flags.boolean({summary: 'Remove the reply routes clients left behind (Redis). A client that still runs declares its route again on its next call.'}),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const session = this.sessionOptions(flags)
    const windowMs = durationMs(flags.window, '--window')
    const timeoutMs = Math.min(durationMs(flags.timeout, '--timeout'), windowMs)
    const source = brokerSource(this.brokerSettings().broker.source, session.url.masked)
    const closers: {close(): Promise<unknown>}[] = []
    let report: DoctorReport
    try {
      report = await runDoctor({session, source, windowMs, timeoutMs, fix: flags.fix}, this.interrupt.signal, (c) => closers.push(c))
    } finally {
      for (const c of closers.reverse()) await c.close().catch(() => {})
    }
    this.setExitCode(report.ok ? ExitCode.ok : ExitCode.partial)
    if (this.jsonEnabled()) return report
    this.log(doctorText(report))
    return report
  }
}
