/**
 * The few pieces of Python semantics a Celery-compatible responder has to reproduce: how a worker
 * prints exceptions into `{"error": ...}` replies, how it binds request arguments to a handler's
 * keyword parameters, and the `fnmatch` / `re.match` node matchers (docs/wire-protocol.md#how-a-worker-handles-a-request).
 */

/** Python's `repr()` of a str: single quotes unless the text holds a single quote and no double one. */
export function pyStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    if (ch === '\\') out += '\\\\'
    else if (ch === quote) out += `\\${quote}`
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return out + quote
}

/** Python's `repr()` of a decoded JSON value, as far as a reply ever shows one. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (typeof value === 'string') return pyStrRepr(value)
  if (typeof value === 'number') return String(value)
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`
  if (typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v)}`).join(', ')}}`
  }
  return pyStrRepr(String(value))
}

/** Python's type name of a decoded JSON value, for TypeError messages. */
export function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'string') return 'str'
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float'
  if (Array.isArray(value)) return 'list'
  return 'dict'
}

/** An exception as a Python handler raises it; the worker replies `{"error": repr(exc)}`. */
export class PyException extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message)
    this.name = pyType
  }

  /** `KeyError('x')`, `TypeError("f() missing ...")`. */
  get repr(): string {
    return `${this.pyType}(${pyStrRepr(this.message)})`
  }
}

/** How a reply names any error a handler throws: Python exceptions as Python prints them. */
export function errorRepr(error: unknown): string {
  if (error instanceof PyException) return error.repr
  if (error instanceof Error) return `${error.name}(${pyStrRepr(error.message)})`
  return `Exception(${pyStrRepr(String(error))})`
}

/** A handler's Python signature: `def name(state, *required, **optional, [**kwargs])`. */
export interface Signature {
  required?: readonly string[]
  optional?: readonly string[]
  /** Whether the handler takes `**kwargs` (most do; enable_events, heartbeat, autoscale... do not). */
  kwargs: boolean
}

function quoteList(names: string[]): string {
  const quoted = names.map((n) => `'${n}'`)
  if (quoted.length === 1) return quoted[0]
  if (quoted.length === 2) return `${quoted[0]} and ${quoted[1]}`
  return `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}`
}

/**
 * Checks request arguments the way CPython binds `handler(state, **arguments)`, throwing the
 * TypeError a real worker would put in its reply.
 */
export function bindArguments(name: string, sig: Signature, args: Record<string, unknown>): void {
  const known = new Set([...(sig.required ?? []), ...(sig.optional ?? [])])
  for (const key of Object.keys(args)) {
    // `state` is passed positionally, so a keyword of that name collides with it.
    if (key === 'state') throw new PyException('TypeError', `${name}() got multiple values for argument 'state'`)
    if (!sig.kwargs && !known.has(key)) throw new PyException('TypeError', `${name}() got an unexpected keyword argument '${key}'`)
  }
  const missing = (sig.required ?? []).filter((key) => !(key in args))
  if (missing.length > 0) {
    const s = missing.length === 1 ? '' : 's'
    throw new PyException('TypeError', `${name}() missing ${missing.length} required positional argument${s}: ${quoteList(missing)}`)
  }
}

/** Python truthiness of a decoded JSON value. */
export function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return true
}

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/]/g

function classChar(ch: string): string {
  return /[\\\]^[-]/.test(ch) ? `\\${ch}` : ch
}

/**
 * Python 3.11's `fnmatch.translate`, to a JavaScript source: `*`, `?`, `[seq]`, `[!seq]`; an unclosed
 * `[` is literal, reversed ranges are dropped and a set left empty never matches.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = ''
  let i = 0
  const n = pattern.length
  while (i < n) {
    const c = pattern[i++]
    if (c === '*') {
      if (!out.endsWith('.*')) out += '.*'
    } else if (c === '?') {
      out += '.'
    } else if (c === '[') {
      let j = i
      if (j < n && pattern[j] === '!') j++
      if (j < n && pattern[j] === ']') j++
      while (j < n && pattern[j] !== ']') j++
      if (j >= n) {
        out += '\\['
        continue
      }
      let stuff = pattern.slice(i, j)
      i = j + 1
      const negate = stuff.startsWith('!')
      if (negate) stuff = stuff.slice(1)
      let set = ''
      for (let k = 0; k < stuff.length; k++) {
        if (stuff[k + 1] === '-' && k + 2 < stuff.length) {
          const [lo, hi] = [stuff[k], stuff[k + 2]]
          if (lo <= hi) set += `${classChar(lo)}-${classChar(hi)}`
          k += 2
        } else {
          set += classChar(stuff[k])
        }
      }
      if (set === '') out += negate ? '.' : '(?!)'
      else out += `[${negate ? '^' : ''}${set}]`
    } else {
      out += c.replace(REGEX_SPECIAL, '\\$&')
    }
  }
  return new RegExp(`^(?:${out})$`, 's')
}

/**
 * Python's `re.match(pattern, node)`: anchored at the start only. Python-only syntax is rewritten
 * to its JavaScript spelling; a pattern JavaScript cannot compile yields undefined.
 */
export function pcreToRegExp(pattern: string): RegExp | undefined {
  const source = pattern
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '$')
  try {
    // Sticky: a match must begin at index 0, like re.match.
    return new RegExp(source, 'y')
  } catch {
    return undefined
  }
}
