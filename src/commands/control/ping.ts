import {FleetCommand} from '../../base-command.js'
import type {DryRun} from '../../fleet/operation.js'
import type {FleetResult} from '../../fleet/outcome.js'

export default class ControlPing extends FleetCommand {
  static override summary = 'Ping workers: who is alive, and how fast they answer.'
  static override description = `Sends Celery's "ping" request; every addressed worker replies {"ok": "pong"}.
Returns as soon as every destination or expected node has replied (-d, --expect), else after --timeout.`
  static override examples = [
    '<%= config.bin %> control ping',
    '<%= config.bin %> control ping -d celery@web1,celery@web2',
    '<%= config.bin %> control ping --expect 3 -t 2 --json',
    '<%= config.bin %> control ping -b amqp://guest:guest@rabbit:5672// --expect @workers.txt',
    '<%= config.bin %> control ping -d celery@web1 --dry-run',
  ]
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run(): Promise<FleetResult | DryRun> {
    const {flags} = await this.parse(ControlPing)
    const plan = this.plan(flags, 'ping')
    if (flags['dry-run']) return this.dryRun(plan)
    const {result, address} = await this.send(plan)
    return this.report(result, address, flags)
  }
}
