import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {word} from '../../fleet/arguments.js'

export default class ControlAddConsumer extends FleetCommand {
  static override summary = 'Tell workers to start consuming from a queue.'
  static override description = `Sends Celery's "add_consumer" with the queue (and optional exchange, type and routing key).
Workers reply before the change is applied; check it with \`celery inspect active_queues\`.`
  static override examples = [
    '<%= config.bin %> control add-consumer reports -d celery@web1',
    '<%= config.bin %> control add-consumer urgent --exchange urgent --exchange-type topic --routing-key "urgent.#"',
    '<%= config.bin %> control add-consumer reports --dry-run',
  ]
  static override args = {queue: Args.string({description: 'Queue to consume from.', required: true})}
  static override flags = {
    ...FleetCommand.targetFlags,
    exchange: Flags.string({summary: 'Exchange to bind the queue to (default: the queue name).'}),
    'exchange-type': Flags.option({summary: 'Exchange type (default: direct).', options: ['direct', 'topic', 'fanout', 'headers'] as const})(),
    'routing-key': Flags.string({summary: 'Binding routing key (default: the queue name).'}),
    ...FleetCommand.reasonFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {args, flags} = await this.parse(ControlAddConsumer)
    const queue = word(args.queue, 'QUEUE')
    const request: Record<string, unknown> = {queue}
    if (flags.exchange !== undefined) request.exchange = word(flags.exchange, '--exchange')
    if (flags['exchange-type'] !== undefined) request.exchange_type = flags['exchange-type']
    if (flags['routing-key'] !== undefined) request.routing_key = word(flags['routing-key'], '--routing-key')
    return this.perform(flags, 'add_consumer', request)
  }
}
