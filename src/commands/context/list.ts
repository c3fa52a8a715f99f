import {FleetCommand} from '../../base-command.js'
import {contextFilePath, loadContexts, shownBroker, type ContextTls} from '../../fleet/contexts.js'
import {renderTable} from '../../render/table.js'

export interface ContextListJson {
  path: string
  exists: boolean
  current: string | null
  contexts: {
    name: string
    current: boolean
    broker: string | null
    brokerCmd: string | null
    controlExchange: string | null
    redisKeyPrefix: string | null
    sentinelMaster: string | null
    connectTimeout: string | null
    tls: ContextTls | null
  }[]
}

export default class ContextList extends FleetCommand {
  static override summary = 'List the named contexts of the context file, the current one marked.'
  static override description = `Reads $WFCTL_CONFIG, else \${XDG_CONFIG_HOME:-~/.config}/wfctl/config.yaml: each context's name and broker
(masked; a brokerCmd is shown as the command, not run). The current one (current: in the file) is marked *.
No file is no contexts (exit 0). A file that holds a password and that others may read is refused (exit 2).`
  static override examples = ['<%= config.bin %> context list', '<%= config.bin %> context list --json']
  // Reads the file only: no broker flags.
  static override baseFlags = {'no-color': FleetCommand.baseFlags['no-color']} as unknown as typeof FleetCommand.baseFlags
  static override resolvesBroker = false

  async run(): Promise<ContextListJson> {
    const {flags} = await this.parse(ContextList)
    const env = process.env
    const file = await loadContexts(env)
    const path = file?.path ?? contextFilePath(env)
    const out: ContextListJson = {
      path,
      exists: file !== undefined,
      current: file?.current ?? null,
      contexts: [...(file?.contexts.values() ?? [])].map((c) => ({
        name: c.name,
        current: c.name === file?.current,
        ...shownBroker(c),
        controlExchange: c.controlExchange ?? null,
        redisKeyPrefix: c.redisKeyPrefix ?? null,
        sentinelMaster: c.sentinelMaster ?? null,
        connectTimeout: c.connectTimeout ?? null,
        tls: c.tls ?? null,
      })),
    }
    if (file?.current !== undefined && !file.contexts.has(file.current)) this.notice(`warning: current: ${file.current} names no context of ${path}`)
    const override = env.WFCTL_CONTEXT?.trim()
    if (override) this.notice(`note: WFCTL_CONTEXT=${override} is set: every command uses that context, whatever current: says`)
    if (this.jsonEnabled()) return out
    if (!file) {
      this.notice(`no context file: ${path} does not exist (README: Named contexts)`)
      return out
    }
    if (out.contexts.length === 0) {
      this.notice(`${path} holds no context`)
      return out
    }
    const view = this.view(flags)
    const rows = out.contexts.map((c) => [c.current ? '*' : '', c.name, c.broker ?? `$(${c.brokerCmd})`])
    this.log(renderTable({head: ['CURRENT', 'NAME', 'BROKER'], rows, shrink: [2, 1]}, view))
    return out
  }
}
