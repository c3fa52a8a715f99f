// The broker fixtures of every tier: names a test owns, clients, and what wfctl may leave behind.
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {promisify} from 'node:util'
import {connect} from 'amqplib'
import {Redis} from 'ioredis'

import {isNotFound} from '../../src/broker/amqp-errors.js'
import {LATE_REPLY_EXPIRY_MS} from '../../src/broker/redis.js'
import {poll} from './poll.js'

const exec = promisify(execFile)

export const REDIS_HOST = '127.0.0.1'
export const REDIS_PORT = 6379
export const AMQP_HOST = '127.0.0.1'
export const AMQP_PORT = 5672

/** A short random token for names a test owns. */
export function token(): string {
  return randomBytes(4).toString('hex')
}

export function redisUrl(db: number): string {
  return `redis://${REDIS_HOST}:${REDIS_PORT}/${db}`
}

export function redisClient(db: number): Redis {
  return new Redis({host: REDIS_HOST, port: REDIS_PORT, db, lazyConnect: false, maxRetriesPerRequest: 1})
}

/** Every key under a prefix (SCAN, never KEYS on a shared server). */
export async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/([*?[\]\\])/g, '\\$1')}*`, 'COUNT', 1000)
    found.push(...keys)
    cursor = next
  } while (cursor !== '0')
  return found
}

/** Deletes the keys under a prefix that the test owns (worker queues, bindings): tidiness, not a check. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysWithPrefix(redis, prefix)
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500))
}

/**
 * wfctl's reply lists and reply-binding members left under a prefix for one control exchange: must be
 * none after wfctl ran. A closed reply list that Redis expires by itself within wfctl's late-reply
 * expiry is not left behind (it is how wfctl disposes of late replies).
 */
export async function redisLeftovers(redis: Redis, prefix: string, controlExchange = 'celery'): Promise<string[]> {
  const suffix = `.reply.${controlExchange}.pidbox`
  const lists = (await keysWithPrefix(redis, prefix)).filter((k) => !k.startsWith(`${prefix}_kombu.binding.`) && (k.endsWith(suffix) || k.includes(`${suffix}\x06\x16`)))
  const left: string[] = []
  for (const key of lists) {
    const ttl = await redis.pttl(key)
    if (ttl > 0 && ttl <= LATE_REPLY_EXPIRY_MS) continue
    left.push(`list ${JSON.stringify(key)} (pttl ${ttl})`)
  }
  const members = await redis.smembers(`${prefix}_kombu.binding.reply.${controlExchange}.pidbox`)
  return [...left, ...members.map((m) => `member ${JSON.stringify(m)}`)]
}

/** The local TCP ports of the sockets a process holds (Linux /proc): how a test finds its own connections. */
export function localPortsOf(pid: number): Set<number> {
  const inodes = new Set<string>()
  let fds: string[] = []
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return new Set()
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) inodes.add(m[1])
    } catch {}
  }
  const ports = new Set<number>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length > 9 && inodes.has(f[9])) ports.add(Number.parseInt(f[1].split(':').at(-1)!, 16))
    }
  }
  return ports
}

export interface RedisClientInfo {
  id: string
  name: string
  db: number
  line: string
}

/** The connections to the shared Redis that process `pid` holds (CLIENT LIST matched against its sockets). */
export async function redisClientsOf(redis: Redis, pid = process.pid): Promise<RedisClientInfo[]> {
  const ports = localPortsOf(pid)
  const list = (await redis.client('LIST')) as string
  return list.split('\n').filter((line) => line.trim() !== '').flatMap((line) => {
    const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1] ?? ''
    const port = Number(/:(\d+)$/.exec(field('addr'))?.[1])
    return ports.has(port) ? [{id: field('id'), name: field('name'), db: Number(field('db')), line}] : []
  })
}

export async function rabbitctl(...args: string[]): Promise<string> {
  const {stdout} = await exec('rabbitmqctl', ['-q', ...args], {timeout: 60_000})
  return stdout
}

/** A vhost of the test's own, with guest allowed in; remove() deletes it and all it holds. */
export async function createVhost(prefix = 'wfctl-test'): Promise<{name: string; url: string; remove: () => Promise<void>}> {
  const name = `${prefix}-${token()}`
  await rabbitctl('add_vhost', name)
  await rabbitctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')
  return {
    name,
    url: `amqp://guest:guest@${AMQP_HOST}:${AMQP_PORT}/${encodeURIComponent(name)}`,
    remove: async () => {
      await rabbitctl('delete_vhost', name)
    },
  }
}

/** Reply queues in a vhost, listed by rabbitmqctl (about a second a call: for a few checks only). */
export async function rabbitReplyQueues(vhost: string): Promise<string[]> {
  const out = await rabbitctl('list_queues', '-p', vhost, 'name')
  return out.split('\n').map((l) => l.trim()).filter((l) => /\.reply\..*pidbox$/.test(l))
}

export interface AmqpReplyWatch {
  /** The reply queues named by the requests seen so far that still exist. */
  existing: () => Promise<string[]>
  /** Reply queues of requests seen that are not gone within `deadlineMs`: must be none after wfctl ran. */
  leftovers: (deadlineMs?: number) => Promise<string[]>
  close: () => Promise<void>
}

/**
 * Watches a vhost's request exchange (declared with Celery's flags, as a worker does) and checks the
 * reply queue each request names, by a passive declare of its exact name: milliseconds, where
 * listing the vhost's queues with rabbitmqctl takes a second.
 */
export async function watchAmqpReplies(url: string, controlExchange = 'celery'): Promise<AmqpReplyWatch> {
  const conn = await connect(url)
  conn.on('error', () => {})
  try {
    const ch = await conn.createChannel()
    ch.on('error', () => {})
    await ch.assertExchange(`${controlExchange}.pidbox`, 'fanout', {durable: false, autoDelete: false})
    const {queue} = await ch.assertQueue('', {exclusive: true, autoDelete: true})
    await ch.bindQueue(queue, `${controlExchange}.pidbox`, '')
    const pending = new Set<string>()
    const drain = async () => {
      for (;;) {
        const m = await ch.get(queue, {noAck: true})
        if (!m) return
        try {
          const body = JSON.parse(m.content.toString()) as {reply_to?: {exchange?: string; routing_key?: string}}
          if (body.reply_to?.routing_key && body.reply_to.exchange) pending.add(`${body.reply_to.routing_key}.${body.reply_to.exchange}`)
        } catch {}
      }
    }
    const exists = async (name: string): Promise<boolean> => {
      const probe = await conn.createChannel()
      probe.on('error', () => {})
      try {
        await probe.checkQueue(name)
        return true
      } catch (error) {
        // 404 NOT_FOUND: gone. 405 RESOURCE_LOCKED: an exclusive queue of another connection, so there.
        // The reply code, not the message: the message holds the names, and a random name can hold "404".
        return !isNotFound(error)
      } finally {
        await probe.close().catch(() => {})
      }
    }
    const existing = async () => {
      await drain()
      const there: string[] = []
      for (const name of pending) {
        if (await exists(name)) there.push(name)
        else pending.delete(name)
      }
      return there
    }
    return {
      existing,
      // RabbitMQ deletes a cancelled auto-delete or exclusive queue a moment after the client is done.
      leftovers: (deadlineMs = 5000) => poll(existing, (left) => left.length === 0, deadlineMs, 25),
      close: async () => {
        await conn.close().catch(() => {})
      },
    }
  } catch (error) {
    await conn.close().catch(() => {})
    throw error
  }
}

/**
 * The keys under a prefix that stay: every key but the closed reply lists Redis expires by itself
 * (wfctl's late-reply marker). What "nothing left under the prefix" means.
 */
export async function keysLeft(redis: Redis, prefix: string): Promise<string[]> {
  const left: string[] = []
  for (const key of await keysWithPrefix(redis, prefix)) {
    const ttl = await redis.pttl(key)
    if (ttl > 0 && ttl <= LATE_REPLY_EXPIRY_MS && key.includes('.reply.')) continue
    left.push(key)
  }
  return left
}
