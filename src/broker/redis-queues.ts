import {EVENT_EXCHANGE, type QueueDepth} from '../wire/transport.js'
import type {RespConnection, Reply} from './resp.js'
import {globEscape, SEP} from './redis-keys.js'

/*
 * Task queues on Redis, read-only (`wfctl queues`, `check --max-queued`). kombu keeps a queue as
 * four lists, the plain one and one per priority step (`NAME SEP 3`, `6`, `9`), under the global key
 * prefix; LLEN of each says how many messages wait. The queue names the broker knows are the queue
 * fields of kombu's binding sets, `{prefix}_kombu.binding.{exchange}`. Nothing is written and no
 * message is read: a task queue is never popped (docs/wire-protocol.md#what-wfctl-never-touches).
 */

/** kombu's priority steps after the plain list: a message of priority 0-2 waits in the plain list, 3-5 in `SEP 3`... */
export const PRIORITY_LISTS = ['0', '3', '6', '9'] as const
const BINDING = '_kombu.binding.'
/** SCAN calls (COUNT 1000 each) before giving up on a huge keyspace: names beyond are not found. */
const MAX_SCANS = 1000
/** Binding sets read at most: a broker with more exchanges than this is not a Celery broker. */
const MAX_BINDING_SETS = 1000

/**
 * The depth of each queue: LLEN of its four lists (`keysOf` gives them, plain first, with the key
 * prefix), every command written at once and answered in one round trip. Redis cannot tell an
 * empty queue from one that never existed, so `exists` is always true and `consumers` is null.
 */
export async function redisQueueDepths(c: RespConnection, names: string[], keysOf: (queue: string) => string[]): Promise<QueueDepth[]> {
  const lengths = await Promise.all(names.flatMap((name) => keysOf(name).map((key) => c.call('LLEN', key))))
  return names.map((name, i) => {
    const byPriority: Record<string, number> = {}
    PRIORITY_LISTS.forEach((step, j) => {
      const n = lengths[i * PRIORITY_LISTS.length + j]
      byPriority[step] = typeof n === 'number' ? n : 0
    })
    const messages = Object.values(byPriority).reduce((a, b) => a + b, 0)
    return {name, exists: true, messages, consumers: null, byPriority}
  })
}

/** The exchange a binding set routes for, or undefined when it routes no task queue (pidbox, reply, events). */
export function taskExchangeOf(key: string, prefix: string): string | undefined {
  if (!key.startsWith(prefix + BINDING)) return undefined
  const exchange = key.slice(prefix.length + BINDING.length)
  if (exchange === '' || exchange.endsWith('.pidbox') || exchange === EVENT_EXCHANGE) return undefined
  return exchange
}

/** The queue field of a binding member (`routing_key SEP pattern SEP queue`), unless it is not one. */
export function queueOfMember(member: Reply): string | undefined {
  if (typeof member !== 'string') return undefined
  const parts = member.split(SEP)
  if (parts.length !== 3 || parts[2] === '') return undefined
  const queue = parts[2]
  // An event receiver's queue (Flower, `celery events`) bound to a task exchange by mistake is still no task queue.
  if (queue.endsWith('.pidbox') || queue.startsWith(`${EVENT_EXCHANGE}.`)) return undefined
  return queue
}

/**
 * The task queues bound in kombu's binding sets of this key prefix, sorted: SCAN (bounded, never
 * KEYS) for `{prefix}_kombu.binding.*`, then SMEMBERS of each set, all in one round trip. The
 * sets of the pidbox, reply and event exchanges are left out.
 */
export async function redisKnownQueues(c: RespConnection, prefix: string): Promise<string[]> {
  const pattern = `${globEscape(prefix)}${BINDING}*`
  const sets = new Set<string>()
  let cursor = '0'
  let scans = 0
  do {
    const reply = await c.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (!Array.isArray(reply) || reply.length !== 2 || typeof reply[0] !== 'string' || !Array.isArray(reply[1])) break
    cursor = reply[0]
    for (const key of reply[1]) if (typeof key === 'string' && taskExchangeOf(key, prefix) !== undefined) sets.add(key)
  } while (cursor !== '0' && ++scans < MAX_SCANS && sets.size < MAX_BINDING_SETS)
  const members = await Promise.all([...sets].map((key) => c.call('SMEMBERS', key)))
  const queues = new Set<string>()
  for (const list of members) {
    if (!Array.isArray(list)) continue
    for (const member of list) {
      const queue = queueOfMember(member)
      if (queue !== undefined) queues.add(queue)
    }
  }
  return [...queues].sort()
}
