import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {terminateArguments, stampedHeaders} from '../../fleet/arguments.js'
import {whom} from '../../fleet/methods.js'

export default class ControlRevokeByStampedHeaders extends FleetCommand {
  static override summary = 'Revoke tasks by stamped header values (Celery 5.3+ workers).'
  static override description = `Sends Celery's "revoke_by_stamped_headers" {"headers": {KEY: VALUE or [VALUES]}} (with
"terminate": true and "signal" when asked). A key given twice matches either value. Workers older than
Celery 5.3 answer KeyError('revoke_by_stamped_headers'). With --terminate it is destructive: confirmed
on a terminal, --yes without one.`
  static override examples = [
    '<%= config.bin %> control revoke-by-stamped-headers tenant=acme',
    '<%= config.bin %> control revoke-by-stamped-headers batch=42 batch=43 --terminate --yes',
  ]
  static override strict = false
  static override args = {header: Args.string({description: 'Stamped header KEY=VALUE; several allowed.', required: true})}
  static override flags = {
    ...FleetCommand.targetFlags,
    terminate: Flags.boolean({summary: 'Also terminate matching tasks that are running (destructive).'}),
    signal: Flags.string({summary: 'Signal for --terminate (default TERM).'}),
    ...FleetCommand.confirmFlags,
    ...FleetCommand.reasonFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {argv, flags} = await this.parse(ControlRevokeByStampedHeaders)
    const headers = stampedHeaders(argv as string[])
    const request: Record<string, unknown> = {headers, ...terminateArguments(flags.terminate, flags.signal)}
    return this.perform(flags, 'revoke_by_stamped_headers', request, 'replies', (target) => `Terminate the tasks stamped ${JSON.stringify(headers)} on ${whom(target)}`)
  }
}
