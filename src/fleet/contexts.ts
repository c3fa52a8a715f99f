// Named contexts: the YAML file that names brokers and their namespaces, and `current:`.
import {lstatSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, isAbsolute, join, resolve} from 'node:path'

import {maskSecrets, maskUrl} from '../broker/url.js'
import {UsageError} from '../errors.js'

/** The context file is a few dozen lines; anything this large is not one. */
const MAX_BYTES = 1024 * 1024
/** A context's name: used in --context a,b, so never a comma, never a space. */
const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@:/+-]{0,99}$/

export interface ContextTls {
  ca?: string
  cert?: string
  key?: string
}

export interface Context {
  name: string
  broker?: string
  brokerCmd?: string
  controlExchange?: string
  redisKeyPrefix?: string
  sentinelMaster?: string
  sentinelPassword?: string
  /** Seconds, as the --connect-timeout flag takes them. */
  connectTimeout?: string
  /** Paths, absolute: relative ones are read from the file's directory, `~` is the home directory. */
  tls?: ContextTls
}

export interface ContextFile {
  path: string
  current?: string
  /** In the file's order. */
  contexts: Map<string, Context>
}

const CONTEXT_KEYS = ['broker', 'brokerCmd', 'controlExchange', 'redisKeyPrefix', 'sentinelMaster', 'sentinelPassword', 'connectTimeout', 'tls'] as const
const TLS_KEYS = ['ca', 'cert', 'key'] as const
const TOP_KEYS = ['current', 'contexts'] as const

/** `$WFCTL_CONFIG`, else `${XDG_CONFIG_HOME:-~/.config}/wfctl/config.yaml` (a relative XDG_CONFIG_HOME is ignored, as the XDG spec says). */
export function contextFilePath(env: NodeJS.ProcessEnv): string {
  if (env.WFCTL_CONFIG) return resolve(env.WFCTL_CONFIG)
  const xdg = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config')
  return join(xdg, 'wfctl', 'config.yaml')
}

type YamlModule = typeof import('yaml')

/**
 * The YAML parser, evaluated only when a context file is read: a probe with -b never runs it. It is
 * bundled (esbuild evaluates it at this import(), not at start-up): loading it from node_modules, a
 * few dozen files, cost about 40 ms each time a context file was read.
 */
async function yaml(): Promise<YamlModule> {
  return import('yaml')
}

function problem(path: string, what: string): never {
  throw new UsageError(`${path}: ${what}`)
}

/** Reads the file, or undefined when there is none. */
function readText(path: string): string | undefined {
  let size: number
  try {
    const st = statSync(path)
    if (!st.isFile()) problem(path, 'is not a file')
    size = st.size
  } catch (error) {
    if (error instanceof UsageError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    problem(path, `cannot be read (${code ?? (error as Error).message})`)
  }
  if (size > MAX_BYTES) problem(path, 'is larger than 1 MiB: is it the wfctl context file?')
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    problem(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}

/** The first line of a YAML error, with its line number. */
function yamlProblem(path: string, text: string, error: {message: string; pos?: [number, number]}): never {
  const first = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
  const at = error.pos?.[0]
  const line = at === undefined ? undefined : text.slice(0, at).split('\n').length
  problem(path, `${line ? `line ${line}: ` : ''}${first}`)
}

function isMap(v: unknown): v is Map<unknown, unknown> {
  return v instanceof Map
}

function expandPath(p: string, base: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir()
  const expanded = p === '~' ? home : p.startsWith('~/') ? join(home, p.slice(2)) : p
  return resolve(base, expanded)
}

function context(path: string, name: string, value: unknown, env: NodeJS.ProcessEnv): Context {
  const at = `contexts.${name}`
  if (!CONTEXT_NAME.test(name)) problem(path, `context name ${JSON.stringify(name)}: use letters, digits and _ . @ : / + - (no commas or spaces)`)
  if (name === 'all') problem(path, 'a context may not be named "all": --context all means every context')
  if (value === null || value === undefined) problem(path, `${at} is empty: give it a broker (or brokerCmd)`)
  if (!isMap(value)) problem(path, `${at} must be a mapping of settings (broker, controlExchange, ...)`)
  const ctx: Context = {name}
  const text = (key: string, v: unknown): string | undefined => {
    if (v === null || v === undefined) return undefined
    if (typeof v !== 'string') problem(path, `${at}.${key} must be a string (quote it)`)
    return v
  }
  for (const [k, v] of value) {
    const key = String(k)
    if (!(CONTEXT_KEYS as readonly string[]).includes(key)) problem(path, `unknown key "${at}.${key}" (a context takes ${CONTEXT_KEYS.join(', ')})`)
    if (key === 'connectTimeout') {
      if (v === null || v === undefined) continue
      if (typeof v !== 'number' && typeof v !== 'string') problem(path, `${at}.connectTimeout must be a number of seconds`)
      ctx.connectTimeout = String(v)
    } else if (key === 'tls') {
      if (v === null || v === undefined) continue
      if (!isMap(v)) problem(path, `${at}.tls must be a mapping: {ca: FILE, cert: FILE, key: FILE}`)
      const tls: ContextTls = {}
      for (const [tk, tv] of v) {
        const tkey = String(tk)
        if (!(TLS_KEYS as readonly string[]).includes(tkey)) problem(path, `unknown key "${at}.tls.${tkey}" (tls takes ca, cert, key)`)
        const file = text(`tls.${tkey}`, tv)
        if (file !== undefined && file !== '') tls[tkey as keyof ContextTls] = expandPath(file, dirname(path), env)
      }
      if (Object.keys(tls).length > 0) ctx.tls = tls
    } else {
      const s = text(key, v)
      if (s !== undefined) (ctx as unknown as Record<string, string>)[key] = s
    }
  }
  if (ctx.broker !== undefined && ctx.brokerCmd !== undefined) problem(path, `${at} has both broker and brokerCmd: give one`)
  if (ctx.broker === undefined && ctx.brokerCmd === undefined) problem(path, `${at} has no broker: set broker (a URL) or brokerCmd (a command that prints it)`)
  return ctx
}

/** Whether the context holds a secret: a broker URL with credentials, a command line with one, or sentinelPassword. */
export function holdsSecret(ctx: Context): boolean {
  if (ctx.sentinelPassword) return true
  if (ctx.broker !== undefined && maskUrl(ctx.broker) !== ctx.broker.trim()) return true
  if (ctx.brokerCmd !== undefined && maskSecrets(ctx.brokerCmd) !== ctx.brokerCmd) return true
  return false
}

/**
 * A file that holds a password and that group or others may read is refused, as ssh refuses such a
 * private key: the password is already exposed, and using it would hide that.
 */
function checkPermissions(file: ContextFile): void {
  if (process.platform === 'win32') return
  if (![...file.contexts.values()].some(holdsSecret)) return
  const mode = statSync(file.path).mode & 0o777
  if ((mode & 0o044) === 0) return
  problem(file.path, `holds a password and is readable by others (mode ${mode.toString(8).padStart(4, '0')}): run chmod 600 ${file.path}`)
}

/** Parses and checks the text of a context file (exported for the tests; loadContexts reads the file). */
export async function parseContexts(text: string, path: string, env: NodeJS.ProcessEnv): Promise<ContextFile> {
  const {parseDocument} = await yaml()
  const doc = parseDocument(text, {prettyErrors: false, uniqueKeys: true})
  if (doc.errors.length > 0) yamlProblem(path, text, doc.errors[0])
  const root: unknown = doc.toJS({mapAsMap: true})
  const file: ContextFile = {path, contexts: new Map()}
  if (root === null || root === undefined) return file
  if (!isMap(root)) problem(path, 'must be a mapping with "current:" and "contexts:"')
  for (const [k, v] of root) {
    const key = String(k)
    if (!(TOP_KEYS as readonly string[]).includes(key)) problem(path, `unknown key "${key}" (the file takes current and contexts)`)
    if (key === 'current') {
      if (v === null || v === undefined) continue
      if (typeof v !== 'string') problem(path, 'current must be the name of a context')
      file.current = v
    } else if (v !== null && v !== undefined) {
      if (!isMap(v)) problem(path, 'contexts must be a mapping: NAME: {broker: URL, ...}')
      for (const [name, value] of v) file.contexts.set(String(name), context(path, String(name), value, env))
    }
  }
  return file
}

/** The context file, or undefined when there is none. */
export async function loadContexts(env: NodeJS.ProcessEnv): Promise<ContextFile | undefined> {
  const path = contextFilePath(env)
  const text = readText(path)
  if (text === undefined) return undefined
  const file = await parseContexts(text, path, env)
  checkPermissions(file)
  return file
}

/** One context by name; a name the file does not hold is a usage error that lists those it does. */
export function findContext(file: ContextFile | undefined, name: string, path: string, why: string): Context {
  if (!file) throw new UsageError(`${why} names the context "${name}", but there is no context file ${path}`)
  const ctx = file.contexts.get(name)
  if (!ctx) {
    const known = [...file.contexts.keys()]
    throw new UsageError(`${why} names no context "${name}" in ${file.path} (${known.length > 0 ? `it has ${known.join(', ')}` : 'it has none'})`)
  }
  return ctx
}

/** A YAML scalar for a context name: plain when YAML reads it back as the same string, else double-quoted. */
function scalar(name: string): string {
  return /^[A-Za-z0-9_][A-Za-z0-9_.@/+-]*$/.test(name) && !/^(?:true|false|null|yes|no|on|off|~|[-+]?[0-9][0-9_.eExXoO+-]*)$/i.test(name) ? name : JSON.stringify(name)
}

/**
 * The file's text with `current:` set to `name`: its line rewritten in place (a comment after it
 * kept), or added at the top; every other byte stays. undefined when the file's layout is not the
 * plain `current: NAME` line this edit understands.
 */
export function withCurrentLine(text: string, name: string): string | undefined {
  const lines = text.split('\n')
  const value = `current: ${scalar(name)}`
  const at = lines.findIndex((l) => /^current\s*:/.test(l))
  if (at >= 0) {
    const m = /^current\s*:\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#"'][^#]*?|)(\s+#.*)?\s*$/.exec(lines[at])
    if (!m) return undefined
    lines[at] = `${value}${m[1] ?? ''}${lines[at].endsWith('\r') ? '\r' : ''}`
    return lines.join('\n')
  }
  // After a %YAML directive and a `---` document start, if any; else the first line.
  let insert = 0
  const start = lines.findIndex((l) => /^---(\s|$)/.test(l))
  if (start >= 0 && lines.slice(0, start).every((l) => l.trim() === '' || l.startsWith('%') || l.startsWith('#'))) insert = start + 1
  lines.splice(insert, 0, value)
  return lines.join('\n')
}

/**
 * `wfctl context use NAME`: rewrites `current:`, keeping the rest of the file (comments, order,
 * quoting) as it was. The new file is written beside the old one, readable by its owner only, and
 * renamed over it (over the file a symbolic link points to, keeping the link).
 */
export async function useContext(env: NodeJS.ProcessEnv, name: string): Promise<ContextFile> {
  const path = contextFilePath(env)
  const file = await loadContexts(env)
  if (!file) throw new UsageError(`there is no context file ${path}: create it with your contexts (README: Named contexts)`)
  findContext(file, name, path, 'context use')
  const text = readText(path) ?? ''
  let next = withCurrentLine(text, name)
  const same = async (candidate: string | undefined) => {
    if (candidate === undefined) return false
    try {
      const again = await parseContexts(candidate, path, env)
      return again.current === name && JSON.stringify([...again.contexts]) === JSON.stringify([...file.contexts])
    } catch {
      return false
    }
  }
  if (!(await same(next))) {
    // A layout the line edit does not understand (flow style, a multi-line value): YAML's own
    // document model, which keeps comments but may re-indent.
    const {parseDocument} = await yaml()
    const doc = parseDocument(text)
    doc.set('current', name)
    next = doc.toString()
    if (!(await same(next))) throw new UsageError(`${path}: could not set current without changing the rest of the file; edit it by hand`)
  }
  writePrivately(path, next!)
  return {...file, current: name}
}

function writePrivately(path: string, text: string): void {
  let target = path
  try {
    if (lstatSync(path).isSymbolicLink()) target = realpathSync(path)
  } catch {
    // Gone meanwhile: written where it was.
  }
  const tmp = join(dirname(target), `.${process.pid}.${Date.now()}.wfctl-config.tmp`)
  try {
    writeFileSync(tmp, text, {mode: 0o600, flag: 'wx'})
    renameSync(tmp, target)
  } catch (error) {
    try {
      unlinkSync(tmp)
    } catch {
      // never written
    }
    problem(path, `could not be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}

/** A context's broker as `context list` shows it: the URL masked, a brokerCmd as its command (masked, not run). */
export function shownBroker(ctx: {broker?: string; brokerCmd?: string}): {broker: string | null; brokerCmd: string | null} {
  return {broker: ctx.broker === undefined ? null : maskUrl(ctx.broker), brokerCmd: ctx.brokerCmd === undefined ? null : maskSecrets(ctx.brokerCmd)}
}
