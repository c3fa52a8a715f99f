import {FleetCommand} from '../../base-command.js'

export default class InspectPing extends FleetCommand {
  static override summary = 'Ping workers (the same as `control ping`), with a table of replies.'
  static override description = `Sends Celery's "ping" {}; every addressed worker replies {"ok": "pong"}.`
  static override examples = ['<%= config.bin %> inspect ping', '<%= config.bin %> inspect ping -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectPing)
    return this.perform(flags, 'ping', {}, this.inspectTable())
  }
}
