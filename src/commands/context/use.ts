import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {useContext} from '../../fleet/contexts.js'

export default class ContextUse extends FleetCommand {
  static override summary = 'Make a named context the current one (current: in the context file).'
  static override description = `Rewrites the "current:" line of the context file and nothing else: comments, order and quoting stay.
The file is replaced by one that only its owner can read. Commands then use that context when no flag,
--context or broker environment variable says otherwise (\`wfctl context show\` tells which applies).`
  static override examples = ['<%= config.bin %> context use prod', '<%= config.bin %> context use staging --json']
  static override args = {name: Args.string({description: 'The context to make current.', required: true})}
  // Edits the file only: no broker flags.
  static override baseFlags = {} as unknown as typeof FleetCommand.baseFlags
  static override resolvesBroker = false

  async run(): Promise<{path: string; current: string}> {
    const {args} = await this.parse(ContextUse)
    const file = await useContext(process.env, args.name)
    const override = process.env.WFCTL_CONTEXT?.trim()
    if (override && override !== args.name) this.notice(`note: WFCTL_CONTEXT=${override} is set and still wins over current: in this environment`)
    if (!this.jsonEnabled()) this.log(`current context: ${args.name} (${file.path})`)
    return {path: file.path, current: args.name}
  }
}
