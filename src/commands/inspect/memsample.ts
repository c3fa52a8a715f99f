import {FleetCommand} from '../../base-command.js'

export default class InspectMemsample extends FleetCommand {
  static override summary = 'Sample the memory use of workers.'
  static override description = `Sends Celery's "memsample" {}: the worker's current RSS (needs psutil on the worker, else n/a).`
  static override examples = ['<%= config.bin %> inspect memsample', '<%= config.bin %> inspect memsample -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectMemsample)
    return this.perform(flags, 'memsample', {}, this.inspectTable())
  }
}
