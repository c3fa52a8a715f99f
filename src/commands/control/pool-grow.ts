import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {positiveInteger} from '../../fleet/arguments.js'

export default class ControlPoolGrow extends FleetCommand {
  static override summary = 'Add N processes (or threads) to the pool of workers.'
  static override description = `Sends Celery's "pool_grow" {"n": N}. The worker also raises its prefetch count. Workers started
with --autoscale refuse it (adjust the autoscale range instead).`
  static override examples = [
    '<%= config.bin %> control pool-grow -d celery@web1',
    '<%= config.bin %> control pool-grow 4 --pattern "celery@batch-*"',
    '<%= config.bin %> control pool-grow 2 --dry-run',
  ]
  static override args = {n: Args.string({description: 'How many processes to add (a positive integer).', default: '1'})}
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {args, flags} = await this.parse(ControlPoolGrow)
    return this.perform(flags, 'pool_grow', {n: positiveInteger(args.n, 'N')})
  }
}
