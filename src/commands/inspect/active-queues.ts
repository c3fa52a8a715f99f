import {FleetCommand} from '../../base-command.js'

export default class InspectActiveQueues extends FleetCommand {
  static override summary = 'List the queues workers consume from.'
  static override description = `Sends Celery's "active_queues" {}: each queue a worker consumes, with its exchange and routing key.`
  static override examples = ['<%= config.bin %> inspect active-queues', '<%= config.bin %> inspect active-queues -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectActiveQueues)
    return this.perform(flags, 'active_queues', {}, this.inspectTable())
  }
}
