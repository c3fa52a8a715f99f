import {Flags} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {word} from '../../fleet/arguments.js'
import {whom} from '../../fleet/methods.js'

export default class ControlPoolRestart extends FleetCommand {
  static override summary = 'Restart the pool processes of workers (optionally re-importing modules).'
  static override description = `Sends Celery's "pool_restart" {"modules": [M...], "reload": bool}. Only workers with
worker_pool_restarts enabled accept it; others answer "Pool restarts not enabled". Running tasks are
interrupted, so it is destructive: confirmation on a terminal, --yes without one.`
  static override examples = [
    '<%= config.bin %> control pool-restart -d celery@web1',
    '<%= config.bin %> control pool-restart --module proj.tasks --reload --yes',
    '<%= config.bin %> control pool-restart --dry-run',
  ]
  static override flags = {
    ...FleetCommand.targetFlags,
    module: Flags.string({summary: 'Module to import in the new processes; repeatable.', multiple: true}),
    reload: Flags.boolean({summary: 'Reload modules that were already imported.'}),
    ...FleetCommand.confirmFlags,
    ...FleetCommand.reasonFlags,
    ...FleetCommand.dryRunFlags,
  }

  async run() {
    const {flags} = await this.parse(ControlPoolRestart)
    const request: Record<string, unknown> = {reload: flags.reload}
    if (flags.module) request.modules = flags.module.map((m) => word(m, '--module'))
    return this.perform(flags, 'pool_restart', request, 'replies', (target) => `Restart the pool of ${whom(target)} (running tasks are interrupted)`)
  }
}
