import {Flags} from '@oclif/core'

import {FleetCommand} from '../base-command.js'
import {BrokerError, UsageError} from '../errors.js'
import {durationMs, positiveInteger, word} from '../fleet/arguments.js'
import {plural} from '../words.js'

export default class Simulate extends FleetCommand {
  static override summary = 'Run N simulated Celery workers in this process, for demos, tests and benchmarks.'
  static override description = `Each simulated worker is a Celery-compatible responder (wfctl's WorkerResponder): it listens on its
mailbox, answers ping, stats, active_queues, registered, conf and the other inspect commands with
plausible payloads, applies add/cancel consumer, pool and limit changes to its later answers, sends
worker-online / worker-heartbeat / worker-offline events, and stops when a shutdown addresses it.
Real clients list them: \`celery status\`, \`celery inspect ping\`, Flower. Sends no request itself.
Runs until every worker was shut down remotely, --duration passes, or Ctrl-C (which stops them all and
removes every mailbox they created).`
  static override examples = [
    '<%= config.bin %> simulate --workers 5',
    '<%= config.bin %> simulate --workers 10000 --heartbeat 30 --duration 300',
    '<%= config.bin %> simulate --workers 3 --name-prefix batch- --hostname demo --queues celery,reports -b amqp://guest:guest@localhost:5672//',
  ]
  static override enableJsonFlag = false
  static override flags = {
    workers: Flags.string({char: 'n', summary: 'How many workers to simulate.', default: '3'}),
    'name-prefix': Flags.string({summary: 'Node names are PREFIX1@HOST … PREFIXN@HOST.', default: 'sim'}),
    hostname: Flags.string({summary: "The host part of node names (default: this machine's name)."}),
    queues: Flags.string({summary: 'Queues each worker consumes (comma-separated).', default: 'celery'}),
    concurrency: Flags.string({char: 'c', summary: 'Pool size each worker reports.', default: '4'}),
    heartbeat: Flags.string({summary: 'Seconds between worker-heartbeat events.', default: '2'}),
    duration: Flags.string({summary: 'Stop after this many seconds (default: run until stopped).'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Simulate)
    const opts = this.sessionOptions(flags)
    if (opts.url.scheme === 'sentinel') throw new UsageError("wfctl simulate does not go through Sentinel: give the simulated fleet the master's redis:// URL")
    const workers = positiveInteger(flags.workers, '--workers')
    const concurrency = positiveInteger(flags.concurrency, '--concurrency')
    const queues = flags.queues.split(',').map((q) => word(q, '--queues'))
    const prefix = flags['name-prefix']
    if (!/^[A-Za-z0-9_.-]*$/.test(prefix)) throw new UsageError(`--name-prefix may hold letters, digits, "_", "." and "-", got ${JSON.stringify(prefix)}`)
    if (flags.hostname !== undefined && !/^[A-Za-z0-9_.-]+$/.test(flags.hostname)) throw new UsageError(`invalid --hostname ${JSON.stringify(flags.hostname)}`)
    const heartbeat = durationMs(flags.heartbeat, '--heartbeat') / 1000
    const durationLimitMs = flags.duration === undefined ? undefined : durationMs(flags.duration, '--duration')

    const {SimulatedFleet} = await import('../agent/fleet.js')
    const fleet = new SimulatedFleet()
    const stopOnInterrupt = () => void fleet.stop()
    this.interrupt.signal.addEventListener('abort', stopOnInterrupt, {once: true})
    let timer: NodeJS.Timeout | undefined
    try {
      const started = performance.now()
      await fleet.start({
        brokerUrl: this.brokerSettings().broker.value,
        controlExchange: opts.namespace.controlExchange,
        redisKeyPrefix: opts.namespace.redisKeyPrefix,
        workers,
        namePrefix: prefix,
        hostname: flags.hostname,
        queues,
        concurrency,
        heartbeatSeconds: heartbeat,
        connectTimeoutMs: opts.connectTimeoutMs,
        tls: opts.tls,
        onLog: (entry) => {
          if (entry.level !== 'info') this.logToStderr(`${entry.level}: ${entry.node ? `${entry.node}: ` : ''}${entry.message}`)
        },
      })
      if (this.interrupt.signal.aborted) return
      const names = fleet.nodes
      const shown = names.length <= 3 ? names.join(', ') : `${names[0]}, ${names[1]} … ${names.at(-1)}`
      this.logToStderr(`${plural(names.length, 'simulated worker')} (${shown}) on ${opts.url.masked}, up in ${Math.round(performance.now() - started)} ms; Ctrl-C stops them`)
      if (durationLimitMs !== undefined) timer = setTimeout(() => void fleet.stop(), durationLimitMs)
      await fleet.done()
      if (!this.interrupt.signal.aborted) this.logToStderr(durationLimitMs !== undefined && fleet.nodes.length === 0 ? 'stopped' : 'every simulated worker was shut down')
    } catch (error) {
      if (this.interrupt.signal.aborted) return
      throw error instanceof UsageError || error instanceof BrokerError ? error : new BrokerError(`simulated fleet stopped: ${(error as Error).message}`)
    } finally {
      clearTimeout(timer)
      this.interrupt.signal.removeEventListener('abort', stopOnInterrupt)
      await fleet.stop()
    }
  }
}
