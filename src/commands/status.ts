import {FleetCommand} from '../base-command.js'
import type {DryRun} from '../fleet/operation.js'
import type {FleetResult} from '../fleet/outcome.js'

export default class Status extends FleetCommand {
  static override summary = 'List the worker nodes online, like `celery status`.'
  static override description = `Sends one "ping" and lists the nodes that answered, with their reply time.
Exit 0 when nodes are online (and every expected node answered), 1 when expected nodes are missing, 69 when none answered.`
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --expect 4',
    '<%= config.bin %> status -b redis://cache:6379/1 --json',
    '<%= config.bin %> status --dry-run',
  ]
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run(): Promise<FleetResult | DryRun> {
    const {flags} = await this.parse(Status)
    const plan = this.plan(flags, 'ping')
    if (flags['dry-run']) return this.dryRun(plan)
    const {result, address} = await this.send(plan)
    return this.report(result, address, flags, 'status')
  }
}
