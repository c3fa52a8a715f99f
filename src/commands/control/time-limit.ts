import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {timeLimits, word} from '../../fleet/arguments.js'

export default class ControlTimeLimit extends FleetCommand {
  static override summary = "Set a task type's soft and hard time limits on workers."
  static override description = `Sends Celery's "time_limit" {"task_name": TASK, "soft": SOFT, "hard": HARD} (seconds; HARD
is null when not given). The soft limit raises SoftTimeLimitExceeded in the task, the hard one kills
its process. A worker that does not know the task answers "unknown task". See the new limits with
\`wfctl inspect registered time_limit soft_time_limit\`.`
  static override examples = [
    '<%= config.bin %> control time-limit proj.tasks.report 60 90',
    '<%= config.bin %> control time-limit proj.tasks.report 30 -d celery@web1',
  ]
  static override args = {
    task: Args.string({description: 'Task name, as registered.', required: true}),
    soft: Args.string({description: 'Soft time limit in seconds.', required: true}),
    hard: Args.string({description: 'Hard time limit in seconds (at least SOFT).'}),
  }
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {args, flags} = await this.parse(ControlTimeLimit)
    return this.perform(flags, 'time_limit', {task_name: word(args.task, 'TASK'), ...timeLimits(args.soft, args.hard)})
  }
}
