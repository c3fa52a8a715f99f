import {randomUuid as randomUUID} from '../uuid.js'
import type {ChannelModel, ConfirmChannel} from 'amqplib'

import type {ReceivedMessage, WireMessage} from '../wire/message.js'
import {BrokerError} from '../errors.js'
import type {BrokerUrl} from './url.js'
import {EVENT_EXCHANGE, type EventWatch, type Inbox, type PublishResult, type Transport} from '../wire/transport.js'
import {isNotFound} from './amqp-errors.js'
import {brokerFailure, withDeadline, type TransportOptions} from './common.js'
import {effectiveUrl, serverName, tlsOptions, type TlsFiles} from './tls.js'

/** Celery's `control_queue_expires` (10 s) and `control_queue_ttl` (300 s), in ms (docs/wire-protocol.md#entities). */
const REPLY_QUEUE_ARGUMENTS = {'x-expires': 10_000, 'x-message-ttl': 300_000}
/** Celery's flags for both pidbox exchanges: redeclaring with others closes the channel (406). */
const PIDBOX_EXCHANGE_FLAGS = {durable: false, autoDelete: false}
/** Celery's `event_queue_ttl` (5 s) and `event_queue_expires` (60 s) for an event receiver's queue, in ms. */
const EVENT_QUEUE_ARGUMENTS = {'x-message-ttl': 5000, 'x-expires': 60_000}

/**
 * Connects to RabbitMQ within the connect timeout; a failure names its cause, password masked.
 * `heartbeat` 0 suits a probe that lives a second; long-lived users set one to notice a dead broker.
 */
/** Seconds between AMQP heartbeats for a command that stays connected: two missed ones end the connection. */
const LONG_LIVED_HEARTBEAT_S = 10

export async function connectAmqp(url: BrokerUrl, connectTimeoutMs: number, opts: {name: string; heartbeat: number; tls?: TlsFiles}): Promise<ChannelModel> {
  // TLS files are read (and refused) before anything connects.
  const tls = tlsOptions(url, opts.tls)
  const amqp = await import('amqplib')
  const name = tls ? serverName(url.host) : {}
  const socketOptions = {timeout: connectTimeoutMs, clientProperties: {connection_name: opts.name}, ...tls, ...name}
  const connect = () => amqp.connect(
    {
      protocol: tls ? 'amqps' : 'amqp',
      hostname: url.host,
      port: url.port,
      username: url.username ?? 'guest',
      password: url.password ?? 'guest',
      vhost: url.vhost,
      heartbeat: opts.heartbeat,
    },
    socketOptions,
  )
  // Without a server name amqplib uses the host, and Node warns (DEP0123) when that is an IP address;
  // tls.connect runs within amqp.connect(), so the warning is kept in for that call only.
  const connecting = tls && !name.servername ? withoutDeprecationWarnings(connect) : connect()
  try {
    return await withDeadline(connecting, connectTimeoutMs, `cannot connect to ${url.masked}`, () => {
      connecting.then((c) => c.close()).catch(() => {})
    })
  } catch (error) {
    throw brokerFailure(effectiveUrl(url, opts.tls), error, 'cannot connect to')
  }
}

function withoutDeprecationWarnings<T>(run: () => T): T {
  const before = process.noDeprecation
  process.noDeprecation = true
  try {
    return run()
  } finally {
    process.noDeprecation = before
  }
}

export class AmqpTransport implements Transport {
  readonly kind = 'amqp'
  readonly requestAddress: string
  private readonly requestExchange: string
  private readonly replyExchange: string
  private connection?: ChannelModel
  private channel?: ConfirmChannel
  /** No worker ever declared the request exchange in this vhost, so nobody can hear a request. */
  private requestExchangeMissing = false
  private closing = false
  private failureListeners: ((error: Error) => void)[] = []

  constructor(private readonly opts: TransportOptions) {
    const ns = opts.namespace.controlExchange
    this.requestExchange = `${ns}.pidbox`
    this.replyExchange = `reply.${ns}.pidbox`
    this.requestAddress = `exchange ${this.requestExchange} in vhost ${JSON.stringify(opts.url.vhost)}`
  }

  private fail(error: unknown, doing: string): BrokerError {
    return brokerFailure(this.opts.url, error, doing)
  }

  async connect(): Promise<void> {
    const {url, connectTimeoutMs} = this.opts
    this.connection = await connectAmqp(url, connectTimeoutMs, {name: 'wfctl', heartbeat: this.opts.longLived ? LONG_LIVED_HEARTBEAT_S : 0, tls: this.opts.tls})
    if (this.closing) {
      // Closed while connecting (an interrupt): do not keep a connection nobody will close.
      await this.connection.close().catch(() => {})
      throw new BrokerError('connection closed while connecting')
    }
    const onLost = (error?: Error) => {
      if (this.closing) return
      const failure = this.fail(error ?? new Error('connection closed by the broker'), 'lost the connection to')
      for (const listener of this.failureListeners) listener(failure)
    }
    this.connection.on('error', () => {})
    this.connection.on('close', onLost)
    await this.bounded(async () => {
      let channel = await this.openChannel()
      try {
        // Checked, not declared: a vhost where no worker ever ran keeps no trace of wfctl.
        await channel.checkExchange(this.requestExchange)
      } catch (error) {
        if (!isNotFound(error)) throw error
        this.requestExchangeMissing = true
        channel = await this.openChannel()
      }
      if (!this.requestExchangeMissing) await channel.assertExchange(this.replyExchange, 'direct', PIDBOX_EXCHANGE_FLAGS)
      this.channel = channel
    }, 'cannot open a channel on')
  }

  private async openChannel(): Promise<ConfirmChannel> {
    const channel = await this.connection!.createConfirmChannel()
    let cause: Error | undefined
    channel.on('error', (error: Error) => {
      cause = error
    })
    channel.on('close', () => {
      // Deferred: when the whole connection goes, its own (more telling) failure is reported first.
      setImmediate(() => {
        if (this.channel !== channel || this.closing) return
        const why = cause ? `: ${/with message "([^"]*)"/.exec(cause.message)?.[1] ?? cause.message}` : ''
        const failure = new BrokerError(`the broker closed the channel on ${this.opts.url.masked}${why}`)
        for (const listener of this.failureListeners) listener(failure)
      })
    })
    return channel
  }

  /** Every broker round trip is bounded: a broker that stops answering is "unreachable". */
  private async bounded<T>(work: () => Promise<T>, doing: string): Promise<T> {
    try {
      return await withDeadline(work(), this.opts.connectTimeoutMs, `${doing} ${this.opts.url.masked}`, () => {})
    } catch (error) {
      throw this.fail(error, doing)
    }
  }

  private get ch(): ConfirmChannel {
    if (!this.channel) throw new Error('amqp transport used before connect()')
    return this.channel
  }

  async openInbox(onMessages: (messages: ReceivedMessage[]) => void, onFailure: (error: Error) => void): Promise<Inbox> {
    const oid = randomUUID()
    this.failureListeners.push(onFailure)
    if (this.requestExchangeMissing) {
      // Nobody can answer; declare nothing.
      return {routingKey: oid, close: async () => {}}
    }
    const ch = this.ch
    const queue = `${oid}.reply.${this.opts.namespace.controlExchange}.pidbox`
    let consumerTag: string | undefined
    let closed = false
    // Stragglers need no care here: a reply to a deleted queue is dropped by the broker.
    const close = async () => {
      if (closed) return
      closed = true
      // Cancelling deletes the auto-delete queue; an exclusive queue also goes with the connection.
      if (consumerTag) await this.bounded(() => ch.cancel(consumerTag!), 'cannot clean up on').catch(() => {})
    }
    await this.bounded(async () => {
      // Exclusive: works with every Celery version and with RabbitMQ 4.3 (docs/wire-protocol.md#the-reply-queue).
      await ch.assertQueue(queue, {exclusive: true, durable: false, autoDelete: true, arguments: REPLY_QUEUE_ARGUMENTS})
      await ch.bindQueue(queue, this.replyExchange, oid)
      // Consume before publishing, so no reply can arrive unseen.
      const ok = await ch.consume(queue, (msg) => {
        if (!msg) return
        const receivedAt = performance.now()
        let message: ReceivedMessage
        try {
          const headers = msg.properties.headers
          message = {
            body: msg.content,
            contentType: typeof msg.properties.contentType === 'string' ? msg.properties.contentType : undefined,
            contentEncoding: typeof msg.properties.contentEncoding === 'string' ? msg.properties.contentEncoding : undefined,
            headers: typeof headers === 'object' && headers !== null && !Array.isArray(headers) ? (headers as Record<string, unknown>) : {},
            receivedAt,
          }
        } catch (error) {
          message = {body: Buffer.alloc(0), headers: {}, receivedAt, unreadable: `could not read reply: ${(error as Error).message}`}
        }
        onMessages([message])
      }, {noAck: true})
      consumerTag = ok.consumerTag
    }, 'cannot open a reply queue on')
    return {routingKey: oid, close}
  }

  async publish(message: WireMessage): Promise<PublishResult> {
    if (this.requestExchangeMissing) return {listeners: 0}
    const ch = this.ch
    let returned = false
    const onReturn = () => {
      returned = true
    }
    ch.on('return', onReturn)
    try {
      await this.bounded(async () => {
        // mandatory: the broker hands the message back when no mailbox queue is bound, i.e. nobody listens.
        ch.publish(this.requestExchange, '', message.body, {
          contentType: message.contentType,
          contentEncoding: message.contentEncoding,
          headers: message.headers,
          deliveryMode: message.deliveryMode,
          priority: 0,
          mandatory: true,
        })
        await ch.waitForConfirms()
      }, 'cannot publish to')
    } finally {
      ch.off('return', onReturn)
    }
    return returned ? {listeners: 0} : {}
  }

  /**
   * Celery's event receiver: an exclusive, auto-delete queue `celeryev.{uuid}` bound to the topic
   * exchange `celeryev`, consumed on a channel of its own. The exchange is checked, never declared:
   * where it does not exist no worker sends events, and nothing is created.
   */
  async watchEvents(routingKeys: string[], onMessages: (messages: ReceivedMessage[]) => void, onFailure?: (error: Error) => void): Promise<EventWatch> {
    const connection = this.connection
    if (!connection) throw new Error('amqp transport used before connect()')
    const unavailable: EventWatch = {available: false, close: async () => {}}
    return this.bounded(async () => {
      const channel = await connection.createChannel()
      let open = true
      let watching = false
      let closed = false
      let cause: Error | undefined
      channel.on('error', (error: Error) => (cause = error))
      channel.on('close', () => {
        open = false
        if (!watching || closed) return
        // Deferred, as for the request channel: a lost connection reports its own, more telling, failure.
        setImmediate(() => {
          if (closed || this.closing) return
          const why = cause ? `: ${/with message "([^"]*)"/.exec(cause.message)?.[1] ?? cause.message}` : ''
          onFailure?.(new BrokerError(`the broker closed the event subscription on ${this.opts.url.masked}${why}`))
        })
      })
      if (onFailure) this.failureListeners.push((error) => {
        if (watching && !closed) onFailure(error)
      })
      try {
        await channel.checkExchange(EVENT_EXCHANGE)
      } catch (error) {
        // The broker closed the channel with 404: nobody ever declared the exchange here.
        if (isNotFound(error)) return unavailable
        throw error
      }
      const queue = `${EVENT_EXCHANGE}.${randomUUID()}`
      await channel.assertQueue(queue, {exclusive: true, durable: false, autoDelete: true, arguments: EVENT_QUEUE_ARGUMENTS})
      for (const key of routingKeys) await channel.bindQueue(queue, EVENT_EXCHANGE, key)
      const {consumerTag} = await channel.consume(queue, (msg) => {
        if (!msg) return
        const headers = msg.properties.headers
        onMessages([{
          body: msg.content,
          contentType: typeof msg.properties.contentType === 'string' ? msg.properties.contentType : undefined,
          contentEncoding: typeof msg.properties.contentEncoding === 'string' ? msg.properties.contentEncoding : undefined,
          headers: typeof headers === 'object' && headers !== null && !Array.isArray(headers) ? (headers as Record<string, unknown>) : {},
          receivedAt: performance.now(),
        }])
      }, {noAck: true})
      watching = true
      return {
        available: true,
        close: async () => {
          if (closed || !open) {
            closed = true
            return
          }
          closed = true
          // Cancelling deletes the auto-delete queue; the exclusive queue also goes with the connection.
          await this.bounded(async () => {
            await channel.cancel(consumerTag)
            await channel.close()
          }, 'cannot clean up on').catch(() => {})
        },
      }
    }, 'cannot watch events on')
  }

  private queueProbe?: import('./amqp-queues.js').AmqpQueueProbe

  /** A passive declare per queue, on a channel of its own (src/broker/amqp-queues.ts). Creates nothing. */
  async queueDepths(names: string[]): Promise<import('../wire/transport.js').QueueDepth[]> {
    if (!this.connection) throw new Error('amqp transport used before connect()')
    const {AmqpQueueProbe} = await import('./amqp-queues.js')
    const probe = (this.queueProbe ??= new AmqpQueueProbe(() => this.connection))
    return this.bounded(() => probe.depths(names), 'cannot read queue depths on')
  }

  async close(): Promise<void> {
    this.closing = true
    const connection = this.connection
    if (!connection) return
    this.connection = undefined
    this.channel = undefined
    await closeAmqp(connection, this.opts.connectTimeoutMs)
  }
}

/**
 * Closes a connection within the deadline; when the broker does not answer the close, destroys the
 * socket, which amqplib does not expose (it would otherwise wait out its own socket timeout).
 */
export async function closeAmqp(connection: ChannelModel, deadlineMs: number): Promise<void> {
  await withDeadline(connection.close(), deadlineMs, 'close', () => {}).catch(() => {
    ;(connection as unknown as {connection?: {stream?: {destroy(): void}}}).connection?.stream?.destroy()
  })
}
