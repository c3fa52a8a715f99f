// A fake Celery worker on a real Redis that answers pidbox requests the way kombu does
// (docs/wire-protocol.md#the-reply-route) — but with whatever a test wants in the reply: huge, deeply nested or hostile bodies,
// odd content types, many node names at once, late replies.
import {randomUUID} from 'node:crypto'
import {Redis} from 'ioredis'

import {keysWithPrefix, REDIS_HOST, REDIS_PORT} from './brokers.js'

/** kombu's field separator in binding members (docs/wire-protocol.md#keys-and-channels). */
export const SEP = '\x06\x16'

/** A request as the fake worker received it: the decoded body plus the envelope's headers. */
export interface PidboxRequest {
  method: string
  arguments: Record<string, unknown>
  destination: string[] | null
  pattern: string | null
  matcher: string | null
  ticket?: string
  reply_to?: {exchange: string; routing_key: string}
  /** The envelope's headers (clock, expires: the client's deadline in epoch seconds). */
  headers: Record<string, unknown>
  /** performance.now() when the request arrived. */
  receivedAt: number
}

/** One reply to push. */
export interface FakeReply {
  /** The node name (default: the worker's `node`). */
  node?: string
  /** The payload under the node name (default `{ok: 'pong'}`). */
  payload?: unknown
  /** The exact body bytes, instead of `{node: payload}` as JSON (a 70 MB string, 6,000 brackets...). */
  body?: string | Buffer
  contentType?: string
  contentEncoding?: string
}

export interface HostileWorkerOptions {
  db: number
  prefix?: string
  controlExchange?: string
  /** Another Redis than the shared one on 127.0.0.1:6379 (a private-redis server). */
  host?: string
  port?: number
  username?: string
  password?: string
  /** The default node name of replies. */
  node?: string
  /** What to answer to one request (default: one `{ok: 'pong'}` from `node`). An empty list answers nothing. */
  replies?: (request: PidboxRequest) => FakeReply[] | Promise<FakeReply[]>
  /** How long to wait after the request arrived before replying: a number, or computed from the request. */
  delayMs?: number | ((request: PidboxRequest) => number)
  /** Reply envelopes per LPUSH command (all in one pipeline), for thousands of replies at once. */
  batch?: number
}

export interface HostileWorker {
  /** The requests received so far. */
  requests: PidboxRequest[]
  /** How many reply envelopes were pushed so far (to lists whose binding member was found). */
  pushed: () => number
  /** Resolves when `n` requests have been answered (or given up on: no binding member, or an error). */
  answered: (n?: number, deadlineMs?: number) => Promise<void>
  /** Errors met while replying (a test may assert there were none). */
  errors: Error[]
  /** Unsubscribes and disconnects; removes nothing on wfctl's behalf (use tidy() at test end). */
  stop: () => Promise<void>
}

function envelope(body: Buffer, ticket: string | undefined, replyTo: {exchange: string; routing_key: string}, reply: FakeReply): string {
  return JSON.stringify({
    body: body.toString('base64'),
    'content-encoding': reply.contentEncoding ?? 'utf-8',
    'content-type': reply.contentType ?? 'application/json',
    headers: ticket === undefined ? {} : {ticket},
    properties: {
      delivery_tag: randomUUID(),
      body_encoding: 'base64',
      delivery_info: {exchange: replyTo.exchange, routing_key: replyTo.routing_key},
      delivery_mode: 1,
      priority: 0,
    },
  })
}

function bodyOf(reply: FakeReply, node: string): Buffer {
  if (reply.body !== undefined) return typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body
  return Buffer.from(JSON.stringify({[reply.node ?? node]: reply.payload === undefined ? {ok: 'pong'} : reply.payload}), 'utf8')
}

function connection(opts: HostileWorkerOptions): Redis {
  return new Redis({
    host: opts.host ?? REDIS_HOST,
    port: opts.port ?? REDIS_PORT,
    db: opts.db,
    username: opts.username,
    password: opts.password,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: () => null,
  })
}

/** Starts a fake worker subscribed to the request channel of a namespace; resolves once subscribed. */
export async function startHostileWorker(opts: HostileWorkerOptions): Promise<HostileWorker> {
  const prefix = opts.prefix ?? ''
  const exchange = opts.controlExchange ?? 'celery'
  const node = opts.node ?? `hostile-${randomUUID().slice(0, 8)}@test`
  const channel = `${prefix}/${opts.db}.${exchange}.pidbox`
  const sub = connection(opts)
  const cmd = connection(opts)
  sub.on('error', () => {})
  cmd.on('error', () => {})
  const requests: PidboxRequest[] = []
  const errors: Error[] = []
  let pushed = 0
  let done = 0
  const waiters: (() => void)[] = []
  const finished = () => {
    done += 1
    for (const w of waiters.splice(0)) w()
  }

  const answer = async (request: PidboxRequest) => {
    try {
      const delay = typeof opts.delayMs === 'function' ? opts.delayMs(request) : opts.delayMs ?? 0
      if (delay > 0) await new Promise((r) => setTimeout(r, delay))
      if (!request.reply_to || request.ticket === undefined) return
      const replies = opts.replies ? await opts.replies(request) : [{}]
      if (replies.length === 0) return
      // As kombu does: the binding set first, then a push to each list whose member matches.
      const members = await cmd.smembers(`${prefix}_kombu.binding.${request.reply_to.exchange}`)
      const queues = members.map((m) => m.split(SEP)).filter((f) => f.length === 3 && f[0] === request.reply_to!.routing_key).map((f) => f[2])
      if (queues.length === 0) return
      const batch = opts.batch ?? 1000
      for (const queue of queues) {
        const pipeline = cmd.pipeline()
        for (let i = 0; i < replies.length; i += batch) {
          const chunk = replies.slice(i, i + batch).map((r) => envelope(bodyOf(r, node), request.ticket, request.reply_to!, r))
          pipeline.lpush(`${prefix}${queue}`, ...chunk)
        }
        const results = await pipeline.exec()
        for (const [error] of results ?? []) if (error) throw error
        pushed += replies.length
      }
    } catch (error) {
      errors.push(error as Error)
    } finally {
      finished()
    }
  }

  sub.on('message', (_channel: string, message: string) => {
    let request: PidboxRequest
    try {
      const env = JSON.parse(message)
      const body = JSON.parse(Buffer.from(env.body, 'base64').toString('utf8'))
      request = {...body, headers: env.headers ?? {}, receivedAt: performance.now()}
    } catch {
      return
    }
    requests.push(request)
    void answer(request)
  })
  await sub.subscribe(channel)
  await cmd.ping()

  return {
    requests,
    errors,
    pushed: () => pushed,
    answered: async (n = 1, deadlineMs = 30_000) => {
      const end = performance.now() + deadlineMs
      while (done < n) {
        const left = end - performance.now()
        if (left <= 0) throw new Error(`fake worker ${node}: ${done} of ${n} requests answered within ${deadlineMs} ms`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left)
          waiters.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    },
    stop: async () => {
      await Promise.allSettled([sub.quit(), cmd.quit()])
      sub.disconnect()
      cmd.disconnect()
    },
  }
}

/** The deadline wfctl put in the request (headers.expires), as milliseconds from now. */
export function msUntilDeadline(request: PidboxRequest): number {
  const expires = Number(request.headers.expires)
  return Number.isFinite(expires) ? expires * 1000 - Date.now() : 0
}

/** Deletes every key under a test's own prefix: what the broker held before the test. */
export async function tidy(redis: Redis, prefix: string): Promise<void> {
  if (!prefix) throw new Error('tidy() needs a prefix: it never deletes outside a test namespace')
  const keys = await keysWithPrefix(redis, prefix)
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500))
}
