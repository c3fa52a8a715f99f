import {Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {positiveInteger} from '../../fleet/arguments.js'

export default class InspectMemdump extends FleetCommand {
  static override summary = 'Show the memory samples workers have taken (memsample history).'
  static override description = `Sends Celery's "memdump" {"samples": N}: each worker's table of its last memory samples
(needs psutil on the worker).`
  static override examples = ['<%= config.bin %> inspect memdump', '<%= config.bin %> inspect memdump --samples 20 -d celery@web1']
  static override flags = {
    ...FleetCommand.targetFlags,
    samples: Flags.string({summary: 'How many samples to show (a positive integer).', default: '10'}),
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {flags} = await this.parse(InspectMemdump)
    return this.perform(flags, 'memdump', {samples: positiveInteger(flags.samples, '--samples')}, this.inspectTable())
  }
}
