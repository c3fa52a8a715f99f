import {FleetCommand} from '../../base-command.js'

export default class InspectReport extends FleetCommand {
  static override summary = 'Show each worker\'s bug report: versions, platform and settings.'
  static override description = `Sends Celery's "report" {}: the text \`celery report\` prints, from each worker.`
  static override examples = ['<%= config.bin %> inspect report', '<%= config.bin %> inspect report -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectReport)
    return this.perform(flags, 'report', {}, this.inspectTable())
  }
}
