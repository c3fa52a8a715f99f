import {FleetCommand} from '../../base-command.js'

export default class InspectReserved extends FleetCommand {
  static override summary = 'List the tasks workers have prefetched and will run next.'
  static override description = `Sends Celery's "reserved" {}: tasks received by the worker but not yet started (prefetched).`
  static override examples = ['<%= config.bin %> inspect reserved', '<%= config.bin %> inspect reserved -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectReserved)
    return this.perform(flags, 'reserved', {}, this.inspectTable())
  }
}
