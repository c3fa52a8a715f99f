import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {UsageError} from '../../errors.js'

export default class ControlCancelConsumer extends FleetCommand {
  static override summary = 'Tell workers to stop consuming from a queue.'
  static override description = `Sends Celery's "cancel_consumer" with the queue. Running tasks finish; no new ones are taken
from that queue. Workers reply before the change is applied.`
  static override examples = [
    '<%= config.bin %> control cancel-consumer reports -d celery@web1',
    '<%= config.bin %> control cancel-consumer default --pattern "celery@batch-*" --dry-run',
  ]
  static override args = {queue: Args.string({description: 'Queue to stop consuming from.', required: true})}
  static override flags = {
    ...FleetCommand.targetFlags,
    'dry-run': Flags.boolean({summary: 'Print the exact request and send nothing.'}),
  }

  async run() {
    const {args, flags} = await this.parse(ControlCancelConsumer)
    const opts = this.sessionOptions(flags)
    if (args.queue.trim() === '') throw new UsageError('QUEUE must not be empty')
    const request = {queue: args.queue}
    if (flags['dry-run']) return this.dryRun(opts, 'cancel_consumer', request, this.target(flags), true, this.timeoutMs(flags))
    const {result, address} = await this.collect(opts, flags, 'cancel_consumer', request)
    return this.report(result, address, flags)
  }
}
