import {Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'

export default class InspectActive extends FleetCommand {
  static override summary = 'List the tasks workers are running now.'
  static override description = `Sends Celery's "active" {} ({"safe": true} with --safe). The table shows each task's node, id, name,
arguments and when it started; --json keeps every field of the payload (TaskInfo) as the worker sent it.
With --safe, workers send the arguments as Python repr strings, which cannot fail to serialize.`
  static override examples = [
    '<%= config.bin %> inspect active',
    '<%= config.bin %> inspect active --safe -d celery@web1',
    `<%= config.bin %> inspect active --json | jq '.replies[][].id'`,
  ]
  static override flags = {
    ...FleetCommand.targetFlags,
    safe: Flags.boolean({summary: 'Ask for the arguments as repr strings (safe for any argument type).'}),
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {flags} = await this.parse(InspectActive)
    return this.perform(flags, 'active', flags.safe ? {safe: true} : {}, this.inspectTable())
  }
}
