import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {promisify} from 'node:util'
import {Redis} from 'ioredis'

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

/** Reply lists and reply-binding members left in a Redis DB under a prefix: must be none after wfctl ran. */
export async function redisLeftovers(redis: Redis, prefix: string, controlExchange = 'celery'): Promise<string[]> {
  const keys = (await keysWithPrefix(redis, prefix)).filter((k) => k.includes('.reply.') && k.includes('pidbox'))
  const members = await redis.smembers(`${prefix}_kombu.binding.reply.${controlExchange}.pidbox`)
  return [...keys, ...members.map((m) => `member ${JSON.stringify(m)}`)]
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

/** Reply queues in a vhost: must be none after wfctl ran. */
export async function rabbitReplyQueues(vhost: string): Promise<string[]> {
  const out = await rabbitctl('list_queues', '-p', vhost, 'name')
  return out.split('\n').map((l) => l.trim()).filter((l) => /\.reply\..*pidbox$/.test(l))
}
