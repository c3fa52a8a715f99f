import {FleetCommand} from '../../base-command.js'

export default class InspectRevoked extends FleetCommand {
  static override summary = 'List the task ids workers have revoked.'
  static override description = `Sends Celery's "revoked" {}: the ids in each worker's revoked set (kept in memory, or in --statedb).`
  static override examples = ['<%= config.bin %> inspect revoked', '<%= config.bin %> inspect revoked -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectRevoked)
    return this.perform(flags, 'revoked', {}, this.inspectTable())
  }
}
