import {Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'

export default class InspectConf extends FleetCommand {
  static override summary = "Show workers' configuration (the settings that differ from Celery's defaults)."
  static override description = `Sends Celery's "conf" {} ({"with_defaults": true} with --with-defaults). Workers hide secrets
(passwords, keys) themselves. Settings with the same value on several nodes are shown once, with the
nodes that have them ("all N" when every node that replied does).`
  static override examples = [
    '<%= config.bin %> inspect conf -d celery@web1',
    '<%= config.bin %> inspect conf --with-defaults --json',
  ]
  static override flags = {
    ...FleetCommand.targetFlags,
    'with-defaults': Flags.boolean({summary: 'Include every setting, defaults too.'}),
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {flags} = await this.parse(InspectConf)
    return this.perform(flags, 'conf', flags['with-defaults'] ? {with_defaults: true} : {}, this.inspectTable())
  }
}
