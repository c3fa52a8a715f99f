import {randomUUID} from 'node:crypto'

import {UnsafeMessageError} from '../errors.js'
import type {ReceivedMessage, WireMessage} from './message.js'

/**
 * kombu's Redis envelope (protocol §5.2): the JSON string PUBLISHed on a fanout channel or LPUSHed
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

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

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
 * Refuses envelopes that kill or deafen Redis workers (protocol §10.1): a missing delivery tag or
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
  if (typeof env.body !== 'string' || !BASE64.test(env.body)) {
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
    if (!BASE64.test(e.body)) return 'envelope body is not valid base64'
    body = Buffer.from(e.body, 'base64')
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
