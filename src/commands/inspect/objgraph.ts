import {Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {positiveInteger, word} from '../../fleet/arguments.js'

export default class InspectObjgraph extends FleetCommand {
  static override summary = 'Make workers write an object-reference graph (for leak hunting).'
  static override description = `Sends Celery's "objgraph" {"type": TYPE, "num": N, "max_depth": D}: each worker writes a graph of
references to objects of TYPE into a file on its own host and replies with the file name. Needs the
objgraph library on the worker (otherwise an ImportError reply).`
  static override examples = ['<%= config.bin %> inspect objgraph -d celery@web1', '<%= config.bin %> inspect objgraph --type Request --num 50 --max-depth 5 -d celery@web1']
  static override flags = {
    ...FleetCommand.targetFlags,
    type: Flags.string({summary: 'Object type to graph.', default: 'Request'}),
    num: Flags.string({summary: 'How many objects to sample (a positive integer).', default: '200'}),
    'max-depth': Flags.string({summary: 'Depth of the graph (a positive integer).', default: '10'}),
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {flags} = await this.parse(InspectObjgraph)
    const request = {type: word(flags.type, '--type'), num: positiveInteger(flags.num, '--num'), max_depth: positiveInteger(flags['max-depth'], '--max-depth')}
    return this.perform(flags, 'objgraph', request, this.inspectTable())
  }
}
