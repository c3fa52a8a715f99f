import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {word} from '../../fleet/arguments.js'
import {whom} from '../../fleet/methods.js'

export default class ControlCancelConsumer extends FleetCommand {
  static override summary = 'Tell workers to stop consuming from a queue.'
  static override description = `Sends Celery's "cancel_consumer" with the queue. Running tasks finish; no new ones are taken
from that queue. Workers reply before the change is applied. Sent to more than one node (no -d, a
--pattern, or several -d) it is destructive — every worker dropping a queue is an outage: confirmation
on a terminal, --yes without one.`
  static override examples = [
    '<%= config.bin %> control cancel-consumer reports -d celery@web1',
    '<%= config.bin %> control cancel-consumer default --pattern "celery@batch-*" --dry-run',
    '<%= config.bin %> control cancel-consumer default -d celery@web1,celery@web2 --yes',
  ]
  static override args = {queue: Args.string({description: 'Queue to stop consuming from.', required: true})}
  static override flags = {
    ...FleetCommand.targetFlags,
    ...FleetCommand.confirmFlags,
    ...FleetCommand.reasonFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {args, flags} = await this.parse(ControlCancelConsumer)
    const queue = word(args.queue, 'QUEUE')
    const request = {queue}
    return this.perform(flags, 'cancel_consumer', request, 'replies', (target) => `Stop ${whom(target)} consuming from queue ${queue}`)
  }
}
