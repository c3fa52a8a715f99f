import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {rateLimit, word} from '../../fleet/arguments.js'

export default class ControlRateLimit extends FleetCommand {
  static override summary = "Set (or disable) a task type's rate limit on workers."
  static override description = `Sends Celery's "rate_limit" {"task_name": TASK, "rate_limit": RATE}. RATE is tasks per second,
minute or hour (5/s, 10/m, 100/h) or a bare number per second; 0 disables the limit (sent as null).
A worker that does not know the task answers "unknown task". See the new limit with
\`wfctl inspect registered rate_limit\`.`
  static override examples = [
    '<%= config.bin %> control rate-limit proj.tasks.send_mail 10/m',
    '<%= config.bin %> control rate-limit proj.tasks.send_mail 0 -d celery@web1',
  ]
  static override args = {
    task: Args.string({description: 'Task name, as registered.', required: true}),
    rate: Args.string({description: 'Rate: 10/m, 5/s, 100/h, a number per second, or 0 to disable.', required: true}),
  }
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {args, flags} = await this.parse(ControlRateLimit)
    return this.perform(flags, 'rate_limit', {task_name: word(args.task, 'TASK'), rate_limit: rateLimit(args.rate)})
  }
}
