import {FleetCommand} from '../../base-command.js'

export default class ControlHeartbeat extends FleetCommand {
  static override summary = 'Make workers send a worker-heartbeat event now.'
  static override description = `Sends Celery's "heartbeat" {}: each worker emits one worker-heartbeat event at once (monitors use
it to discover workers) and replies null. A worker with events switched off entirely answers with an error.`
  static override examples = ['<%= config.bin %> control heartbeat', '<%= config.bin %> control heartbeat -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(ControlHeartbeat)
    return this.perform(flags, 'heartbeat', {})
  }
}
