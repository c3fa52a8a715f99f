import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {taskIds} from '../../fleet/arguments.js'

export default class InspectQueryTask extends FleetCommand {
  static override summary = 'Find tasks by id: which worker holds them, and in what state.'
  static override description = `Sends Celery's "query_task" {"ids": [ID...]}. A worker that holds one of the tasks answers with
its state (active, reserved or ready) and details; ids that no node knows are listed as unknown.`
  static override examples = [
    '<%= config.bin %> inspect query-task 8f4a3428-3c5e-4bd3-9b7c-0b1f8c1a2d3e',
    '<%= config.bin %> inspect query-task ID1 ID2 --json',
  ]
  static override strict = false
  static override args = {id: Args.string({description: 'Task id(s) to look for.', required: true})}
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {argv, flags} = await this.parse(InspectQueryTask)
    const ids = taskIds(argv as string[])
    return this.perform(flags, 'query_task', {ids}, this.inspectTable(ids))
  }
}
