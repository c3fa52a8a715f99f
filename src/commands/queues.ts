import {Flags} from '@oclif/core'

import {FleetCommand} from '../base-command.js'
import {UsageError} from '../errors.js'
import {word} from '../fleet/arguments.js'
import {queuesExitCode, queuesJson, readQueues, type QueuesJson} from '../fleet/queues.js'

export default class Queues extends FleetCommand {
  static override summary = 'Show how many messages wait in each queue, and how many consumers it has.'
  static override description = `Sends Celery's "active_queues" {} once to learn which queues the workers consume (skip it with
--no-ask), adds the queues bound in kombu's binding sets (Redis) and every --queue, then reads each
queue's depth from the broker, read-only: LLEN of the queue and its priority lists on Redis, a passive
declare on RabbitMQ (no management plugin needed; nothing is created). CONSUMERS is the broker's
count on RabbitMQ, and on Redis the workers that answered and consume the queue.
Exit 0 when every depth was read (even if no worker answered), 1 when a depth could not be read or
a -d / --expect node was silent, 69 when no queue was found and no worker answered.`
  static override examples = [
    '<%= config.bin %> queues',
    '<%= config.bin %> queues --queue default --queue reports --json',
    '<%= config.bin %> queues --no-ask --priorities',
    '<%= config.bin %> queues -b amqp://guest:guest@rabbit:5672// -t 2',
  ]
  static override flags = {
    ...FleetCommand.targetFlags,
    queue: Flags.string({char: 'q', summary: 'A queue to show, whether or not anyone consumes it (repeatable; commas too).', multiple: true}),
    'no-ask': Flags.boolean({summary: 'Send no broadcast: only the queues the broker knows (Redis) and --queue; no consumer counts on Redis.'}),
    priorities: Flags.boolean({summary: "Show each priority list of a Redis queue (kombu's 0-2, 3-5, 6-8 and 9)."}),
  }

  async run(): Promise<QueuesJson> {
    const {flags} = await this.parse(Queues)
    const queues = [...new Set((flags.queue ?? []).flatMap((q) => q.split(',')).map((q) => word(q, '--queue')))]
    const ask = !flags['no-ask']
    const plan = this.plan(flags, 'active_queues')
    const {session} = plan
    if (!ask && (plan.target.destination.length > 0 || plan.target.pattern !== undefined || plan.roster !== undefined)) {
      throw new UsageError('-d, --pattern and --expect say who answers the broadcast, and --no-ask sends none: use one or the other')
    }
    if (flags.priorities && session.url.kind !== 'redis') {
      throw new UsageError('--priorities applies to Redis brokers only (a RabbitMQ queue tells only its total)')
    }
    if (!ask && queues.length === 0 && session.url.kind !== 'redis') {
      throw new UsageError('on RabbitMQ the queue names come from the workers or from --queue: give --queue, or drop --no-ask')
    }
    const operation = await this.open(session)
    const result = await readQueues(operation, {queues, ask, target: plan.target, roster: plan.roster, timeoutMs: plan.timeoutMs, priorities: flags.priorities})
    const cleanup = await operation.close()
    if (cleanup) this.notice(`warning: ${cleanup.message}`)
    this.setExitCode(queuesExitCode(result))
    const out = queuesJson(result)
    if (this.jsonEnabled()) return out
    const r = await import('../render/queues.js')
    const body = r.queuesTable(result, this.view(flags), {priorities: flags.priorities})
    if (body) this.log(body)
    this.log(r.queuesLine(result))
    const asked = result.asked
    if (asked) {
      for (const u of asked.undecodable) this.notice(`warning: ${u.node === undefined ? '' : `${u.node}: `}${u.reason}`)
      const answered = Object.keys(asked.replies).length + Object.keys(asked.errors).length
      if (answered === 0) {
        const t = await this.render()
        const hint = t.silenceHint(asked, operation.address)
        if (hint) this.notice(`hint: ${hint}`)
        else this.notice(`note: no worker answered within --timeout${result.consumersFrom === 'workers' ? ', so on Redis no consumer is counted' : ''} (a busy solo worker answers late: raise -t)`)
      }
    }
    if (result.queues.length === 0) this.notice('note: no queue found: no worker named one, none is bound in this database and key prefix, and no --queue was given')
    return out
  }
}
