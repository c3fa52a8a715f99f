// Shared pieces of the agent tier (not a test file: the runner only picks *.test.ts).
import {randomUUID} from 'node:crypto'
import type {Redis} from 'ioredis'

import {parseBrokerUrl} from '../../src/broker/url.js'
import {FleetSession} from '../../src/fleet/session.js'
import {decodeReply} from '../../src/protocol/collector.js'
import type {ReceivedMessage} from '../../src/wire/message.js'
import {redisClientsOf, token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'

import {sleep} from '../helpers/poll.js'

export {poll, sleep} from '../helpers/poll.js'
export {deleteKeysWithPrefix} from '../helpers/brokers.js'

/** wfctl's own client session (Mailbox over a Transport) on a namespace. */
export function openSession(url: string, redisKeyPrefix = '', controlExchange = 'celery'): Promise<FleetSession> {
  return FleetSession.open({url: parseBrokerUrl(url), namespace: {controlExchange, redisKeyPrefix}, connectTimeoutMs: 5000}, () => {})
}

export interface RawReply {
  node?: string
  payload?: unknown
  reason?: string
}

/**
 * Publishes a hand-made request body (one wfctl's request builder refuses, such as a string
 * destination or a non-string method) with a reply route, and gathers the replies for `waitMs`.
 */
export async function rawCall(session: FleetSession, body: Record<string, unknown>, waitMs = 700, controlExchange = 'celery'): Promise<RawReply[]> {
  const received: ReceivedMessage[] = []
  const inbox = await session.transport.openInbox((messages) => received.push(...messages), () => {})
  const ticket = randomUUID()
  try {
    const request = {destination: null, pattern: null, matcher: null, arguments: {}, ...body, ticket, reply_to: {exchange: `reply.${controlExchange}.pidbox`, routing_key: inbox.routingKey}}
    await session.transport.publish({body: Buffer.from(JSON.stringify(request)), contentType: 'application/json', contentEncoding: 'utf-8', headers: {clock: 1}, deliveryMode: 2})
    await sleep(waitMs)
  } finally {
    await inbox.close({repliesInFlight: true})
  }
  return received.filter((m) => m.headers.ticket === ticket).map((m) => decodeReply(m))
}

/** Publishes a hand-made request that wants no reply (a cast). */
export async function rawCast(session: FleetSession, body: Record<string, unknown>): Promise<void> {
  const request = {destination: null, pattern: null, matcher: null, arguments: {}, ...body}
  await session.transport.publish({body: Buffer.from(JSON.stringify(request)), contentType: 'application/json', contentEncoding: 'utf-8', headers: {clock: 1}, deliveryMode: 2})
}

/** The `{node: payload}` object of a `celery inspect|control ... -j` run (a list of objects for control). */
export function celeryJson(stdout: string): Record<string, unknown> {
  const parsed = JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{') || l.startsWith('[')).at(-1) ?? 'null') as unknown
  if (Array.isArray(parsed)) return Object.assign({}, ...parsed) as Record<string, unknown>
  return (parsed ?? {}) as Record<string, unknown>
}

/**
 * Connections the agent opened on this Redis from this process (it names them wfctl-agent): none
 * once a fleet stopped. Other processes' agents (another test run) are not this test's business.
 */
export async function agentConnections(redis: Redis): Promise<number> {
  return (await redisClientsOf(redis)).filter((c) => c.name === 'wfctl-agent').length
}

/**
 * A real Celery worker with everything on — mingle, gossip, heartbeats — unlike the interop
 * default: it asks the simulated nodes `hello` at start and consumes their events.
 */
export function startFullWorker(opts: {broker: string; keyPrefix?: string; name?: string}): Promise<Worker> {
  return startWorker({...opts, name: opts.name ?? `full${token()}`, keep: {heartbeat: 1, gossip: true, mingle: true}})
}
