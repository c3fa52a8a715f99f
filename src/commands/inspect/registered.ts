import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {attributeNames} from '../../fleet/arguments.js'

export default class InspectRegistered extends FleetCommand {
  static override summary = 'List the task types workers know, with chosen attributes.'
  static override description = `Sends Celery's "registered" {"taskinfoitems": [ATTR...]} (and "builtins": true with --builtins).
Each worker lists its task names, with the attributes asked for when they are set (by default
exchange, routing_key and rate_limit). Identical rows of several workers are shown once, with the
nodes that have them ("all N" when every node that replied does).`
  static override examples = [
    '<%= config.bin %> inspect registered',
    '<%= config.bin %> inspect registered rate_limit time_limit soft_time_limit',
    '<%= config.bin %> inspect registered --builtins -d celery@web1 --json',
  ]
  static override strict = false
  static override args = {attribute: Args.string({description: 'Task attribute(s) to show, such as rate_limit, time_limit, queue.'})}
  static override flags = {
    ...FleetCommand.targetFlags,
    builtins: Flags.boolean({summary: "Include Celery's own built-in tasks."}),
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {argv, flags} = await this.parse(InspectRegistered)
    const attributes = attributeNames(argv as string[])
    const request: Record<string, unknown> = {}
    if (attributes.length > 0) request.taskinfoitems = attributes
    if (flags.builtins) request.builtins = true
    return this.perform(flags, 'registered', request, this.inspectTable())
  }
}
