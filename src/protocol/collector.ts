import {MAX_REPLY_BYTES, type ReceivedMessage, type Undecodable} from '../wire/message.js'

/** One node's answer, exactly as the worker sent it. */
export interface Reply {
  node: string
  payload: unknown
  /** Milliseconds between publishing the request and receiving this reply. */
  latencyMs: number
}

export interface Collected {
  replies: Reply[]
  /** The distinct names of the nodes that replied (readable or not), kept as replies arrive. */
  nodes: Set<string>
  undecodable: (Undecodable & {latencyMs: number})[]
  /** Messages in the reply queue that carried another ticket, or none: dropped (docs/wire-protocol.md#collecting-replies). */
  foreign: number
}

const JSON_TYPES = new Set(['application/json', 'application/x-json', 'text/json'])

const PYTHON_NUMBERS: Record<string, string> = {NaN: '"NaN"', Infinity: '"Infinity"', '-Infinity': '"-Infinity"'}

/**
 * JSON as Python's json module writes it: standard JSON, except that float('inf') and float('nan')
 * come out as the bare words Infinity, -Infinity and NaN (Celery's conf has
 * result_backend_max_retries = inf). Those become the strings "Infinity", "-Infinity" and "NaN",
 * so that --json stays valid JSON. Only tried when JSON.parse fails.
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    if (!/NaN|Infinity/.test(text)) throw error
  }
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      // Copy a string literal whole, escapes included.
      let j = i + 1
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      out += text.slice(i, j + 1)
      i = j + 1
      continue
    }
    const word = /^(?:-Infinity|Infinity|NaN)/.exec(text.slice(i, i + 9))
    if (word) {
      out += PYTHON_NUMBERS[word[0]]
      i += word[0].length
      continue
    }
    out += c
    i += 1
  }
  return JSON.parse(out)
}

/**
 * Nesting deeper than any Celery reply has (Python's own json gives up near 1000 levels); deeper
 * values could not even be printed back (JSON.stringify recurses).
 */
export const MAX_REPLY_DEPTH = 512

/**
 * Whether a parsed value nests arrays and objects deeper than `max` (JSON.parse itself does not
 * recurse; printing it back would). Iterative, and its cost is the number of values, not of bytes:
 * a 50 MB string is one value.
 */
export function nestsDeeper(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth + 1 > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
    }
  }
  return false
}

/** The node a reply body names, read from its first bytes: `{"w1@host": ...`. */
export function nodeOfBody(body: Buffer): string | undefined {
  const start = body.subarray(0, 4096).toString('utf8')
  const m = /^\s*\{\s*("(?:[^"\\]|\\.){1,1024}")\s*:/.exec(start)
  if (!m) return undefined
  try {
    return JSON.parse(m[1]) as string
  } catch {
    return undefined
  }
}

/** Decodes one reply body, never deserializing anything but JSON (pickle is never touched). */
export function decodeReply(msg: ReceivedMessage): {node: string; payload: unknown} | Undecodable {
  const unreadable = (reason: string): Undecodable => {
    const node = nodeOfBody(msg.body)
    return {reason, contentType: msg.contentType, ...(node === undefined ? {} : {node})}
  }
  if (msg.unreadable !== undefined) return unreadable(msg.unreadable)
  const contentType = msg.contentType?.toLowerCase()
  if (!contentType || !JSON_TYPES.has(contentType)) {
    return {reason: `undecodable reply: content type ${msg.contentType ?? '(none)'} is not JSON`, contentType: msg.contentType}
  }
  const encoding = msg.contentEncoding?.toLowerCase()
  if (encoding && encoding !== 'utf-8' && encoding !== 'utf8') {
    return {reason: `undecodable reply: content encoding ${msg.contentEncoding} is not utf-8`, contentType: msg.contentType}
  }
  if (msg.body.length > MAX_REPLY_BYTES) {
    return unreadable(`reply of ${(msg.body.length / 1048576).toFixed(1)} MiB is larger than the ${MAX_REPLY_BYTES / 1048576} MiB wfctl holds`)
  }
  let body: unknown
  try {
    body = parsePythonJson(msg.body.toString('utf8'))
  } catch {
    return unreadable('undecodable reply: body is not valid JSON')
  }
  if (nestsDeeper(body, MAX_REPLY_DEPTH)) return unreadable(`reply nests deeper than ${MAX_REPLY_DEPTH} levels`)
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {reason: 'foreign reply: body is not a {node: payload} object', contentType: msg.contentType}
  }
  const keys = Object.keys(body)
  if (keys.length !== 1) {
    return {reason: `foreign reply: body has ${keys.length} keys, a reply names exactly one node`, contentType: msg.contentType}
  }
  return {node: keys[0], payload: (body as Record<string, unknown>)[keys[0]]}
}

/** Gathers the replies to one ticket; tolerant of everything else that lands in the reply queue. */
export class ReplyCollector {
  readonly collected: Collected = {replies: [], nodes: new Set(), undecodable: [], foreign: 0}

  constructor(
    private readonly ticket: string,
    private readonly publishedAt: () => number,
  ) {}

  /** Returns true when the message was a reply to this ticket (decodable or not). */
  accept(msg: ReceivedMessage): boolean {
    // A message too large to read may have lost its headers: on a reply route of one's own, it is one's own.
    if (msg.headers.ticket !== this.ticket && !msg.headersLost) {
      this.collected.foreign += 1
      return false
    }
    const latencyMs = Math.max(0, Math.round((msg.receivedAt - this.publishedAt()) * 10) / 10)
    let decoded: ReturnType<typeof decodeReply>
    try {
      decoded = decodeReply(msg)
    } catch (error) {
      // Whatever a reply holds, it is that reply's problem, never the collection's.
      decoded = {reason: `could not read reply: ${(error as Error).message}`, contentType: msg.contentType}
    }
    if ('reason' in decoded) {
      this.collected.undecodable.push({...decoded, latencyMs})
      if (decoded.node !== undefined) this.collected.nodes.add(decoded.node)
    } else {
      this.collected.replies.push({...decoded, latencyMs})
      this.collected.nodes.add(decoded.node)
    }
    return true
  }
}

/** `{"error": ...}` without `ok` is an error reply, as the celery CLI classifies it (docs/wire-protocol.md#replies). */
export function errorOf(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined
  const p = payload as Record<string, unknown>
  if (!('error' in p) || 'ok' in p) return undefined
  return typeof p.error === 'string' ? p.error : JSON.stringify(p.error)
}
