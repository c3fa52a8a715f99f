import {UsageError} from '../errors.js'

/*
 * Validators for the arguments of control and inspect commands (README.md#commands). Each takes what the
 * operator typed and returns the value to send, or throws a one-line UsageError: nothing is sent.
 * The interactive explorer uses the same functions to validate in its prompts.
 */

const WHITESPACE = /\s/
/**
 * Control and invisible formatting characters (C0, DEL, C1, bidi overrides and isolates): no
 * Celery name holds them, and they would reach workers' logs and operators' terminals.
 */
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

/** A count such as pool-grow's N or memdump's --samples: a positive integer. */
export function positiveInteger(value: string, what: string): number {
  const text = value.trim()
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${what} must be a positive integer, got ${JSON.stringify(value)}`)
  }
  return Number(text)
}

/** Autoscale's MIN may be 0. */
export function nonNegativeInteger(value: string, what: string): number {
  const text = value.trim()
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new UsageError(`${what} must be a whole number, got ${JSON.stringify(value)}`)
  return Number(text)
}

/** `autoscale MAX MIN`: the worker's autoscaler takes them as ints, MAX at least MIN and at least 1. */
export function autoscaleBounds(max: string, min: string): {max: number; min: number} {
  const hi = positiveInteger(max, 'MAX')
  const lo = nonNegativeInteger(min, 'MIN')
  if (lo > hi) throw new UsageError(`MIN (${lo}) must not be greater than MAX (${hi})`)
  return {max: hi, min: lo}
}

/**
 * The one parser of seconds as an operator types them (`2`, `0.5`, `.25`, `1e3`): every wait,
 * deadline, interval and time limit goes through it. Zero is accepted only where it means "none"
 * (a time limit); everywhere else a duration is positive.
 */
export function parseSeconds(value: string, what: string, opts: {allowZero?: boolean} = {}): number {
  const text = value.trim()
  const n = Number(text)
  if (!/^(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(text) || !Number.isFinite(n) || (n === 0 && !opts.allowZero)) {
    throw new UsageError(`${what} must be a ${opts.allowZero ? '' : 'positive '}number of seconds, got ${JSON.stringify(value)}`)
  }
  return n
}

/** The longest wait a Node timer holds (2^31-1 ms, about 24.8 days): a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** A wait such as --timeout, --connect-timeout or --wait: positive seconds, fractions allowed, as milliseconds. */
export function durationMs(value: string, what: string): number {
  const ms = parseSeconds(value, what) * 1000
  if (ms < 1) throw new UsageError(`${what} must be at least 0.001 seconds, got ${JSON.stringify(value)}`)
  if (ms > MAX_TIMER_MS) throw new UsageError(`${what} must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (about 24.8 days), got ${JSON.stringify(value)}`)
  return ms
}

/** `time-limit TASK SOFT [HARD]`: a hard limit below the soft one would fire first and make the soft one moot. */
export function timeLimits(soft: string, hard: string | undefined): {soft: number; hard: number | null} {
  const s = parseSeconds(soft, 'SOFT', {allowZero: true})
  const h = hard === undefined ? null : parseSeconds(hard, 'HARD', {allowZero: true})
  if (h !== null && h > 0 && s > h) throw new UsageError(`SOFT (${s}s) must not exceed HARD (${h}s): the soft limit would never fire`)
  return {soft: s, hard: h}
}

/**
 * A Celery rate limit as the worker's `rate()` parses it: a number of tasks per second, or per
 * `/s`, `/m` or `/h`. `0` (in any unit) disables the limit and is sent as null, which the worker
 * answers with "rate limit disabled successfully" (the string "0" would be reported as a new limit).
 */
export function rateLimit(value: string): string | null {
  const text = value.trim()
  const m = /^(\d+(?:\.\d+)?|\.\d+)(?:\/([smh]))?$/.exec(text)
  if (!m) throw new UsageError(`RATE must look like 10/m, 5/s, 100/h, a number per second, or 0 to disable; got ${JSON.stringify(value)}`)
  return Number(m[1]) === 0 ? null : text
}

/** Signal names Python's `signal` module has on Linux, where Celery workers run. */
const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'RTMAX', 'RTMIN', 'SEGV', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG',
  'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
])

/**
 * A signal name such as TERM, SIGKILL or usr1. Workers accept only upper-case names (a lower-case
 * one is an error reply) and look them up in Python's `signal` module: sent upper-case, as typed.
 */
export function signalName(value: string): string {
  const upper = value.trim().toUpperCase()
  const bare = upper.startsWith('SIG') ? upper.slice(3) : upper
  if (!SIGNALS.has(bare)) throw new UsageError(`${JSON.stringify(value)} is not a signal name (try TERM, KILL, INT, HUP, QUIT, USR1 or USR2)`)
  return upper
}

/** revoke's and revoke-by-stamped-headers' --terminate/--signal: the arguments to add to the request. */
export function terminateArguments(terminate: boolean, signal: string | undefined): {terminate?: true; signal?: string} {
  if (signal !== undefined && !terminate) throw new UsageError('--signal applies only with --terminate')
  return terminate ? {terminate: true, signal: signalName(signal ?? 'TERM')} : {}
}

/** Task ids: any non-empty string without whitespace (custom ids are allowed by Celery). */
export function taskIds(values: string[], what = 'task id'): string[] {
  const ids = values.flatMap((v) => v.split(',')).map((v) => v.trim())
  if (ids.length === 0) throw new UsageError(`at least one ${what} is required`)
  const bad = ids.find((id) => id === '' || WHITESPACE.test(id) || CONTROL.test(id))
  if (bad !== undefined) throw new UsageError(`invalid ${what} ${JSON.stringify(bad)}`)
  return [...new Set(ids)]
}

/** A task name, queue name or attribute: one non-empty word. */
export function word(value: string, what: string): string {
  const text = value.trim()
  if (text === '' || WHITESPACE.test(text) || CONTROL.test(text)) {
    throw new UsageError(`${what} must be a non-empty name without spaces or control characters, got ${JSON.stringify(value)}`)
  }
  return text
}

/** `registered ATTR...`: task attribute names, sent as `taskinfoitems`. */
export function attributeNames(values: string[]): string[] {
  const bad = values.find((v) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v))
  if (bad !== undefined) throw new UsageError(`invalid task attribute ${JSON.stringify(bad)} (attributes look like rate_limit, time_limit, queue)`)
  return values
}

/** Parses a value the way `call` and stamped headers take it: JSON where it parses, else the text itself. */
export function looseValue(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** `KEY=VALUE` pairs into an object; values parsed as JSON where they parse. */
export function keyValues(pairs: string[], what: string): Record<string, unknown> {
  const out = new Map<string, unknown>()
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const key = eq > 0 ? pair.slice(0, eq).trim() : ''
    if (key === '' || WHITESPACE.test(key)) throw new UsageError(`${what} must look like KEY=VALUE, got ${JSON.stringify(pair)}`)
    out.set(key, looseValue(pair.slice(eq + 1)))
  }
  // Own properties for every key, "__proto__" included, as JSON.parse makes them for --args.
  return Object.fromEntries(out)
}

/**
 * Stamped headers for `revoke_by_stamped_headers`: `K=V` pairs, a key given twice collects its
 * values into a list (the worker revokes tasks whose header matches any of them).
 */
export function stampedHeaders(pairs: string[]): Record<string, string | string[]> {
  if (pairs.length === 0) throw new UsageError('at least one stamped header KEY=VALUE is required')
  const headers = new Map<string, string | string[]>()
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const key = eq > 0 ? pair.slice(0, eq).trim() : ''
    const value = pair.slice(eq + 1)
    if (key === '' || WHITESPACE.test(key) || CONTROL.test(key) || CONTROL.test(value) || value === '') throw new UsageError(`stamped header must look like KEY=VALUE, got ${JSON.stringify(pair)}`)
    const prior = headers.get(key)
    headers.set(key, prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value])
  }
  return Object.fromEntries(headers)
}

/** `call --args JSON`: must be a JSON object (the worker takes it as keyword arguments). */
export function argsObject(json: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (error) {
    // JSON.parse's message may echo the input, newlines included: keep only where it failed.
    const at = /position (\d+)/.exec((error as Error).message)
    throw new UsageError(`--args is not valid JSON${at ? ` (at character ${Number(at[1]) + 1})` : ''}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('--args must be a JSON object, such as {"n": 2}')
  return parsed as Record<string, unknown>
}
