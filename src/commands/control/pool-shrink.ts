import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {positiveInteger} from '../../fleet/arguments.js'
import {whom} from '../../fleet/methods.js'

export default class ControlPoolShrink extends FleetCommand {
  static override summary = 'Remove N processes (or threads) from the pool of workers.'
  static override description = `Sends Celery's "pool_shrink" {"n": N}. The worker also lowers its prefetch count. Workers started
with --autoscale refuse it. Sent to more than one node it is destructive: confirmation on a terminal,
--yes without one.`
  static override examples = [
    '<%= config.bin %> control pool-shrink -d celery@web1',
    '<%= config.bin %> control pool-shrink 2 --pattern "celery@batch-*" --yes',
  ]
  static override args = {n: Args.string({description: 'How many processes to remove (a positive integer).', default: '1'})}
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.confirmFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {args, flags} = await this.parse(ControlPoolShrink)
    const n = positiveInteger(args.n, 'N')
    return this.perform(flags, 'pool_shrink', {n}, 'replies', (target) => `Shrink the pool of ${whom(target)} by ${n}`)
  }
}
