import {FleetCommand} from '../../base-command.js'

export default class ControlDisableEvents extends FleetCommand {
  static override summary = 'Turn off task events on workers.'
  static override description = `Sends Celery's "disable_events" {}: workers stop sending task-* events (worker-* events go on).
A worker started with -E sends every group and answers "task events already disabled", unchanged.`
  static override examples = ['<%= config.bin %> control disable-events', '<%= config.bin %> control disable-events -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(ControlDisableEvents)
    return this.perform(flags, 'disable_events', {})
  }
}
