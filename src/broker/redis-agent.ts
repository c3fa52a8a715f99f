import type {Redis as RedisClient, RedisOptions} from 'ioredis'

import {redisNames} from './redis.js'
import {SEP} from './redis-keys.js'
import {brokerFailure, withDeadline, type LinkOptions} from './common.js'
import {effectiveUrl, serverName, tlsOptions} from './tls.js'
import {ConnectionLostError} from '../errors.js'
import {assertSafeEnvelope, decodeEnvelope, encodeEnvelope} from '../wire/envelope.js'
import {chunks, decodeRequest, eventMessage, replyMessage, type AgentLink, type LinkListeners, type ReplyBatch} from '../wire/link.js'
import type {WorkerEvent} from '../wire/events.js'

/** Commands per pipeline and values per LPUSH: large enough for 10,000 nodes, small enough to stay responsive. */
const PIPELINE_SLICE = 1000

/**
 * The worker side on Redis, kombu's layout (docs/wire-protocol.md#the-worker-side-wfctl-simulate): ONE subscription to the pidbox
 * fanout channel for every hosted node, mailbox bindings as real workers register them, replies
 * routed through the reply exchange's binding set, events PUBLISHed on the event channels.
 */
export class RedisAgentLink implements AgentLink {
  readonly kind = 'redis'
  private readonly names: ReturnType<typeof redisNames>
  private readonly keyPrefix: string
  private cmd?: RedisClient
  private sub?: RedisClient
  private listeners?: LinkListeners
  /** Nodes whose binding member exists: re-added when the connection comes back (a restarted Redis forgets them). */
  private readonly attached = new Set<string>()
  private connected = false
  private closing = false

  constructor(private readonly opts: LinkOptions) {
    this.keyPrefix = opts.namespace.redisKeyPrefix
    this.names = redisNames(opts.url.db, opts.namespace.controlExchange, this.keyPrefix)
  }

  /** `_kombu.binding.{ns}.pidbox`: the fanout exchange's binding set (not used for delivery, docs/wire-protocol.md#publishing-a-request). */
  private get mailboxBindingKey(): string {
    return `${this.keyPrefix}_kombu.binding.${this.opts.namespace.controlExchange}.pidbox`
  }

  private mailboxQueue(node: string): string {
    return `${node}.${this.opts.namespace.controlExchange}.pidbox`
  }

  /** Queue names inside members are never prefixed (docs/wire-protocol.md#keys-and-channels). */
  private mailboxMember(node: string): string {
    return `${SEP}${SEP}${this.mailboxQueue(node)}`
  }

  private eventChannel(routingKey: string): string {
    return `${this.keyPrefix}/${this.opts.url.db}.${this.opts.namespace.eventExchange}/${routingKey}`
  }

  private client(): RedisClient {
    if (!this.cmd || this.closing) throw new Error('redis agent link used while not connected')
    return this.cmd
  }

  async connect(listeners: LinkListeners): Promise<void> {
    this.listeners = listeners
    const {Redis} = await import('ioredis')
    const {url, connectTimeoutMs} = this.opts
    const tls = tlsOptions(url, this.opts.tls)
    const options: RedisOptions = {
      host: url.host,
      port: url.port,
      username: url.username,
      password: url.password,
      db: url.db,
      tls: tls ? {...tls, ...serverName(url.host)} : undefined,
      connectionName: 'wfctl-agent',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: connectTimeoutMs,
      // A long-lived host rides out a broker restart; the first connection must work or fail fast.
      retryStrategy: (times) => (this.connected && !this.closing ? Math.min(times * 200, 2000) : null),
      autoResubscribe: true,
      disconnectTimeout: 50,
    }
    this.cmd = new Redis({...options, commandTimeout: connectTimeoutMs})
    this.sub = new Redis(options)
    for (const [role, client] of [['command', this.cmd], ['subscriber', this.sub]] as const) {
      client.on('error', (error: Error) => {
        if (this.connected && !this.closing) listeners.onLog({level: 'warning', message: `${role} connection: ${error.message}`})
      })
    }
    try {
      await Promise.all([this.open(this.cmd), this.open(this.sub)])
      this.sub.on('pmessage', (_pattern: string, _channel: string, raw: string) => this.receive(raw))
      // kombu PSUBSCRIBEs the literal channel name (docs/wire-protocol.md#publishing-a-request); so do we, to hear exactly what workers hear.
      await withDeadline(this.sub.psubscribe(this.names.requestChannel), connectTimeoutMs, `cannot subscribe on ${url.masked}`, () => {})
    } catch (error) {
      this.cmd.disconnect()
      this.sub.disconnect()
      throw brokerFailure(effectiveUrl(url, this.opts.tls), fromIoredis(error), 'cannot connect to')
    }
    this.connected = true
    this.cmd.on('ready', () => void this.reregister())
  }

  private async open(client: RedisClient): Promise<void> {
    const {url, connectTimeoutMs} = this.opts
    // ioredis rejects connect() with a bare "Connection is closed."; the cause comes as an event.
    let cause: Error | undefined
    const onError = (error: Error) => (cause ??= error)
    client.on('error', onError)
    try {
      await withDeadline(client.connect(), connectTimeoutMs, `cannot connect to ${url.masked}`, () => client.disconnect())
    } catch (error) {
      throw cause ?? error
    } finally {
      client.off('error', onError)
    }
  }

  private receive(raw: string): void {
    const envelope = decodeEnvelope(raw, performance.now())
    // Channel payloads that are no kombu envelope are ignored, as kombu does (docs/wire-protocol.md#the-worker-side-wfctl-simulate).
    if (typeof envelope === 'string') return this.listeners?.onLog({level: 'warning', message: `ignored a pidbox message: ${envelope}`})
    const request = decodeRequest(envelope)
    if (typeof request === 'string') return this.listeners?.onLog({level: 'error', message: `ignored a pidbox message: ${request}`})
    this.listeners?.onRequest(request)
  }

  private async reregister(): Promise<void> {
    if (this.closing || this.attached.size === 0) return
    try {
      await this.register([...this.attached])
      this.listeners?.onLog({level: 'info', message: `reconnected to ${this.opts.url.masked}; ${this.attached.size} mailboxes registered again`})
    } catch (error) {
      this.listeners?.onLog({level: 'error', message: `cannot register mailboxes again: ${(error as Error).message}`})
    }
  }

  private async register(nodes: string[]): Promise<void> {
    const cmd = this.client()
    for (const slice of chunks(nodes, PIPELINE_SLICE)) {
      await cmd.sadd(this.mailboxBindingKey, ...slice.map((n) => this.mailboxMember(n)))
    }
  }

  /** `SADD _kombu.binding.{ns}.pidbox` as a worker does at start (docs/wire-protocol.md#the-worker-side-wfctl-simulate); delivery is the shared subscription. */
  async attach(nodes: string[]): Promise<{node: string; reason: string}[]> {
    await this.register(nodes)
    for (const node of nodes) this.attached.add(node)
    return []
  }

  /** SREM of the members and DEL of the four mailbox lists, as a worker's warm shutdown (docs/wire-protocol.md#the-worker-side-wfctl-simulate). */
  async detach(nodes: string[]): Promise<void> {
    const cmd = this.client()
    for (const node of nodes) this.attached.delete(node)
    for (const slice of chunks(nodes, PIPELINE_SLICE)) {
      const pipeline = cmd.pipeline().srem(this.mailboxBindingKey, ...slice.map((n) => this.mailboxMember(n)))
      pipeline.del(...slice.flatMap((n) => this.names.queueKeys(this.mailboxQueue(n))))
      const results = await pipeline.exec()
      const failed = results?.find(([error]) => error)
      if (failed) throw failed[0]
    }
  }

  /**
   * kombu's direct-exchange publish (docs/wire-protocol.md#the-reply-route): the members of the reply exchange's binding set
   * whose routing key matches name the lists to LPUSH. No member: the client is gone, drop silently.
   */
  async reply(batch: ReplyBatch): Promise<void> {
    const cmd = this.client()
    const members = await cmd.smembers(`${this.keyPrefix}_kombu.binding.${batch.exchange}`)
    const queues = new Set<string>()
    for (const member of members) {
      const [routingKey, , queue] = member.split(SEP)
      if (routingKey === batch.routingKey && queue !== undefined) queues.add(this.keyPrefix + queue)
    }
    if (queues.size === 0) return
    const envelopes = batch.replies.map(({node, payload, clock}) => {
      const envelope = encodeEnvelope(replyMessage(node, payload, batch.ticket, clock), batch.exchange, batch.routingKey)
      assertSafeEnvelope(envelope)
      return JSON.stringify(envelope)
    })
    const pipeline = cmd.pipeline()
    // Replies are priority 0: the plain list, which BRPOP serves first (docs/wire-protocol.md#keys-and-channels).
    for (const queue of queues) for (const slice of chunks(envelopes, PIPELINE_SLICE)) pipeline.lpush(queue, ...slice)
    const results = await pipeline.exec()
    const failed = results?.find(([error]) => error)
    if (failed) throw failed[0]
  }

  async publishEvents(events: WorkerEvent[]): Promise<void> {
    const cmd = this.client()
    for (const slice of chunks(events, PIPELINE_SLICE)) {
      const pipeline = cmd.pipeline()
      for (const event of slice) {
        const {routingKey, message} = eventMessage(event)
        // delivery_info.routing_key is mandatory: its absence kills every worker's gossip (docs/wire-protocol.md#what-wfctl-never-sends).
        const envelope = encodeEnvelope(message, this.opts.namespace.eventExchange, routingKey)
        assertSafeEnvelope(envelope)
        pipeline.publish(this.eventChannel(routingKey), JSON.stringify(envelope))
      }
      await pipeline.exec()
    }
  }

  async close(): Promise<void> {
    this.closing = true
    const {cmd, sub} = this
    this.cmd = undefined
    this.sub = undefined
    const quit = async (client: RedisClient | undefined) => {
      if (!client) return
      await withDeadline(client.quit(), this.opts.connectTimeoutMs, 'quit', () => client.disconnect()).catch(() => client.disconnect())
    }
    await Promise.all([quit(sub), quit(cmd)])
  }
}

/**
 * ioredis reports a closed connection only as an Error whose message is "Connection is closed.":
 * the one place that knows it turns it into wfctl's typed error.
 */
function fromIoredis(error: unknown): unknown {
  if (error instanceof Error && error.message.startsWith('Connection is closed')) return new ConnectionLostError('the broker closed the connection')
  return error
}
