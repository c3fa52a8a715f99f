import {Args, Flags} from '@oclif/core'

import {FleetCommand} from '../base-command.js'
import {argsObject, keyValues} from '../fleet/arguments.js'
import {UsageError} from '../errors.js'

export default class Call extends FleetCommand {
  static override summary = 'Send any remote-control method, custom ones included, and collect the replies.'
  static override description = `Sends Celery's METHOD with the arguments given: --args JSON (an object) and KEY=VALUE pairs, whose
values are parsed as JSON where they parse (n=2 is a number, queue=reports a string), else kept as
strings; a KEY=VALUE overrides the same key in --args. The replies are shown as the matching inspect
command shows them, else as a reply table. Destructive methods (shutdown, pool_restart, terminate,
revoke with terminate, autoscale, pool_shrink and cancel_consumer to several nodes) are confirmed as the control
commands confirm them; "election" is refused (it kills single-worker clusters). A worker that does not
know METHOD answers KeyError('METHOD'). shutdown never replies: use \`wfctl control shutdown\`,
which verifies that the workers stopped.`
  static override examples = [
    '<%= config.bin %> call ping',
    '<%= config.bin %> call pool_grow n=2 -d celery@web1',
    `<%= config.bin %> call add_consumer --args '{"queue": "reports", "exchange_type": "topic", "routing_key": "reports.#"}'`,
    '<%= config.bin %> call my_custom_command level=debug --json',
  ]
  static override strict = false
  static override args = {
    method: Args.string({description: 'Method name, as the worker registers it (snake_case).', required: true}),
    pair: Args.string({description: 'Arguments as KEY=VALUE (values parsed as JSON where they parse).'}),
  }
  static override flags = {
    ...FleetCommand.targetFlags,
    args: Flags.string({summary: 'Arguments as a JSON object.'}),
    ...FleetCommand.confirmFlags,
    ...FleetCommand.reasonFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {argv, flags} = await this.parse(Call)
    const [method, ...pairs] = argv as string[]
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(method)) throw new UsageError(`METHOD must be a name such as active_queues, got ${JSON.stringify(method)}`)
    const request = {...(flags.args === undefined ? {} : argsObject(flags.args)), ...keyValues(pairs, 'an argument')}
    return this.perform(flags, method, request, this.inspectTable())
  }
}
