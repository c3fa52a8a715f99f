import {randomUuid as randomUUID} from '../uuid.js'

import {UnsafeMessageError} from '../errors.js'
import {globProblem, pcreProblem} from './pattern.js'
import type {WireMessage} from '../wire/message.js'

export type Matcher = 'glob' | 'pcre'

/** Where a request goes: nowhere in particular (broadcast), named nodes, or a node-name pattern. */
export interface Target {
  destination?: string[]
  pattern?: string
  matcher?: Matcher
}

/** The pidbox request body (docs/wire-protocol.md#request-body), exactly as Python clients send it. */
export interface RequestBody {
  method: string
  arguments: Record<string, unknown>
  destination: string[] | null
  pattern: string | null
  matcher: Matcher | null
  ticket?: string
  reply_to?: {exchange: string; routing_key: string}
}

/** Methods that must never be sent (docs/wire-protocol.md#what-wfctl-never-sends): `election` kills single-worker clusters. */
const FORBIDDEN_METHODS = new Set(['election'])
const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface BuildOptions extends Target {
  method: string
  args?: Record<string, unknown>
  /** The reply routing key (oid); absent for a cast, which no worker answers. */
  replyRoutingKey?: string
  controlExchange: string
}

export function buildRequest(opts: BuildOptions): RequestBody {
  const body: RequestBody = {
    method: opts.method,
    arguments: opts.args ?? {},
    destination: opts.destination && opts.destination.length > 0 ? [...opts.destination] : null,
    pattern: opts.pattern ?? null,
    matcher: opts.pattern ? opts.matcher ?? 'glob' : null,
  }
  if (opts.replyRoutingKey !== undefined) {
    body.ticket = randomUUID()
    body.reply_to = {exchange: `reply.${opts.controlExchange}.pidbox`, routing_key: opts.replyRoutingKey}
  }
  assertSafeRequest(body)
  return body
}

/**
 * Checks the message itself, whatever flags produced it, against the requests that crash or deafen
 * real workers (docs/wire-protocol.md#what-wfctl-never-sends): a body that is not an object, a missing or non-string method,
 * an unknown matcher or a pattern the worker's matcher would choke on, and `election`.
 */
export function assertSafeRequest(body: unknown): asserts body is RequestBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UnsafeMessageError('request body must be a JSON object')
  const b = body as Record<string, unknown>
  if (typeof b.method !== 'string' || !METHOD_NAME.test(b.method)) {
    throw new UnsafeMessageError(`method must be a name like "ping", got ${JSON.stringify(b.method)}`)
  }
  if (FORBIDDEN_METHODS.has(b.method)) throw new UnsafeMessageError(`"${b.method}" kills single-worker clusters`)
  if (typeof b.arguments !== 'object' || b.arguments === null || Array.isArray(b.arguments)) {
    throw new UnsafeMessageError('arguments must be a JSON object')
  }
  if (b.destination !== null && b.destination !== undefined) {
    if (!Array.isArray(b.destination) || b.destination.some((d) => typeof d !== 'string' || d === '')) {
      throw new UnsafeMessageError('destination must be an array of node names (a string is matched as a substring by workers)')
    }
  }
  if (b.matcher !== null && b.matcher !== undefined) {
    if (b.matcher !== 'glob' && b.matcher !== 'pcre') {
      throw new UnsafeMessageError(`unknown matcher ${JSON.stringify(b.matcher)} (it silently deafens Redis workers)`)
    }
    if (typeof b.pattern !== 'string' || b.pattern === '') throw new UnsafeMessageError('a matcher needs a non-empty pattern')
    const problem = b.matcher === 'pcre' ? pcreProblem(b.pattern) : globProblem(b.pattern)
    if (problem) throw new UnsafeMessageError(`pattern ${JSON.stringify(b.pattern)}: ${problem}`)
  } else if (b.pattern !== null && b.pattern !== undefined && b.pattern !== '') {
    // Workers ignore a pattern without a matcher: the request would reach every one of them.
    throw new UnsafeMessageError('a pattern needs a matcher (glob or pcre), or it reaches every worker')
  }
  if (b.reply_to !== undefined) {
    const r = b.reply_to as Record<string, unknown> | null
    if (typeof r !== 'object' || r === null || typeof r.exchange !== 'string' || typeof r.routing_key !== 'string') {
      throw new UnsafeMessageError('reply_to must name an exchange and a routing key')
    }
    if (typeof b.ticket !== 'string' || b.ticket === '') throw new UnsafeMessageError('a request that wants replies needs a ticket')
  }
}

export {pcreProblem, globProblem} from './pattern.js'

/** The Lamport clock the request carries; workers only take the max of it, so any increasing value works. */
let clock = 0

export function encodeRequest(body: RequestBody, timeoutSeconds: number): WireMessage {
  assertSafeRequest(body)
  clock += 1
  return {
    body: Buffer.from(JSON.stringify(body), 'utf8'),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: {clock, expires: Date.now() / 1000 + timeoutSeconds},
    deliveryMode: 2,
  }
}
