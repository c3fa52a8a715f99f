import {randomUUID} from 'node:crypto'

import {assertSafeEnvelope, decodeEnvelope, encodeEnvelope} from '../protocol/envelope.js'
import type {ReceivedMessage, WireMessage} from '../protocol/message.js'
import {RespConnection, RespError, type Reply, type RespOptions} from './resp.js'
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
  private cmd?: RespConnection
  private closed = false
  /** Every connection made, so that close() and interrupts can end them all, even mid-connect. */
  private readonly connections = new Set<RespConnection>()

  constructor(private readonly opts: TransportOptions) {
    this.names = redisNames(opts.url.db, opts.namespace.controlExchange, opts.namespace.redisKeyPrefix)
    this.requestAddress = `channel ${this.names.requestChannel}`
  }

  private get options(): RespOptions {
    const {url, connectTimeoutMs} = this.opts
    return {
      host: url.host,
      port: url.port,
      tls: url.tls ? {servername: url.host, rejectUnauthorized: url.verifyCertificate} : undefined,
      username: url.username,
      password: url.password,
      db: url.db,
      name: 'wfctl',
      // A broker that stops answering after connecting must not hang a command either.
      commandTimeoutMs: connectTimeoutMs,
    }
  }

  /** Connects within the connect timeout; the failure names the cause (refused, auth...). */
  private async open(over: Partial<RespOptions> = {}): Promise<RespConnection> {
    const {url, connectTimeoutMs} = this.opts
    let connection: RespConnection | undefined
    const opening = RespConnection.open({...this.options, ...over}, (c) => {
      connection = c
      this.connections.add(c)
    })
    try {
      const ready = await withDeadline(opening, connectTimeoutMs, `cannot connect to ${url.masked}`, () => connection?.destroy())
      if (this.closed) ready.destroy()
      return ready
    } catch (error) {
      connection?.destroy()
      throw brokerFailure(url, error, 'cannot connect to')
    }
  }

  async connect(): Promise<void> {
    this.cmd = await this.open()
  }

  private get command(): RespConnection {
    if (!this.cmd) throw new Error('redis transport used before connect()')
    return this.cmd
  }

  async openInbox(onMessages: (messages: ReceivedMessage[]) => void, onFailure: (error: Error) => void): Promise<Inbox> {
    const cmd = this.command
    const oid = randomUUID()
    const member = this.names.replyMember(oid)
    const keys = this.names.queueKeys(this.names.replyQueue(oid))
    const failure = (error: unknown) => brokerFailure(this.opts.url, error, 'lost the connection to')
    let blocking: RespConnection | undefined

    let closed = false
    const close = async (opts?: {repliesInFlight?: boolean}) => {
      if (closed) return
      closed = true
      blocking?.destroy()
      // Remove the route first, so no worker can push to the lists once they are deleted. A worker
      // that read the members just before (kombu: SMEMBERS, then LPUSH) may still push one reply:
      // when replies are outstanding, delete the lists once more after it had time to land.
      const cleanUp = async (client: RespConnection) => {
        const bounded = (work: Promise<unknown>) => withDeadline(work, this.opts.connectTimeoutMs, `cannot clean up on ${this.opts.url.masked}`, () => client.destroy())
        await bounded(client.transaction([['SREM', this.names.replyBindingKey, member], ['DEL', ...keys]]))
        if (!opts?.repliesInFlight) return
        await new Promise((resolve) => setTimeout(resolve, STRAGGLER_GRACE_MS))
        await bounded(client.call('DEL', ...keys))
      }
      try {
        if (cmd.status === 'ready') return void (await cleanUp(cmd))
      } catch {
        // The connection went down under us: fall through to a fresh one.
      }
      // The connection was lost mid-call: a fresh one removes the route, or it would stay forever.
      const fresh = await this.open()
      try {
        await cleanUp(fresh)
      } finally {
        fresh.destroy()
      }
    }

    try {
      // The member must exist before the request is published, or replies are dropped (protocol §5.4).
      // BRPOP blocks by design: the call's own deadline bounds it, not a command timeout.
      // Cleanup runs whatever happened here: SREM and DEL of what was never created are harmless.
      ;[blocking] = await Promise.all([this.open({commandTimeoutMs: undefined}), cmd.call('SADD', this.names.replyBindingKey, member)])
    } catch (error) {
      await close().catch(() => {})
      throw failure(error)
    }
    const inbox = blocking

    let canDrain = true
    const receive = async () => {
      while (!closed) {
        let first: Reply
        try {
          first = await inbox.call('BRPOP', ...keys, 0)
        } catch (error) {
          if (!closed) onFailure(failure(error))
          return
        }
        if (!Array.isArray(first) || typeof first[1] !== 'string') continue
        const raw = [first[1]]
        while (canDrain && !closed) {
          let more: Reply
          try {
            more = await inbox.call('RPOP', keys[0], DRAIN_BATCH)
          } catch (error) {
            if (!(error instanceof RespError)) break
            canDrain = false // Redis < 6.2 has no RPOP count: one reply per BRPOP still works.
            break
          }
          if (!Array.isArray(more) || more.length === 0) break
          for (const entry of more) if (typeof entry === 'string') raw.push(entry)
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
      const listeners = await this.command.call('PUBLISH', this.names.requestChannel, JSON.stringify(envelope))
      return typeof listeners === 'number' ? {listeners} : {}
    } catch (error) {
      throw brokerFailure(this.opts.url, error, 'cannot publish to')
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const cmd = this.cmd
    this.cmd = undefined
    for (const c of this.connections) if (c !== cmd) c.destroy()
    if (cmd) await cmd.quit(this.opts.connectTimeoutMs)
  }
}
