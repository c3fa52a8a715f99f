import type {ReceivedMessage, Undecodable} from './message.js'

/** One node's answer, exactly as the worker sent it. */
export interface Reply {
  node: string
  payload: unknown
  /** Milliseconds between publishing the request and receiving this reply. */
  latencyMs: number
}

export interface Collected {
  replies: Reply[]
  undecodable: (Undecodable & {latencyMs: number})[]
  /** Messages in the reply queue that carried another ticket, or none: dropped (protocol §10.2). */
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

/** Decodes one reply body, never deserializing anything but JSON (pickle is never touched). */
export function decodeReply(msg: ReceivedMessage): {node: string; payload: unknown} | Undecodable {
  const contentType = msg.contentType?.toLowerCase()
  if (!contentType || !JSON_TYPES.has(contentType)) {
    return {reason: `undecodable reply: content type ${msg.contentType ?? '(none)'} is not JSON`, contentType: msg.contentType}
  }
  const encoding = msg.contentEncoding?.toLowerCase()
  if (encoding && encoding !== 'utf-8' && encoding !== 'utf8') {
    return {reason: `undecodable reply: content encoding ${msg.contentEncoding} is not utf-8`, contentType: msg.contentType}
  }
  let body: unknown
  try {
    body = parsePythonJson(msg.body.toString('utf8'))
  } catch {
    return {reason: 'undecodable reply: body is not valid JSON', contentType: msg.contentType}
  }
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
  readonly collected: Collected = {replies: [], undecodable: [], foreign: 0}

  constructor(
    private readonly ticket: string,
    private readonly publishedAt: () => number,
  ) {}

  /** Returns true when the message was a reply to this ticket (decodable or not). */
  accept(msg: ReceivedMessage): boolean {
    if (msg.headers.ticket !== this.ticket) {
      this.collected.foreign += 1
      return false
    }
    const latencyMs = Math.max(0, Math.round((msg.receivedAt - this.publishedAt()) * 10) / 10)
    const decoded = decodeReply(msg)
    if ('reason' in decoded) this.collected.undecodable.push({...decoded, latencyMs})
    else this.collected.replies.push({...decoded, latencyMs})
    return true
  }
}

/** `{"error": ...}` without `ok` is an error reply, as the celery CLI classifies it (protocol §4). */
export function errorOf(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined
  const p = payload as Record<string, unknown>
  if (!('error' in p) || 'ok' in p) return undefined
  return typeof p.error === 'string' ? p.error : JSON.stringify(p.error)
}
