// Airflow's configuration, as far as it names the Celery broker: airflow.cfg in Python configparser's
// INI dialect, with the AIRFLOW__{SECTION}__{KEY} environment variables over it, as Airflow reads them.
import {readFileSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {UsageError} from '../errors.js'

/** What the file may weigh: airflow.cfg with every option and its comments is about 100 KiB. */
const MAX_BYTES = 1024 * 1024
/** configparser's MAX_INTERPOLATION_DEPTH. */
const MAX_DEPTH = 10
/** Airflow's own default for [celery] broker_url (its config.yml). */
export const AIRFLOW_DEFAULT_BROKER = 'redis://redis:6379/0'

interface IniOption {
  /** The raw value: continuation lines joined with "\n", not interpolated. */
  raw: string
  line: number
}

/** An INI file as configparser reads it: sections by name (as written), keys lower-cased. */
export interface Ini {
  path: string
  defaults: Map<string, IniOption>
  sections: Map<string, Map<string, IniOption>>
}

function iniError(path: string, line: number, what: string): never {
  throw new UsageError(`${path} line ${line}: ${what} (Airflow could not read this file either)`)
}

/**
 * Parses INI text as Python's configparser does with Airflow's settings: `[section]` headers,
 * `key = value` and `key: value` (the first `=` or `:` splits), keys case-insensitive, values
 * stripped, lines indented deeper than their key continue its value (empty lines inside kept,
 * trailing ones dropped), whole-line `#` and `;` comments (no inline comments: a `#` after a value is
 * part of it), `[DEFAULT]` seen from every section, a repeated key or section merged, the last wins.
 */
export function parseIni(text: string, path: string): Ini {
  const ini: Ini = {path, defaults: new Map(), sections: new Map()}
  let section: Map<string, IniOption> | undefined
  let option: IniOption | undefined
  let parts: string[] = []
  let indent = Number.POSITIVE_INFINITY
  const finish = () => {
    if (option) option.raw = parts.join('\n').trimEnd()
    option = undefined
    parts = []
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/)
  lines.forEach((line, i) => {
    const n = i + 1
    const stripped = line.trim()
    const comment = stripped.startsWith('#') || stripped.startsWith(';')
    if (comment) return
    if (stripped === '') {
      if (option) parts.push('')
      return
    }
    const level = line.length - line.trimStart().length
    if (option && level > indent) {
      parts.push(stripped)
      return
    }
    finish()
    indent = level
    const header = /^\[(.+)\]/.exec(stripped)
    if (header) {
      const name = header[1]
      if (name === 'DEFAULT') section = ini.defaults
      else {
        section = ini.sections.get(name) ?? new Map()
        ini.sections.set(name, section)
      }
      return
    }
    if (!section) iniError(path, n, 'an option before any [section] header')
    const m = /^(.*?)\s*[=:]\s*(.*)$/.exec(stripped)
    if (!m || m[1].trimEnd() === '') iniError(path, n, `neither a [section], a "key = value" nor a comment: ${JSON.stringify(stripped.slice(0, 60))}`)
    option = {raw: '', line: n}
    parts = [m[2].trim()]
    section.set(m[1].trimEnd().toLowerCase(), option)
  })
  finish()
  return ini
}

/** configparser's BasicInterpolation: `%%` is `%`, `%(name)s` is that key of the same section or of [DEFAULT]. */
function interpolate(ini: Ini, section: string, key: string, raw: string, line: number, depth = 1): string {
  const where = `${ini.path} line ${line}: [${section}] ${key}`
  if (depth > MAX_DEPTH) throw new UsageError(`${where}: %(...)s references nest deeper than ${MAX_DEPTH} (a loop?)`)
  let out = ''
  let rest = raw
  while (rest !== '') {
    const p = rest.indexOf('%')
    if (p < 0) return out + rest
    out += rest.slice(0, p)
    rest = rest.slice(p)
    const c = rest.slice(1, 2)
    if (c === '%') {
      out += '%'
      rest = rest.slice(2)
    } else if (c === '(') {
      const m = /^%\(([^)]+)\)s/.exec(rest)
      if (!m) throw new UsageError(`${where}: bad %(name)s reference (configparser's interpolation: write a literal "%" as "%%")`)
      const name = m[1].toLowerCase()
      rest = rest.slice(m[0].length)
      const ref = ini.sections.get(section)?.get(name) ?? ini.defaults.get(name)
      if (!ref) throw new UsageError(`${where}: %(${m[1]})s names no key of [${section}] or [DEFAULT]`)
      out += ref.raw.includes('%') ? interpolate(ini, section, name, ref.raw, ref.line, depth + 1) : ref.raw
    } else {
      throw new UsageError(`${where}: a "%" must be written "%%" in airflow.cfg (configparser's interpolation), as in a percent-encoded password`)
    }
  }
  return out
}

/**
 * Airflow's expand_env_var(): `$NAME` and `${NAME}` replaced by the environment (unknown ones left as
 * they are, as Python's os.path.expandvars does) and a leading `~` by the home directory, again until
 * nothing changes.
 */
export function expandEnvVar(value: string, env: NodeJS.ProcessEnv): string {
  let current = value
  for (let i = 0; i < MAX_DEPTH; i++) {
    let next = current.replace(/\$(\w+|\{[^}]*\})/g, (all, name: string) => {
      const key = name.startsWith('{') ? name.slice(1, -1) : name
      return Object.hasOwn(env, key) && env[key] !== undefined ? (env[key] as string) : all
    })
    if (next === '~' || next.startsWith('~/')) next = (env.HOME || homedir()) + next.slice(1)
    if (next === current) return next
    current = next
  }
  return current
}

/** Where Airflow reads its configuration: $AIRFLOW_CONFIG, else $AIRFLOW_HOME/airflow.cfg, else ~/airflow/airflow.cfg. */
export function airflowConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.AIRFLOW_CONFIG) return expandEnvVar(env.AIRFLOW_CONFIG, env)
  const home = env.AIRFLOW_HOME ? expandEnvVar(env.AIRFLOW_HOME, env) : join(env.HOME || homedir(), 'airflow')
  return join(home, 'airflow.cfg')
}

/** airflow.cfg read and parsed, or undefined when there is none. */
export function readAirflowConfig(env: NodeJS.ProcessEnv): Ini | undefined {
  const path = airflowConfigPath(env)
  let size: number
  try {
    const st = statSync(path)
    if (!st.isFile()) return undefined
    size = st.size
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (size > MAX_BYTES) throw new UsageError(`${path} is larger than 1 MiB: is it airflow.cfg?`)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  return parseIni(text, path)
}

/** Where an Airflow option came from: its environment variable, or a key of airflow.cfg. */
export type AirflowOrigin = {env: string} | {path: string; key: string; line: number}

export interface AirflowValue {
  value: string
  origin: AirflowOrigin
}

/**
 * Airflow's configuration, read as Airflow reads an option: AIRFLOW__{SECTION}__{KEY} (with its
 * variables expanded), else the file's value (interpolated, then expanded).
 */
export class AirflowConfig {
  constructor(
    readonly env: NodeJS.ProcessEnv,
    /** The file, when there is one. */
    readonly ini: Ini | undefined,
    readonly path: string,
  ) {}

  static read(env: NodeJS.ProcessEnv): AirflowConfig {
    return new AirflowConfig(env, readAirflowConfig(env), airflowConfigPath(env))
  }

  static envName(section: string, key: string): string {
    return `AIRFLOW__${section.replace(/\./g, '_').toUpperCase()}__${key.toUpperCase()}`
  }

  /** The value from the environment only. */
  fromEnv(section: string, key: string): AirflowValue | undefined {
    const name = AirflowConfig.envName(section, key)
    const raw = this.env[name]
    return raw ? {value: expandEnvVar(raw, this.env), origin: {env: name}} : undefined
  }

  /** The value from the file only. */
  fromFile(section: string, key: string): AirflowValue | undefined {
    const option = this.ini?.sections.get(section)?.get(key) ?? (this.ini?.sections.has(section) ? this.ini.defaults.get(key) : undefined)
    if (!this.ini || !option) return undefined
    const value = expandEnvVar(interpolate(this.ini, section, key, option.raw, option.line), this.env)
    return {value, origin: {path: this.ini.path, key: `[${section}] ${key}`, line: option.line}}
  }

  get(section: string, key: string): AirflowValue | undefined {
    return this.fromEnv(section, key) ?? this.fromFile(section, key)
  }

  /** Airflow's getboolean(): t, true, 1 / f, false, 0, any case, a `#` comment after it ignored. */
  boolean(section: string, key: string): {value: boolean; origin: AirflowOrigin} | undefined {
    const v = this.get(section, key)
    if (!v) return undefined
    const text = v.value.toLowerCase().split('#')[0].trim()
    if (['t', 'true', '1'].includes(text)) return {value: true, origin: v.origin}
    if (['f', 'false', '0'].includes(text)) return {value: false, origin: v.origin}
    throw new UsageError(`${describeOrigin(v.origin)}: ${JSON.stringify(v.value)} is not a boolean (Airflow accepts true or false)`)
  }

  /** Whether the file has a [section] at all. */
  hasSection(section: string): boolean {
    return this.ini?.sections.has(section) ?? false
  }
}

/** `env AIRFLOW__CELERY__SSL_ACTIVE` or `/path/airflow.cfg line 12 ([celery] ssl_active)`. */
export function describeOrigin(origin: AirflowOrigin): string {
  return 'env' in origin ? `env ${origin.env}` : `${origin.path} line ${origin.line} (${origin.key})`
}

/** Airflow's sentinel_kwargs transport option: a JSON object; its "password" is Sentinel's own. */
export function sentinelKwargsPassword(v: AirflowValue): string | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(v.value)
  } catch {
    parsed = undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`${describeOrigin(v.origin)}: sentinel_kwargs must be a JSON object, e.g. {"password": "..."} (as Airflow requires)`)
  }
  const password = (parsed as Record<string, unknown>).password
  if (password === undefined || password === null || password === '') return undefined
  if (typeof password !== 'string') throw new UsageError(`${describeOrigin(v.origin)}: sentinel_kwargs "password" must be a string`)
  return password
}

/**
 * Airflow's [celery] ssl_active: with a redis:// or amqp:// broker_url, Airflow hands Celery
 * broker_use_ssl, and kombu then speaks TLS to the same host and port (amqp without a port: 5671).
 * So ssl_active is TLS: the URL is read as rediss:// or amqps://. A URL that is TLS already stays
 * so; any other broker Airflow itself refuses with ssl_active.
 */
export function withAirflowTls(broker: string, where: string): string {
  return broker
    .split(';')
    .map((part) => {
      const url = part.trim()
      const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)
      const scheme = m?.[1].toLowerCase()
      if (scheme === 'redis') return `rediss://${url.slice(m![0].length)}`
      if (scheme === 'amqp' || scheme === 'pyamqp') return `amqps://${url.slice(m![0].length)}`
      if (scheme === 'rediss' || scheme === 'amqps') return url
      throw new UsageError(`${where}: ssl_active is true, but the broker is neither redis:// nor amqp:// (Airflow refuses ssl_active with it too)`)
    })
    .join(';')
}
