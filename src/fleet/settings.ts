// Where every broker setting comes from, resolved once, with where each came from (`wfctl context show`).
//
// The broker URL comes from the first of: a flag (-b), the named context (--context, WFCTL_CONTEXT),
// the environment (WFCTL_BROKER_URL, CELERY_BROKER_URL, AIRFLOW__CELERY__BROKER_URL,
// AIRFLOW__CELERY__BROKER_URL_CMD), the current context of the context file, airflow.cfg, and
// redis://localhost:6379/0. Every other setting comes from its flag, else the named context, else
// the source that gave the broker (its namespace belongs to it: the current context's key prefix
// never lands on a broker from the environment), else its default. A source is read only when it is
// reached: with -b or WFCTL_BROKER_URL no file is opened and no command runs.
import {maskSecrets, maskUrl} from '../broker/url.js'
import {UsageError} from '../errors.js'
import {AIRFLOW_DEFAULT_BROKER, AirflowConfig, describeOrigin, sentinelKwargsPassword, withAirflowTls, type AirflowOrigin} from './airflow-config.js'
import {contextFilePath, findContext, loadContexts, type Context, type ContextFile} from './contexts.js'

export const DEFAULT_BROKER = 'redis://localhost:6379/0'
export const DEFAULT_CONTROL_EXCHANGE = 'celery'
export const DEFAULT_CONNECT_TIMEOUT = '3'
/** The environment variables that name the broker, in order (each a URL; the last a command). */
export const BROKER_ENV = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL'] as const
export const BROKER_CMD_ENV = 'AIRFLOW__CELERY__BROKER_URL_CMD'
/** How long a *_CMD or brokerCmd may take to print the URL. */
export const COMMAND_TIMEOUT_MS = 10_000
const COMMAND_MAX_BYTES = 64 * 1024

export type Source =
  | {kind: 'flag'; flag: string}
  | {kind: 'context'; name: string; path: string; key: string}
  | {kind: 'env'; name: string}
  | {kind: 'airflow'; path: string; key: string; line?: number}
  | {kind: 'default'}

export interface Setting<T> {
  value: T
  source: Source
}

export interface Settings {
  /** The named context in effect (--context, WFCTL_CONTEXT, or the current one that gave the broker). */
  context?: {name: string; path: string; explicit: boolean}
  /** The broker string as it will be parsed: may hold a password, never printed unmasked. */
  broker: Setting<string>
  controlExchange: Setting<string>
  redisKeyPrefix: Setting<string>
  connectTimeout: Setting<string>
  sentinelMaster: Setting<string | undefined>
  sentinelPassword: Setting<string | undefined>
  tlsCa: Setting<string | undefined>
  tlsCert: Setting<string | undefined>
  tlsKey: Setting<string | undefined>
  /** What the operator should know about where the settings came from (one line each). */
  notes: string[]
}

/** The flags that name broker settings, as oclif parsed them (no defaults: a flag is there when given). */
export interface SettingFlags {
  broker?: string
  context?: string
  'control-exchange'?: string
  'redis-key-prefix'?: string
  'connect-timeout'?: string
  'tls-ca'?: string
  'tls-cert'?: string
  'tls-key'?: string
  'sentinel-master'?: string
}

export interface ResolveOptions {
  flags: SettingFlags
  env: NodeJS.ProcessEnv
  /** `wfctl context show NAME`: the context named as --context would name it. */
  context?: string
}

/** How a source is shown: `flag --broker`, `context prod (FILE)`, `env VAR`, `airflow.cfg PATH`, `default`. */
export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'flag':
      return `flag ${source.flag}`
    case 'context':
      return `context ${source.name} (${source.key}, ${source.path})`
    case 'env':
      return `env ${source.name}`
    case 'airflow':
      return `airflow.cfg ${source.path}${source.line ? ` line ${source.line}` : ''} (${source.key})`
    default:
      return 'default'
  }
}

// ---------------------------------------------------------------------------------------------
// Secrets that came from somewhere else than the command line or the broker variables: the
// output of a command, a context file, airflow.cfg. The base command masks them in every line.
// ---------------------------------------------------------------------------------------------

const secretUrls = new Set<string>()
const secretWords = new Set<string>()

/** The broker strings (to be masked as URLs) and passwords (to be masked wherever they appear) seen so far. */
export function resolvedSecrets(): {urls: string[]; words: string[]} {
  return {urls: [...secretUrls], words: [...secretWords]}
}

function rememberUrl(raw: string): void {
  if (raw.trim() === '') return
  secretUrls.add(raw)
  // Each password of the URL (or list) too, where it is long enough not to mask ordinary words.
  for (const m of raw.matchAll(/:\/\/[^/?#@;]*?:([^@/;]+)@/g)) rememberWord(m[1])
}

function rememberWord(secret: string | undefined): void {
  if (secret && secret.length >= 6) secretWords.add(secret)
}

// ---------------------------------------------------------------------------------------------
// Commands that print the broker URL, run as Airflow runs them: split like Python's shlex.split,
// no shell, bounded in time; their output is never printed.
// ---------------------------------------------------------------------------------------------

/** Python's shlex.split() (POSIX mode, no comments). */
export function shlexSplit(command: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  while (i < command.length) {
    const c = command[i]
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      i++
    } else if (c === '\\') {
      if (i + 1 >= command.length) throw new Error('No escaped character')
      word += command[i + 1]
      inWord = true
      i += 2
    } else if (c === "'") {
      const close = command.indexOf("'", i + 1)
      if (close < 0) throw new Error('No closing quotation')
      word += command.slice(i + 1, close)
      inWord = true
      i = close + 1
    } else if (c === '"') {
      inWord = true
      i++
      for (;;) {
        if (i >= command.length) throw new Error('No closing quotation')
        const d = command[i]
        if (d === '"') break
        if (d === '\\') {
          if (i + 1 >= command.length) throw new Error('No closing quotation')
          const next = command[i + 1]
          word += next === '"' || next === '\\' ? next : `\\${next}`
          i += 2
        } else {
          word += d
          i++
        }
      }
      i++
    } else {
      word += c
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}

/**
 * Runs the command that prints the broker URL and returns its output, trimmed. A command that
 * cannot start, fails, takes longer than COMMAND_TIMEOUT_MS or prints no URL is a one-line usage
 * error that names it (masked) and never shows its output: that is the password.
 */
export async function runBrokerCommand(command: string, what: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  const shown = JSON.stringify(maskSecrets(command))
  let argv: string[]
  try {
    argv = shlexSplit(command)
  } catch (error) {
    throw new UsageError(`${what} ${shown} cannot be split into words: ${(error as Error).message}`)
  }
  if (argv.length === 0) throw new UsageError(`${what} is empty: it must be a command that prints the broker URL`)
  const {spawn} = await import('node:child_process')
  const out = await new Promise<string>((resolve, reject) => {
    const fail = (why: string) => reject(new UsageError(`${what} ${shown} ${why}; its output is not shown (it holds the password): run it yourself to see why`))
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(argv[0], argv.slice(1), {stdio: ['inherit', 'pipe', 'pipe'], shell: false, windowsHide: true})
    } catch (error) {
      fail(`could not start (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
      return
    }
    const chunks: Buffer[] = []
    let bytes = 0
    let tooMuch = false
    child.stdout!.on('data', (d: Buffer) => {
      bytes += d.length
      if (bytes > COMMAND_MAX_BYTES) {
        tooMuch = true
        child.kill('SIGKILL')
      } else chunks.push(d)
    })
    // Its error output is read and dropped: it may echo what it was asked for.
    child.stderr!.resume()
    let timedOut = false
    // Settled at the deadline, not when the pipes close: a process it started may hold them open.
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
      child.stdout!.destroy()
      child.stderr!.destroy()
      fail(`did not finish within ${timeoutMs / 1000} s and was stopped`)
    }, timeoutMs)
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      fail(error.code === 'ENOENT' ? `could not start: ${JSON.stringify(argv[0])} was not found` : `could not start (${error.code ?? error.message})`)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (timedOut) return
      if (tooMuch) return fail(`printed more than ${COMMAND_MAX_BYTES / 1024} KiB`)
      if (code !== 0) return fail(signal ? `was killed by ${signal}` : `failed (exit ${code})`)
      resolve(Buffer.concat(chunks).toString('utf8'))
    })
  })
  const url = out.trim()
  if (url === '') throw new UsageError(`${what} ${shown} printed nothing: it must print the broker URL`)
  // A command that printed something else (the bare password, a prompt) would have it echoed by the URL parser's error.
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S*$/.test(url)) throw new UsageError(`${what} ${shown} printed something that is not a broker URL (scheme://...); its output is not shown`)
  rememberUrl(url)
  return url
}

// ---------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------

interface Layer {
  /** What every setting of this source is attributed to. */
  source: (key: string) => Source
  context?: Context
  airflow?: AirflowConfig
}

function contextLayer(ctx: Context, file: ContextFile): Layer {
  return {context: ctx, source: (key) => ({kind: 'context', name: ctx.name, path: file.path, key})}
}

function airflowSource(origin: AirflowOrigin): Source {
  return 'env' in origin ? {kind: 'env', name: origin.env} : {kind: 'airflow', path: origin.path, key: origin.key, line: origin.line}
}

async function contextBroker(ctx: Context, file: ContextFile): Promise<Setting<string>> {
  if (ctx.brokerCmd !== undefined) {
    return {value: await runBrokerCommand(ctx.brokerCmd, `brokerCmd of context ${ctx.name}`), source: {kind: 'context', name: ctx.name, path: file.path, key: 'brokerCmd'}}
  }
  rememberUrl(ctx.broker!)
  return {value: ctx.broker!, source: {kind: 'context', name: ctx.name, path: file.path, key: 'broker'}}
}

/** The broker of airflow.cfg: broker_url, else broker_url_cmd, else Airflow's own default when the file has a [celery] section. */
async function airflowBroker(airflow: AirflowConfig): Promise<Setting<string> | undefined> {
  const url = airflow.fromFile('celery', 'broker_url')
  if (url && url.value.trim() !== '') {
    rememberUrl(url.value)
    return {value: url.value, source: airflowSource(url.origin)}
  }
  const cmd = airflow.fromFile('celery', 'broker_url_cmd')
  if (cmd && cmd.value.trim() !== '') {
    return {value: await runBrokerCommand(cmd.value, `${describeOrigin(cmd.origin)}`), source: airflowSource(cmd.origin)}
  }
  if (airflow.hasSection('celery')) return {value: AIRFLOW_DEFAULT_BROKER, source: {kind: 'airflow', path: airflow.path, key: "no [celery] broker_url: Airflow's default"}}
  return undefined
}

/** WFCTL_CONTEXT names one context; lists are for --context on read-only commands. */
function explicitContextName(opts: ResolveOptions): {name: string; why: string} | undefined {
  if (opts.context !== undefined) return {name: opts.context, why: 'context show'}
  if (opts.flags.context !== undefined) {
    if (opts.flags.context.trim() === '') throw new UsageError('--context needs a context name')
    return {name: opts.flags.context.trim(), why: '--context'}
  }
  const env = opts.env.WFCTL_CONTEXT?.trim()
  if (env) {
    if (env.includes(',') || env === 'all') throw new UsageError('WFCTL_CONTEXT names one context: give several with --context a,b (read-only commands only)')
    return {name: env, why: 'WFCTL_CONTEXT'}
  }
  return undefined
}

/** Resolves every broker setting and where it came from. Reads a file or runs a command only when reached. */
export async function resolveSettings(opts: ResolveOptions): Promise<Settings> {
  const {flags, env} = opts
  const notes: string[] = []
  let contexts: ContextFile | undefined
  let contextsRead = false
  const readContexts = async () => {
    if (!contextsRead) {
      contexts = await loadContexts(env)
      contextsRead = true
    }
    return contexts
  }

  // The named context, when one is asked for: its settings rank right below the flags.
  let named: Layer | undefined
  let context: Settings['context']
  const explicit = explicitContextName(opts)
  if (explicit) {
    const file = await readContexts()
    const ctx = findContext(file, explicit.name, contextFilePath(env), explicit.why)
    named = contextLayer(ctx, file!)
    context = {name: ctx.name, path: file!.path, explicit: true}
  }

  // The broker, and the source it came from (whose namespace goes with it).
  let broker: Setting<string>
  let owner: Layer | undefined
  if (flags.broker !== undefined) {
    broker = {value: flags.broker, source: {kind: 'flag', flag: '--broker'}}
  } else if (named) {
    broker = await contextBroker(named.context!, contexts!)
  } else {
    const name = BROKER_ENV.find((k) => env[k])
    if (name) {
      const airflowVar = name.startsWith('AIRFLOW__')
      // Airflow expands $VARS in its own variables; Celery and wfctl take theirs as they are.
      const value = airflowVar ? new AirflowConfig(env, undefined, '').fromEnv('celery', 'broker_url')!.value : env[name]!
      if (airflowVar) rememberUrl(value)
      broker = {value, source: {kind: 'env', name}}
      if (airflowVar) owner = {airflow: AirflowConfig.read(env), source: () => ({kind: 'env', name})}
    } else if (env[BROKER_CMD_ENV]) {
      broker = {value: await runBrokerCommand(env[BROKER_CMD_ENV]!, BROKER_CMD_ENV), source: {kind: 'env', name: BROKER_CMD_ENV}}
      owner = {airflow: AirflowConfig.read(env), source: () => ({kind: 'env', name: BROKER_CMD_ENV})}
    } else {
      const file = await readContexts()
      if (file?.current !== undefined) {
        const ctx = findContext(file, file.current, file.path, 'current:')
        owner = contextLayer(ctx, file)
        context = {name: ctx.name, path: file.path, explicit: false}
        broker = await contextBroker(ctx, file)
      } else {
        const airflow = AirflowConfig.read(env)
        const fromAirflow = airflow.ini ? await airflowBroker(airflow) : undefined
        if (fromAirflow) {
          broker = fromAirflow
          owner = {airflow, source: () => fromAirflow.source}
        } else {
          broker = {value: DEFAULT_BROKER, source: {kind: 'default'}}
        }
      }
    }
  }

  // Airflow's other settings go with a broker that came from Airflow's configuration.
  const airflow = owner?.airflow
  const fromAirflow = (section: string, key: string): Setting<string> | undefined => {
    const v = airflow?.get(section, key)
    return v && v.value !== '' ? {value: v.value, source: airflowSource(v.origin)} : undefined
  }
  if (airflow) {
    const active = airflow.boolean('celery', 'ssl_active')
    if (active?.value) {
      const where = describeOrigin(active.origin)
      const tls = withAirflowTls(broker.value, where)
      if (tls !== broker.value) {
        notes.push(`${where} is true: the broker is spoken to over TLS, as Airflow's workers do`)
        rememberUrl(tls)
        broker = {value: tls, source: broker.source}
      }
    }
    const remote = airflow.boolean('celery', 'worker_enable_remote_control')
    if (remote && !remote.value) notes.push(`${describeOrigin(remote.origin)} is false: Airflow's workers do not answer remote control, so wfctl hears none`)
  }
  const airflowTls = airflow?.boolean('celery', 'ssl_active')?.value === true
  const sentinelKwargs = airflow?.get('celery_broker_transport_options', 'sentinel_kwargs')

  /** One setting: its flag, else the named context, else the broker's own source, else the default. */
  const pick = <T extends string | undefined>(flag: string | undefined, flagName: string, key: keyof Context | `tls.${'ca' | 'cert' | 'key'}`, fromOwner: () => Setting<string> | undefined, fallback: T): Setting<string | T> => {
    if (flag !== undefined) return {value: flag, source: {kind: 'flag', flag: flagName}}
    const inContext = (layer: Layer | undefined): Setting<string> | undefined => {
      const ctx = layer?.context
      if (!ctx) return undefined
      const v = key.startsWith('tls.') ? ctx.tls?.[key.slice(4) as 'ca' | 'cert' | 'key'] : (ctx[key as keyof Context] as string | undefined)
      return v === undefined ? undefined : {value: v, source: layer.source(key)}
    }
    return inContext(named) ?? inContext(owner) ?? fromOwner() ?? {value: fallback, source: {kind: 'default'}}
  }
  const none = () => undefined

  const controlExchange = pick(flags['control-exchange'], '--control-exchange', 'controlExchange', none, DEFAULT_CONTROL_EXCHANGE)
  const redisKeyPrefix = pick(flags['redis-key-prefix'], '--redis-key-prefix', 'redisKeyPrefix', () => fromAirflow('celery_broker_transport_options', 'global_keyprefix'), '')
  const connectTimeout = pick(flags['connect-timeout'], '--connect-timeout', 'connectTimeout', none, DEFAULT_CONNECT_TIMEOUT)
  const sentinelMaster = pick(flags['sentinel-master'], '--sentinel-master', 'sentinelMaster', () => fromAirflow('celery_broker_transport_options', 'master_name'), undefined)
  const tlsFile = (key: 'ca' | 'cert' | 'key', airflowKey: string, flag: 'tls-ca' | 'tls-cert' | 'tls-key') =>
    pick(flags[flag], `--${flag}`, `tls.${key}`, () => (airflowTls ? fromAirflow('celery', airflowKey) : undefined), undefined)

  // Sentinel's own password has no flag (a flag shows in ps): WFCTL_SENTINEL_PASSWORD stands in for one.
  const sentinelPassword: Setting<string | undefined> = env.WFCTL_SENTINEL_PASSWORD
    ? {value: env.WFCTL_SENTINEL_PASSWORD, source: {kind: 'env', name: 'WFCTL_SENTINEL_PASSWORD'}}
    : pick(undefined, '', 'sentinelPassword', () => {
        const password = sentinelKwargs ? sentinelKwargsPassword(sentinelKwargs) : undefined
        return password === undefined ? undefined : {value: password, source: airflowSource(sentinelKwargs!.origin)}
      }, undefined)
  rememberWord(sentinelPassword.value)

  return {
    context,
    broker,
    controlExchange,
    redisKeyPrefix,
    connectTimeout,
    sentinelMaster,
    sentinelPassword,
    tlsCa: tlsFile('ca', 'ssl_cacert', 'tls-ca'),
    tlsCert: tlsFile('cert', 'ssl_cert', 'tls-cert'),
    tlsKey: tlsFile('key', 'ssl_key', 'tls-key'),
    notes,
  }
}

/** Where a setting came from, for an error message about its value: `--control-exchange`, or `controlExchange of context prod (FILE)`. */
export function settingName(setting: Setting<unknown>, flag: string, key: string): string {
  const s = setting.source
  if (s.kind === 'flag') return flag
  if (s.kind === 'context') return `${key} of context ${s.name} (${s.path})`
  if (s.kind === 'env') return `${key} from ${s.name}`
  if (s.kind === 'airflow') return `${s.key} of ${s.path}`
  return flag
}

/** A setting that applies to Redis only, set for another broker: an error when the operator set it (flag, context), ignored when Airflow did (kombu ignores it too). */
export function givenByOperator(setting: Setting<unknown>): boolean {
  return setting.source.kind === 'flag' || setting.source.kind === 'context'
}

/** A source in a table, where the file is named once above it: `context prod (broker)`, `airflow.cfg:4 [celery] broker_url`. */
export function shortSource(source: Source): string {
  if (source.kind === 'context') return `context ${source.name} (${source.key})`
  if (source.kind === 'airflow') return `airflow.cfg${source.line ? `:${source.line}` : ''} ${source.key}`
  return describeSource(source)
}

/** The masked broker and each setting, for `wfctl context show` and its --json. */
export function settingsView(s: Settings): {name: string; value: string | null; source: string; from: string; kind: Source['kind']}[] {
  const row = (name: string, setting: Setting<string | undefined>, show: (v: string) => string = (v) => v) => {
    const unset = setting.value === undefined && setting.source.kind === 'default'
    return {
      name,
      value: setting.value === undefined ? null : show(setting.value),
      source: unset ? 'not set' : describeSource(setting.source),
      from: unset ? 'not set' : shortSource(setting.source),
      kind: setting.source.kind,
    }
  }
  return [
    row('broker', s.broker, maskUrl),
    row('control-exchange', s.controlExchange),
    row('redis-key-prefix', s.redisKeyPrefix, (v) => (v === '' ? '(none)' : v)),
    row('connect-timeout', s.connectTimeout, (v) => `${v} s`),
    row('sentinel-master', s.sentinelMaster),
    row('sentinel-password', s.sentinelPassword, () => '****'),
    row('tls-ca', s.tlsCa),
    row('tls-cert', s.tlsCert),
    row('tls-key', s.tlsKey),
  ]
}

/** Parses the resolved broker; a URL that came from elsewhere than -b says where it came from when it is refused. */
export function fromSetting<T>(setting: Setting<string>, parse: (raw: string) => T): T {
  try {
    return parse(setting.value)
  } catch (error) {
    if (error instanceof UsageError && setting.source.kind !== 'flag') throw new UsageError(`${error.message} (the broker from ${describeSource(setting.source)})`)
    throw error
  }
}

/** `--context a,b` or `--context all`: the contexts named, in the order given (all: the file's order), each checked. */
export async function contextList(value: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const file = await loadContexts(env)
  const path = contextFilePath(env)
  if (!file) throw new UsageError(`--context names contexts, but there is no context file ${path}`)
  const names = value.trim() === 'all' ? [...file.contexts.keys()] : [...new Set(value.split(',').map((n) => n.trim()).filter((n) => n !== ''))]
  if (names.length === 0) throw new UsageError(value.trim() === 'all' ? `--context all: ${path} holds no context` : '--context needs a context name')
  for (const name of names) findContext(file, name, path, '--context')
  return names
}

/** Whether a --context value names several contexts (a list, or all). */
export function namesSeveral(value: string | undefined): boolean {
  return value !== undefined && (value.includes(',') || value.trim() === 'all')
}
