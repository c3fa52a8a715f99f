import type {Channel, ChannelModel} from 'amqplib'

import {heartbeatBody, type AmqpMailbox, type BrokerFacts, type DoctorProbe, type FixOutcome, type HeardHeartbeat} from '../wire/doctor.js'
import {isNotFound} from './amqp-errors.js'
import {connectAmqp} from './amqp.js'
import {brokerFailure, listenFor, withDeadline, type TransportOptions} from './common.js'

/*
 * `wfctl doctor` on RabbitMQ, from a plain client (no management plugin, no rabbitmqctl): passive
 * declares say whether the pidbox and event exchanges exist and, for each node named by a reply or
 * a heartbeat, whether its mailbox queue exists and how many consumers it has. Bindings cannot be
 * listed from a client. Heartbeats are heard on an exclusive, auto-delete, server-named queue.
 */

const EVENT_EXCHANGE = 'celeryev'

export class AmqpDoctor implements DoctorProbe {
  private connection?: ChannelModel

  constructor(private readonly opts: TransportOptions) {}

  async connect(): Promise<void> {
    this.connection = await connectAmqp(this.opts.url, this.opts.connectTimeoutMs, {name: 'wfctl-doctor', heartbeat: 0, tls: this.opts.tls})
    this.connection.on('error', () => {})
  }

  private async bounded<T>(work: Promise<T>, doing: string): Promise<T> {
    try {
      return await withDeadline(work, this.opts.connectTimeoutMs, `${doing} ${this.opts.url.masked}`, () => {})
    } catch (error) {
      throw brokerFailure(this.opts.url, error, doing)
    }
  }

  /** Runs one passive check on a channel of its own (a 404 closes the channel): undefined when absent. */
  private async passive<T>(check: (ch: Channel) => Promise<T>): Promise<T | undefined> {
    if (!this.connection) throw new Error('amqp doctor used before connect()')
    const ch = await this.bounded(this.connection.createChannel(), 'cannot open a channel on')
    ch.on('error', () => {})
    try {
      // Answered before bounded() turns the error into a BrokerError, which keeps no reply code.
      return await this.bounded(check(ch).catch((error: unknown) => {
        if (isNotFound(error)) return undefined
        throw error
      }), 'cannot check on')
    } finally {
      await ch.close().catch(() => {})
    }
  }

  async heartbeats(windowMs: number, signal: AbortSignal): Promise<HeardHeartbeat[]> {
    if (!this.connection) throw new Error('amqp doctor used before connect()')
    if ((await this.passive((ch) => ch.checkExchange(EVENT_EXCHANGE))) === undefined) return []
    const heard: HeardHeartbeat[] = []
    const ch = await this.bounded(this.connection.createChannel(), 'cannot open a channel on')
    ch.on('error', () => {})
    try {
      await this.bounded((async () => {
        // Exclusive and auto-delete: it goes with this channel's consumer, or with the connection.
        const {queue} = await ch.assertQueue('', {exclusive: true, autoDelete: true, durable: false, arguments: {'x-expires': 10_000}})
        await ch.bindQueue(queue, EVENT_EXCHANGE, 'worker.heartbeat')
        await ch.consume(queue, (msg) => {
          if (!msg) return
          const beat = heartbeatBody(msg.content, Date.now())
          if (beat) heard.push({...beat, exchange: EVENT_EXCHANGE})
        }, {noAck: true})
      })(), 'cannot listen for heartbeats on')
      await listenFor(windowMs, signal)
    } finally {
      await ch.close().catch(() => {})
    }
    return heard
  }

  async inspect(nodes: string[]): Promise<BrokerFacts> {
    const ns = this.opts.namespace.controlExchange
    const controlExchangeExists = (await this.passive((ch) => ch.checkExchange(`${ns}.pidbox`))) !== undefined
    const eventExchangeExists = (await this.passive((ch) => ch.checkExchange(EVENT_EXCHANGE))) !== undefined
    const mailboxes: AmqpMailbox[] = []
    for (const node of [...new Set(nodes)].sort()) {
      const queue = `${node}.${ns}.pidbox`
      const ok = await this.passive((ch) => ch.checkQueue(queue))
      mailboxes.push(ok ? {node, queue, exists: true, consumers: ok.consumerCount, messages: ok.messageCount} : {node, queue, exists: false})
    }
    return {kind: 'amqp', vhost: this.opts.url.vhost, controlExchange: ns, controlExchangeExists, eventExchangeExists, mailboxes, problems: []}
  }

  async fix(): Promise<FixOutcome> {
    // Reply queues on RabbitMQ are auto-delete and expire by themselves: nothing to remove.
    return {removedMembers: 0, removedLists: 0, failed: []}
  }

  async close(): Promise<void> {
    const c = this.connection
    this.connection = undefined
    if (c) await withDeadline(c.close(), this.opts.connectTimeoutMs, 'close', () => {}).catch(() => {})
  }
}
