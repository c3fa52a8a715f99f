import {randomUUID} from 'node:crypto'
import type {Redis as RedisClient, RedisOptions} from 'ioredis'

import {assertSafeEnvelope, decodeEnvelope, encodeEnvelope} from '../protocol/envelope.js'
import type {ReceivedMessage, WireMessage} from '../protocol/message.js'
import {brokerFailure, withDeadline, type Inbox, type PublishResult, type Transport, type TransportOptions} from './transport.js'

/** kombu's field separator inside binding members and priority queue names (protocol §5.1). */
export const SEP = '\x06\x16'
const PRIORITY_STEPS = ['3', '6', '9']
/** How long a worker may take between reading the reply route and pushing its reply. */
const STRAGGLER_GRACE_MS = 150
/** Replies drained per round trip once BRPOP has woken up (RPOP with a count, Redis >= 6.2). */
const DRAIN_BATCH = 1000

/** kombu's key and channel names for one control namespace on one database (protocol §5.1). */
export function redisNames(db: number, controlExchange: string, keyPrefix: string) {
  const replyQueue = (oid: string) => `${oid}.reply.${controlExchange}.pidbox`
  return {
    requestChannel: `${keyPrefix}/${db}.${controlExchange}.pidbox`,
    replyBindingKey: `${keyPrefix}_kombu.binding.reply.${controlExchange}.pidbox`,
    replyQueue,
    /** The member that routes replies for `oid` to its queue; queue names inside members are never prefixed. */
    replyMember: (oid: string) => `${oid}${SEP}${SEP}${replyQueue(oid)}`,
    /** The four lists of a queue, plain first: BRPOP serves them in this order. */
    queueKeys: (queue: string) => [queue, ...PRIORITY_STEPS.map((p) => `${queue}${SEP}${p}`)].map((k) => keyPrefix + k),
  }
}

export class RedisTransport implements Transport {
  readonly kind = 'redis'
  readonly requestAddress: string
  private readonly names: ReturnType<typeof redisNames>
  private cmd?: RedisClient
  private pending?: RedisClient
  private closed = false
  private readonly extra: RedisClient[] = []

  constructor(private readonly opts: TransportOptions) {
    this.names = redisNames(opts.url.db, opts.namespace.controlExchange, opts.namespace.redisKeyPrefix)
    this.requestAddress = `channel ${this.names.requestChannel}`
  }

  /** Connects a client within the connect timeout; the failure names the cause (refused, auth...). */
  private async open(client: RedisClient): Promise<RedisClient> {
    const {url, connectTimeoutMs} = this.opts
    // ioredis rejects connect() with a bare "Connection is closed."; the cause comes as an event.
    let cause: Error | undefined
    client.on('error', (error: Error) => {
      cause ??= error
    })
    try {
      await withDeadline(client.connect(), connectTimeoutMs, `cannot connect to ${url.masked}`, () => {
        // A broker that accepted and never answered would not answer a polite close either.
        const stream = (client as unknown as {stream?: {destroy(): void}}).stream
        client.disconnect()
        stream?.destroy()
      })
    } catch (error) {
      if (client.status !== 'end') client.disconnect()
      throw brokerFailure(url, cause ?? error, 'cannot connect to')
    }
    return client
  }

  async connect(): Promise<void> {
    const {Redis} = await import('ioredis')
    const {url, connectTimeoutMs} = this.opts
    const options: RedisOptions = {
      host: url.host,
      port: url.port,
      username: url.username,
      password: url.password,
      db: url.db,
      tls: url.tls ? {servername: url.host, rejectUnauthorized: url.verifyCertificate} : undefined,
      connectionName: 'wfctl',
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      autoResubscribe: false,
      connectTimeout: connectTimeoutMs,
      // A broker that stops answering after connecting must not hang a command either.
      commandTimeout: connectTimeoutMs,
      // How long a closing socket may linger before it is destroyed (ioredis' default keeps a
      // failed probe alive for 2 s after its answer is known).
      disconnectTimeout: 50,
    }
    const client = new Redis(options)
    this.pending = client
    this.cmd = await this.open(client)
    this.pending = undefined
    // Closed while connecting (an interrupt): do not keep a connection nobody will close.
    if (this.closed) await this.close()
  }

  private get command(): RedisClient {
    if (!this.cmd) throw new Error('redis transport used before connect()')
    return this.cmd
  }

  async openInbox(onMessages: (messages: ReceivedMessage[]) => void, onFailure: (error: Error) => void): Promise<Inbox> {
    const cmd = this.command
    const oid = randomUUID()
    const member = this.names.replyMember(oid)
    const keys = this.names.queueKeys(this.names.replyQueue(oid))
    // BRPOP blocks by design: the call's own deadline bounds it, not a command timeout.
    const blocking = cmd.duplicate({commandTimeout: undefined})
    this.extra.push(blocking)
    const failure = (error: unknown) => brokerFailure(this.opts.url, error, 'lost the connection to')

    let closed = false
    const close = async (opts?: {repliesInFlight?: boolean}) => {
      if (closed) return
      closed = true
      blocking.disconnect()
      // Remove the route first, so no worker can push to the lists once they are deleted. A worker
      // that read the members just before (kombu: SMEMBERS, then LPUSH) may still push one reply:
      // when replies are outstanding, delete the lists once more after it had time to land.
      const cleanUp = async (client: RedisClient) => {
        const bounded = (work: Promise<unknown>) => withDeadline(work, this.opts.connectTimeoutMs, `cannot clean up on ${this.opts.url.masked}`, () => client.disconnect())
        await bounded(client.multi().srem(this.names.replyBindingKey, member).del(...keys).exec())
        if (!opts?.repliesInFlight) return
        await new Promise((resolve) => setTimeout(resolve, STRAGGLER_GRACE_MS))
        await bounded(client.del(...keys))
      }
      try {
        if (cmd.status === 'ready') return void (await cleanUp(cmd))
      } catch {
        // The connection went down under us: fall through to a fresh one.
      }
      // The connection was lost mid-call: a fresh one removes the route, or it would stay forever.
      const fresh = await this.open(cmd.duplicate())
      try {
        await cleanUp(fresh)
      } finally {
        fresh.disconnect()
      }
    }

    try {
      // The member must exist before the request is published, or replies are dropped (protocol §5.4).
      // Cleanup runs whatever happened here: SREM and DEL of what was never created are harmless.
      await Promise.all([this.open(blocking), cmd.sadd(this.names.replyBindingKey, member)])
    } catch (error) {
      await close().catch(() => {})
      throw failure(error)
    }

    let canDrain = true
    const receive = async () => {
      while (!closed) {
        let first: [string, string] | null
        try {
          first = await blocking.brpop(...keys, 0)
        } catch (error) {
          if (!closed) onFailure(failure(error))
          return
        }
        if (!first) continue
        const raw = [first[1]]
        while (canDrain && !closed) {
          let more: string[] | null
          try {
            more = await blocking.rpop(keys[0], DRAIN_BATCH)
          } catch {
            canDrain = false // Redis < 6.2 has no RPOP count: one reply per BRPOP still works.
            break
          }
          if (!more || more.length === 0) break
          raw.push(...more)
          if (more.length < DRAIN_BATCH) break
        }
        const now = performance.now()
        onMessages(raw.map((entry) => {
          const decoded = decodeEnvelope(entry, now)
          return typeof decoded === 'string' ? {body: Buffer.from(entry), headers: {}, receivedAt: now} : decoded
        }))
      }
    }
    void receive()
    return {routingKey: oid, close}
  }

  async publish(message: WireMessage): Promise<PublishResult> {
    const envelope = encodeEnvelope(message, `${this.opts.namespace.controlExchange}.pidbox`, '')
    assertSafeEnvelope(envelope)
    try {
      const listeners = await this.command.publish(this.names.requestChannel, JSON.stringify(envelope))
      return {listeners}
    } catch (error) {
      throw brokerFailure(this.opts.url, error, 'cannot publish to')
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.pending?.disconnect()
    for (const client of this.extra) client.disconnect()
    const cmd = this.cmd
    this.cmd = undefined
    if (!cmd) return
    await withDeadline(cmd.quit(), this.opts.connectTimeoutMs, 'quit', () => cmd.disconnect()).catch(() => cmd.disconnect())
  }
}
