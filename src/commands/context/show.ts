import {Args} from '@oclif/core'

import {FleetCommand} from '../../base-command.js'
import {ExitCode, UsageError} from '../../errors.js'
import {resolveSettings, settingsView, type SettingFlags} from '../../fleet/settings.js'
import {renderTable} from '../../render/table.js'

export interface ContextShowJson {
  context: {name: string; path: string; explicit: boolean} | null
  settings: Record<string, {value: string | null; source: string; kind: string}>
  notes: string[]
  /** Why these settings cannot be used (exit 2), if they cannot. */
  problem?: string
}

export default class ContextShow extends FleetCommand {
  static override summary = 'Show the broker and namespace in effect, and where each setting came from.'
  static override description = `Resolves the settings as any command would, with the same flags and environment (or as --context NAME
would, given NAME): the broker (masked), control exchange, Redis key prefix, connect timeout, Sentinel
master and TLS files, each with its source: a flag, a context of the context file, an environment
variable, airflow.cfg, or the default. A brokerCmd or *_CMD is run to learn the URL. Connects to nothing.
Exit 2 when the settings cannot be used (the reason is printed after them).`
  static override examples = [
    '<%= config.bin %> context show',
    '<%= config.bin %> context show prod',
    '<%= config.bin %> context show -b redis://cache:6379/1 --json',
  ]
  static override args = {name: Args.string({description: 'The context to show, as --context NAME would use it (default: what is in effect).'})}
  static override resolvesBroker = false

  async run(): Promise<ContextShowJson> {
    const {args, flags} = await this.parse(ContextShow)
    if (args.name !== undefined && flags.context !== undefined) throw new UsageError('name the context once: as NAME or as --context, not both')
    const settings = await resolveSettings({flags: flags as SettingFlags, env: process.env, context: args.name})
    const rows = settingsView(settings)
    const out: ContextShowJson = {
      context: settings.context ?? null,
      settings: Object.fromEntries(rows.map((r) => [r.name, {value: r.value, source: r.source, kind: r.kind}])),
      notes: settings.notes,
    }
    try {
      this.sessionOptions(flags, settings)
    } catch (error) {
      if (!(error instanceof UsageError)) throw error
      out.problem = error.message
    }
    this.setExitCode(out.problem === undefined ? ExitCode.ok : ExitCode.usage)
    if (this.jsonEnabled()) return out
    const ctx = settings.context
    this.log(`context:     ${ctx ? `${ctx.name} (${ctx.explicit ? '' : 'current: in '}${ctx.path})` : 'none'}`)
    const airflow = Object.values(settings).find((v): v is {source: {kind: 'airflow'; path: string}} => typeof v === 'object' && v !== null && 'source' in v && v.source.kind === 'airflow')
    if (airflow) this.log(`airflow.cfg: ${airflow.source.path}`)
    this.log(renderTable({head: ['SETTING', 'VALUE', 'FROM'], rows: rows.map((r) => [r.name, r.value ?? '-', r.from]), shrink: [2, 1]}, this.view(flags)))
    for (const note of settings.notes) this.notice(`note: ${note}`)
    if (out.problem !== undefined) this.notice(`Error: ${out.problem}`)
    return out
  }
}
