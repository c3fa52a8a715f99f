import type {Channel, ChannelModel, ConsumeMessage} from 'amqplib'

import {closeAmqp, connectAmqp} from './amqp.js'
import {brokerFailure, withDeadline, type LinkOptions} from './common.js'
import {BrokerError} from '../errors.js'
import type {WireMessage} from '../wire/message.js'
import {chunks, decodeRequest, eventMessage, replyMessage, type AgentLink, type LinkListeners, type ReplyBatch} from '../wire/link.js'
import type {WorkerEvent} from '../wire/events.js'

/**
 * Celery 5.2's declarations, flag for flag (docs/wire-protocol.md#entities): a different flag on any of them makes
 * RabbitMQ refuse the redeclare (406) — to us or, worse, to the real workers declaring after us.
 */
const PIDBOX_EXCHANGE = {durable: false, autoDelete: false}
/** The worker mailbox queue: `control_queue_expires` 10 s, `control_queue_ttl` 300 s, in ms. */
const MAILBOX_QUEUE = {durable: false, autoDelete: true, exclusive: false, arguments: {'x-expires': 10_000, 'x-message-ttl': 300_000}}
const EVENT_EXCHANGE = {durable: true, autoDelete: false}
/** Mailbox declarations in flight at once: one round trip each, so a window keeps 10,000 nodes quick. */
const ATTACH_WINDOW = 200

/**
 * The worker side on RabbitMQ (docs/wire-protocol.md#the-worker-side-wfctl-simulate): one mailbox queue per node, as real workers have,
 * all consumed on one channel of one connection; replies and events go out on a second channel,
 * and declarations that may be refused run on a third, so a refusal never takes the consumers down.
 */
export class AmqpAgentLink implements AgentLink {
  readonly kind = 'amqp'
  private readonly requestExchange: string
  private connection?: ChannelModel
  private consumeChannel?: Channel
  private publishChannel?: Promise<Channel>
  private declareChannel?: Promise<Channel>
  /** Exchanges declared on the current publish channel (kombu declares the reply exchange before replying). */
  private declared = new Set<string>()
  private readonly consumers = new Map<string, string>()
  private listeners?: LinkListeners
  private closing = false

  constructor(private readonly opts: LinkOptions) {
    this.requestExchange = `${opts.namespace.controlExchange}.pidbox`
  }

  private fail(error: unknown, doing: string): BrokerError {
    return brokerFailure(this.opts.url, error, doing)
  }

  async connect(listeners: LinkListeners): Promise<void> {
    this.listeners = listeners
    const {url, connectTimeoutMs} = this.opts
    // Long-lived: heartbeats notice a broker that vanished without closing the socket.
    this.connection = await connectAmqp(url, connectTimeoutMs, {name: 'wfctl-agent', heartbeat: 60, tls: this.opts.tls})
    this.connection.on('error', () => {})
    this.connection.on('close', (error?: Error) => {
      if (!this.closing) listeners.onFailure(this.fail(error ?? new Error('connection closed by the broker'), 'lost the connection to'))
    })
    try {
      await withDeadline((async () => {
        const consume = await this.connection!.createChannel()
        consume.on('error', () => {})
        consume.on('close', () => {
          // Every mailbox consumer lives here: without it no node hears anything.
          if (!this.closing && this.consumeChannel === consume) listeners.onFailure(new BrokerError(`the broker closed the mailbox channel on ${url.masked}`))
        })
        await consume.assertExchange(this.requestExchange, 'fanout', PIDBOX_EXCHANGE)
        this.consumeChannel = consume
        await this.declareOnPublishChannel(this.opts.namespace.eventExchange, 'topic', EVENT_EXCHANGE)
      })(), connectTimeoutMs, `cannot declare the pidbox exchanges on ${url.masked}`, () => {})
    } catch (error) {
      await this.close()
      throw this.fail(error, 'cannot declare the pidbox exchanges on')
    }
  }

  /** A channel that is recreated on next use once the broker closed it (a refused declare, a vanished exchange). */
  private spare(which: 'publishChannel' | 'declareChannel'): Promise<Channel> {
    const existing = this[which]
    if (existing) return existing
    if (!this.connection || this.closing) return Promise.reject(new BrokerError('amqp agent link used while not connected'))
    const created = this.connection.createChannel().then((channel) => {
      let cause: Error | undefined
      channel.on('error', (error: Error) => (cause = error))
      channel.on('close', () => {
        if (this[which] === created) this[which] = undefined
        if (which === 'publishChannel') this.declared = new Set()
        if (cause && !this.closing) this.listeners?.onLog({level: 'warning', message: `the broker closed a channel: ${cause.message}`})
      })
      return channel
    })
    created.catch(() => {
      if (this[which] === created) this[which] = undefined
    })
    this[which] = created
    return created
  }

  private async declareOnPublishChannel(exchange: string, type: 'direct' | 'topic', flags: {durable: boolean; autoDelete: boolean}): Promise<Channel> {
    const channel = await this.spare('publishChannel')
    if (!this.declared.has(exchange)) {
      await channel.assertExchange(exchange, type, flags)
      this.declared.add(exchange)
    }
    return channel
  }

  async attach(nodes: string[]): Promise<{node: string; reason: string}[]> {
    const refused: {node: string; reason: string}[] = []
    for (const window of chunks(nodes, ATTACH_WINDOW)) {
      const outcomes = await Promise.allSettled(window.map((node) => this.attachOne(node)))
      outcomes.forEach((outcome, i) => {
        if (outcome.status === 'rejected') refused.push({node: window[i], reason: (outcome.reason as Error).message})
      })
    }
    return refused
  }

  private async attachOne(node: string): Promise<void> {
    const queue = `${node}.${this.opts.namespace.controlExchange}.pidbox`
    const declare = await this.spare('declareChannel')
    const ok = await declare.assertQueue(queue, MAILBOX_QUEUE)
    // A consumer already there is another process with this node name: sharing the queue would halve its requests.
    if (ok.consumerCount > 0) throw new Error(`a node named ${node} is already using this mailbox`)
    await declare.bindQueue(queue, this.requestExchange, '')
    const consume = this.consumeChannel
    if (!consume) throw new BrokerError('the mailbox channel is closed')
    const {consumerTag} = await consume.consume(queue, (msg) => this.receive(node, msg), {noAck: true})
    this.consumers.set(node, consumerTag)
  }

  private receive(node: string, msg: ConsumeMessage | null): void {
    if (!msg) return
    const request = decodeRequest({
      body: msg.content,
      contentType: msg.properties.contentType,
      contentEncoding: msg.properties.contentEncoding,
      headers: (msg.properties.headers ?? {}) as Record<string, unknown>,
      receivedAt: performance.now(),
    })
    if (typeof request === 'string') return this.listeners?.onLog({level: 'error', node, message: `ignored a pidbox message: ${request}`})
    this.listeners?.onRequest(request, node)
  }

  /** Cancelling the consumer deletes the auto-delete mailbox queue, binding included. */
  async detach(nodes: string[]): Promise<void> {
    const consume = this.consumeChannel
    for (const window of chunks(nodes, ATTACH_WINDOW)) {
      await Promise.all(window.map(async (node) => {
        const tag = this.consumers.get(node)
        this.consumers.delete(node)
        if (tag && consume) await consume.cancel(tag)
      }))
    }
  }

  private async publish(channel: Channel, exchange: string, routingKey: string, message: WireMessage): Promise<void> {
    const accepted = channel.publish(exchange, routingKey, message.body, {
      contentType: message.contentType,
      contentEncoding: message.contentEncoding,
      headers: message.headers,
      deliveryMode: message.deliveryMode,
      priority: 0,
    })
    // amqplib buffers without limit; wait for the socket when it says so.
    if (!accepted) await new Promise<void>((resolve) => channel.once('drain', resolve))
  }

  /** kombu declares the reply exchange (direct, not durable) and publishes with the client's routing key (docs/wire-protocol.md#the-worker-side-wfctl-simulate). */
  async reply(batch: ReplyBatch): Promise<void> {
    const channel = await this.declareOnPublishChannel(batch.exchange, 'direct', PIDBOX_EXCHANGE)
    for (const {node, payload, clock} of batch.replies) {
      await this.publish(channel, batch.exchange, batch.routingKey, replyMessage(node, payload, batch.ticket, clock))
    }
  }

  async publishEvents(events: WorkerEvent[]): Promise<void> {
    const exchange = this.opts.namespace.eventExchange
    const channel = await this.declareOnPublishChannel(exchange, 'topic', EVENT_EXCHANGE)
    for (const event of events) {
      const {routingKey, message} = eventMessage(event)
      await this.publish(channel, exchange, routingKey, message)
    }
  }

  async close(): Promise<void> {
    this.closing = true
    const connection = this.connection
    this.connection = undefined
    if (!connection) return
    // Closing the connection deletes every auto-delete mailbox queue still consumed.
    await closeAmqp(connection, this.opts.connectTimeoutMs)
  }
}
