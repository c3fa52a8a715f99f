import {randomUuid as randomUUID} from '../uuid.js'

import {UnsafeMessageError} from '../errors.js'
import type {ReceivedMessage, WireMessage} from './message.js'

/**
 * kombu's Redis envelope (docs/wire-protocol.md#the-envelope): the JSON string PUBLISHed on a fanout channel or LPUSHed
 * onto a list. The body travels base64-encoded.
 */
export interface RedisEnvelope {
  body: string
  'content-encoding': string
  'content-type': string
  headers: Record<string, unknown>
  properties: {
    delivery_mode: number
    delivery_info: {exchange: string; routing_key: string}
    priority: number
    body_encoding: 'base64'
    delivery_tag: string
  }
}

/**
 * Whether `text` is canonical padded base64, as Python's b64decode(validate) takes it. A single
 * character-class search: no quantified group, so no backtracking stack on a 60 MB body.
 */
export function isBase64(text: string): boolean {
  const n = text.length
  if (n % 4 !== 0) return false
  let pad = 0
  if (n > 0 && text.charCodeAt(n - 1) === 0x3d) pad = text.charCodeAt(n - 2) === 0x3d ? 2 : 1
  return !/[^A-Za-z0-9+/]/.test(pad > 0 ? text.slice(0, n - pad) : text)
}

export function encodeEnvelope(msg: WireMessage, exchange: string, routingKey: string): RedisEnvelope {
  return {
    body: msg.body.toString('base64'),
    'content-encoding': msg.contentEncoding,
    'content-type': msg.contentType,
    headers: msg.headers,
    properties: {
      delivery_mode: msg.deliveryMode,
      delivery_info: {exchange, routing_key: routingKey},
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  }
}

/**
 * Refuses envelopes that kill or deafen Redis workers (docs/wire-protocol.md#what-wfctl-never-sends): a missing delivery tag or
 * an invalid base64 body ends the worker process.
 */
export function assertSafeEnvelope(env: RedisEnvelope): void {
  if (typeof env !== 'object' || env === null) throw new UnsafeMessageError('envelope is not an object')
  const props = env.properties
  if (typeof props !== 'object' || props === null) throw new UnsafeMessageError('envelope has no properties')
  if (typeof props.delivery_tag !== 'string' || props.delivery_tag === '') {
    throw new UnsafeMessageError('envelope has no delivery_tag (it would crash Redis workers)')
  }
  if (props.body_encoding !== 'base64') throw new UnsafeMessageError('envelope body_encoding must be base64')
  if (typeof env.body !== 'string' || !isBase64(env.body)) {
    throw new UnsafeMessageError('envelope body is not valid base64 (it would crash Redis workers)')
  }
  if (typeof props.delivery_info?.exchange !== 'string' || typeof props.delivery_info?.routing_key !== 'string') {
    throw new UnsafeMessageError('envelope has no delivery_info')
  }
  if (typeof env.headers !== 'object' || env.headers === null) throw new UnsafeMessageError('envelope headers must be an object')
}

/** Decodes one list entry. Returns a string reason when the entry is not a kombu envelope. */
export function decodeEnvelope(raw: string, receivedAt: number): ReceivedMessage | string {
  let env: unknown
  try {
    env = JSON.parse(raw)
  } catch {
    return 'not a JSON envelope'
  }
  if (typeof env !== 'object' || env === null || Array.isArray(env)) return 'envelope is not an object'
  const e = env as Partial<RedisEnvelope> & Record<string, unknown>
  const props = (typeof e.properties === 'object' && e.properties !== null ? e.properties : {}) as Record<string, unknown>
  const headers = typeof e.headers === 'object' && e.headers !== null && !Array.isArray(e.headers) ? e.headers : {}
  if (typeof e.body !== 'string') return 'envelope has no body'
  let body: Buffer
  if (props.body_encoding === 'base64') {
    // Node's decoder skips what is not base64: a body of the right decoded length was all base64
    // (one native pass, where a scan of a 60 MB body costs a tenth of a second more).
    body = Buffer.from(e.body, 'base64')
    const n = e.body.length
    const pad = e.body.endsWith('==') ? 2 : e.body.endsWith('=') ? 1 : 0
    if (n % 4 !== 0 || body.length !== (n / 4) * 3 - pad) return 'envelope body is not valid base64'
  } else {
    body = Buffer.from(e.body, 'utf8')
  }
  return {
    body,
    contentType: typeof e['content-type'] === 'string' ? e['content-type'] : undefined,
    contentEncoding: typeof e['content-encoding'] === 'string' ? e['content-encoding'] : undefined,
    headers: headers as Record<string, unknown>,
    receivedAt,
  }
}

/** The last string value of `key` in a fragment of JSON text (bounded: fragments are a few KB). */
function lastString(fragment: string, key: string): string | undefined {
  const re = new RegExp(`"${key}"\\s*:\\s*"((?:[^"\\\\]|\\\\.){0,256})"`, 'g')
  let found: string | undefined
  for (const m of fragment.matchAll(re)) found = m[1]
  if (found === undefined) return undefined
  try {
    return JSON.parse(`"${found}"`) as string
  } catch {
    return undefined
  }
}

/**
 * An envelope too large to hold, of which only its first and last kilobytes were kept: the start of
 * the body says which node sent it, the end holds the headers (the ticket), so it can still be
 * reported as that node's reply that could not be read.
 */
export function oversizedEnvelope(head: string, tail: string, length: number, limit: number, receivedAt: number): ReceivedMessage {
  const encoded = /"body"\s*:\s*"([A-Za-z0-9+/]*)/.exec(head)?.[1] ?? ''
  const body = Buffer.from(encoded.slice(0, encoded.length - (encoded.length % 4)), 'base64')
  const ticket = lastString(tail, 'ticket')
  return {
    body,
    contentType: lastString(tail, 'content-type'),
    headers: ticket === undefined ? {} : {ticket},
    headersLost: ticket === undefined,
    receivedAt,
    unreadable: `reply of ${megabytes(length * 0.75)} is larger than the ${megabytes(limit)} wfctl holds`,
  }
}

export function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}
