import {FleetCommand} from '../../base-command.js'

export default class InspectClock extends FleetCommand {
  static override summary = 'Show workers\' logical (Lamport) clocks.'
  static override description = `Sends Celery's "clock" {}: each worker's application clock.`
  static override examples = ['<%= config.bin %> inspect clock', '<%= config.bin %> inspect clock -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectClock)
    return this.perform(flags, 'clock', {}, this.inspectTable())
  }
}
