import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {terminateArguments, taskIds} from '../../fleet/arguments.js'
import {whom} from '../../fleet/methods.js'

export default class ControlRevoke extends FleetCommand {
  static override summary = 'Revoke tasks by id: workers discard them; with --terminate, running ones are killed.'
  static override description = `Sends Celery's "revoke" {"task_id": [ID...]} (with "terminate": true and "signal" when asked).
Workers add the ids to their revoked set (see \`wfctl inspect revoked\`) and skip those tasks when
they arrive. A task already running goes on unless --terminate, which signals its process (TERM by
default): that is destructive, so it is confirmed on a terminal and needs --yes without one.`
  static override examples = [
    '<%= config.bin %> control revoke 8f4a3428-3c5e-4bd3-9b7c-0b1f8c1a2d3e',
    '<%= config.bin %> control revoke ID1 ID2 --terminate --signal KILL --yes',
  ]
  static override strict = false
  static override args = {id: Args.string({description: 'Task id(s) to revoke.', required: true})}
  static override flags = {
    ...FleetCommand.targetFlags,
    terminate: Flags.boolean({summary: 'Also terminate the tasks if they are running (destructive).'}),
    signal: Flags.string({summary: 'Signal for --terminate (default TERM): TERM, KILL, INT, HUP, USR1...'}),
    ...FleetCommand.confirmFlags,
    ...FleetCommand.reasonFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {argv, flags} = await this.parse(ControlRevoke)
    const ids = taskIds(argv as string[])
    const request: Record<string, unknown> = {task_id: ids, ...terminateArguments(flags.terminate, flags.signal)}
    return this.perform(flags, 'revoke', request, 'replies', (target) => `Terminate ${ids.length === 1 ? 'task' : 'tasks'} ${ids.join(', ')} with SIG${String(request.signal).replace(/^SIG/, '')} on ${whom(target)}`)
  }
}
