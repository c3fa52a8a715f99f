import {FleetCommand} from '../../base-command.js'

export default class ControlEnableEvents extends FleetCommand {
  static override summary = 'Turn on task events on workers.'
  static override description = `Sends Celery's "enable_events" {}: workers start sending task-* events (for Flower or \`celery events\`).
A worker started with -E already sends every event group and answers "task events already enabled".`
  static override examples = ['<%= config.bin %> control enable-events', '<%= config.bin %> control enable-events -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(ControlEnableEvents)
    return this.perform(flags, 'enable_events', {})
  }
}
