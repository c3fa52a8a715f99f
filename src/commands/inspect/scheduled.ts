import {FleetCommand} from '../../base-command.js'

export default class InspectScheduled extends FleetCommand {
  static override summary = 'List the tasks workers hold for a later time (ETA or countdown).'
  static override description = `Sends Celery's "scheduled" {}: tasks with an ETA or countdown that the worker holds until then.
The table shows each ETA in UTC and how far off it is.`
  static override examples = ['<%= config.bin %> inspect scheduled', '<%= config.bin %> inspect scheduled -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectScheduled)
    return this.perform(flags, 'scheduled', {}, this.inspectTable())
  }
}
