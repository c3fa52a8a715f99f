import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {signalName, taskIds} from '../../fleet/arguments.js'
import {whom} from '../../fleet/methods.js'

export default class ControlTerminate extends FleetCommand {
  static override summary = 'Terminate running tasks: signal their processes, and revoke them.'
  static override description = `Sends Celery's "terminate" {"signal": SIGNAL, "task_id": [ID...]}. Each worker running one of the
tasks signals its process and revokes the id; a worker that does not run it answers "terminate: tasks
unknown". Destructive: confirmed on a terminal, --yes without one.`
  static override examples = [
    '<%= config.bin %> control terminate TERM 8f4a3428-3c5e-4bd3-9b7c-0b1f8c1a2d3e',
    '<%= config.bin %> control terminate KILL ID1 ID2 -d celery@web1 --yes',
  ]
  static override strict = false
  static override args = {
    signal: Args.string({description: 'Signal name: TERM, KILL, INT, HUP, USR1...', required: true}),
    id: Args.string({description: 'Task id(s) to terminate.', required: true}),
  }
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.confirmFlags, ...FleetCommand.reasonFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {argv, flags} = await this.parse(ControlTerminate)
    const [signalArg, ...rest] = argv as string[]
    const signal = signalName(signalArg)
    const ids = taskIds(rest)
    return this.perform(flags, 'terminate', {signal, task_id: ids}, 'replies', (target) => `Terminate ${ids.length === 1 ? 'task' : 'tasks'} ${ids.join(', ')} with SIG${signal.replace(/^SIG/, '')} on ${whom(target)}`)
  }
}
