import {FleetCommand} from '../../base-command.js'

export default class InspectStats extends FleetCommand {
  static override summary = 'Show worker statistics: pid, uptime, pool, tasks done, prefetch, memory.'
  static override description = `Sends Celery's "stats" {}. The table shows the pid, uptime, pool kind and size, tasks done
since start, prefetch count and the main process's peak RSS; --json has the whole payload (broker,
rusage, pool details).`
  static override examples = ['<%= config.bin %> inspect stats', '<%= config.bin %> inspect stats -d celery@web1 --json']
  static override flags = {...FleetCommand.targetFlags, ...FleetCommand.dryRunFlags}

  async run() {
    const {flags} = await this.parse(InspectStats)
    return this.perform(flags, 'stats', {}, this.inspectTable())
  }
}
