import {Flags} from '@oclif/core'
import {rename, unlink, writeFile} from 'node:fs/promises'

import {errorReport, FleetCommand} from '../base-command.js'
import {InterruptedError, UsageError} from '../errors.js'
import {positiveInteger, word} from '../fleet/arguments.js'
import {evaluate, parseMaxQueued, unknown, type Health, type QueueLimit} from '../fleet/health.js'
import {dryRun, perform, type DryRun} from '../fleet/operation.js'
import {awaitedNodes, type Roster} from '../fleet/roster.js'
import {healthText, nagiosLine, prometheusText} from '../render/health.js'
import {safeJson} from '../render/safe.js'

const FORMATS = ['text', 'json', 'nagios', 'prometheus'] as const
type Format = (typeof FORMATS)[number]

export default class Check extends FleetCommand {
  static override summary = 'Health check for cron, Nagios, Prometheus and Kubernetes probes (exit 0/1/2/3).'
  static override description = `Sends Celery's "active_queues" {} once: the reply proves a worker is alive AND shows what it consumes.
  OK        every expected node replied, at least --min-nodes replied, every --queue has a consumer,
            and every node that replied consumes some queue                                   (exit 0)
  WARNING   an expected node is silent (but --min-nodes and the queues hold), or a node answers
            but consumes no queue — alive to ping, yet taking no work — or answered an error (exit 1)
  CRITICAL  fewer than --min-nodes replied (none counts), or a --queue has no consumer         (exit 2)
  UNKNOWN   the broker is unreachable, or the check was misused                               (exit 3)
--max-queued QUEUE=N also reads how many messages wait in QUEUE from the broker (read-only): more than N
is WARNING; QUEUE=W:C makes more than C CRITICAL; a queue RabbitMQ does not have is WARNING.
Returns as soon as every expected node (-d, --expect) replied; otherwise waits --timeout. With a roster
of names (--expect names or @FILE, -d) only its nodes are counted. Without a roster, on Redis, more
mailboxes hearing the request than replied is WARNING. A roster that can never be met (--expect 2 -d w1,
--min-nodes above the expected count) is misuse. --dry-run prints the request and exits 0.`
  static override examples = [
    '<%= config.bin %> check --expect 3 --queue default',
    '<%= config.bin %> check --expect @/etc/wfctl/workers.txt --min-nodes 2 --format nagios',
    '<%= config.bin %> check --min-nodes 1 --textfile /var/lib/node_exporter/textfile/wfctl.prom',
    '<%= config.bin %> check -b amqp://guest:guest@rabbit:5672// --queue celery --format json',
    '<%= config.bin %> check --expect 3 --max-queued default=100:1000 --format nagios',
  ]
  static override flags = {
    ...FleetCommand.targetFlags,
    'min-nodes': Flags.string({summary: 'Fewer replying workers than this is CRITICAL.', default: '1'}),
    queue: Flags.string({char: 'q', summary: 'A queue that must have a consumer (repeatable; commas too).', multiple: true}),
    'max-queued': Flags.string({summary: 'QUEUE=N: WARNING when more than N messages wait in QUEUE; QUEUE=W:C: CRITICAL above C too (repeatable).', multiple: true}),
    format: Flags.option({summary: 'Output format.', options: FORMATS, default: 'text' as const})(),
    textfile: Flags.string({summary: "Also write the Prometheus output to this file, atomically (node_exporter's textfile collector)."}),
    ...FleetCommand.dryRunFlags,
  }

  private format: Format = 'text'

  async run(): Promise<Health | DryRun | undefined> {
    const started = performance.now()
    let health: Health
    let minNodes = 1
    let queues: string[] = []
    let maxQueued: QueueLimit[] = []
    let textfile: string | undefined
    try {
      this.format = formatOf(this.argv)
      const {flags} = await this.parse(Check)
      this.format = flags.format
      textfile = flags.textfile
      minNodes = positiveInteger(flags['min-nodes'], '--min-nodes')
      queues = [...new Set((flags.queue ?? []).flatMap((q) => q.split(',')).map((q) => word(q, '--queue')))]
      maxQueued = parseMaxQueued(flags['max-queued'] ?? [])
      if (textfile !== undefined && textfile.trim() === '') throw new UsageError('--textfile needs a path')
      const plan = this.plan(flags, 'active_queues')
      const expected = expectedCount(plan.target.destination, plan.roster)
      if (expected !== null && minNodes > expected) {
        throw new UsageError(`--min-nodes ${minNodes} is above the ${expected} expected ${expected === 1 ? 'worker' : 'workers'}: lower --min-nodes, or expect more`)
      }
      if (flags['dry-run']) {
        // Nothing is checked: the request is shown, the exit is 0, no textfile is written.
        if (this.format !== 'json' || this.jsonEnabled()) return await this.dryRun(plan)
        const dry = await dryRun(plan)
        this.log(safeJson(dry, 2))
        return dry
      }
      let result
      let depths
      if (maxQueued.length === 0) {
        ;({result} = await this.send(plan))
      } else {
        // The depths on the same connection, read before the request: perform() closes it after.
        const operation = await this.open(plan.session)
        depths = await operation.queueDepths(maxQueued.map((l) => l.queue))
        const done = await perform(plan, operation)
        if (done.cleanup) this.notice(`warning: ${done.cleanup.message}`)
        result = done.result
      }
      health = evaluate(result, {roster: plan.roster, destination: plan.target.destination, minNodes, queues, maxQueued, depths})
    } catch (error) {
      if (error instanceof InterruptedError) throw error
      health = unknown(errorReport(error as Error).message, {minNodes, queues, maxQueued}, Math.round(performance.now() - started))
    }
    if (textfile !== undefined) {
      try {
        await writeAtomically(textfile, prometheusText(health))
      } catch (error) {
        health = unknown(`cannot write ${textfile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {minNodes, queues, maxQueued}, health.elapsedMs)
      }
    }
    this.setExitCode(health.code)
    if (this.jsonEnabled()) return health
    if (this.format === 'json') this.log(safeJson(health, 2))
    else if (this.format === 'nagios') this.log(nagiosLine(health))
    else if (this.format === 'prometheus') process.stdout.write(prometheusText(health))
    else this.log(healthText(health))
    return health
  }
}

/** How many workers the roster (--expect) or -d says must answer, else null. */
function expectedCount(destination: string[], roster: Roster | undefined): number | null {
  if (roster && 'count' in roster) return roster.count
  const names = awaitedNodes(destination, roster)
  return names.length > 0 ? names.length : null
}

/** The format asked for, read before parsing so that even a parse error answers in it. */
function formatOf(argv: string[]): Format {
  if (argv.includes('--json')) return 'json'
  const i = argv.findIndex((a) => a === '--format' || a.startsWith('--format='))
  const value = i < 0 ? undefined : argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1]
  return FORMATS.includes(value as Format) ? (value as Format) : 'text'
}

/** Temporary file beside the target, then rename: readers never see half a file. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  try {
    await writeFile(tmp, content, {mode: 0o644})
    await rename(tmp, path)
  } catch (error) {
    await unlink(tmp).catch(() => {})
    throw error
  }
}
