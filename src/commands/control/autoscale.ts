import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {autoscaleBounds} from '../../fleet/arguments.js'
import {whom} from '../../fleet/methods.js'

export default class ControlAutoscale extends FleetCommand {
  static override summary = 'Change the autoscale range (max and min pool size) of workers.'
  static override description = `Sends Celery's "autoscale" {"max": MAX, "min": MIN}. Only workers started with --autoscale
accept it; others answer "Autoscale not enabled". Sent to more than one node it is destructive:
confirmation on a terminal, --yes without one.`
  static override examples = [
    '<%= config.bin %> control autoscale 10 3 -d celery@web1',
    '<%= config.bin %> control autoscale 8 2 --pattern "celery@batch-*" --yes',
  ]
  static override args = {
    max: Args.string({description: 'Most pool processes (a positive integer).', required: true}),
    min: Args.string({description: 'Fewest pool processes (0 or more, at most MAX).', required: true}),
  }
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.confirmFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {args, flags} = await this.parse(ControlAutoscale)
    const bounds = autoscaleBounds(args.max, args.min)
    return this.perform(flags, 'autoscale', bounds, 'replies', (target) => `Set autoscale max=${bounds.max} min=${bounds.min} on ${whom(target)}`)
  }
}
