import type {Channel, ChannelModel} from 'amqplib'

import {ACCESS_REFUSED, amqpReplyCode, NOT_FOUND, RESOURCE_LOCKED} from './amqp-errors.js'
import type {QueueDepth} from '../wire/transport.js'

/*
 * Task queues on RabbitMQ, read-only (`wfctl queues`, `check --max-queued`): a passive declare of
 * each queue answers how many messages are ready in it and how many consumers it has, with no
 * management plugin. A passive declare creates nothing; for a queue that does not exist the broker
 * answers 404 and closes the channel, so the next queue is asked on a fresh one. The channel is the
 * probe's own (the request channel of the transport never sees these errors), kept open for the
 * next read (`wfctl top` refreshes) and closed with the connection.
 */

/** The channel errors that answer for one queue only: no such queue, an exclusive queue of another connection, access refused. */
const QUEUE_REFUSALS = new Set([NOT_FOUND, RESOURCE_LOCKED, ACCESS_REFUSED])

/** The broker's reason in a few words: its first sentence, or what an exclusive queue's lock means. */
function refusal(code: number, message: string): string {
  if (code === RESOURCE_LOCKED) return 'exclusive to another connection: the broker does not say'
  const text = /with message "([^"]*)"/.exec(message)?.[1] ?? message.split('\n')[0]
  return text.split(/\. /)[0]
}

export class AmqpQueueProbe {
  private channel?: Channel

  constructor(private readonly connection: () => ChannelModel | undefined) {}

  /** One passive declare per queue, in order, on a channel of the probe's own (reopened after a refusal). */
  async depths(names: string[]): Promise<QueueDepth[]> {
    const out: QueueDepth[] = []
    for (const name of names) {
      const channel = await this.open()
      try {
        const ok = await channel.checkQueue(name)
        out.push({name, exists: true, messages: ok.messageCount, consumers: ok.consumerCount})
      } catch (error) {
        const code = amqpReplyCode(error)
        if (code === undefined || !QUEUE_REFUSALS.has(code)) throw error
        // The broker closed the channel over this queue: the next one gets a fresh channel.
        this.channel = undefined
        if (code === NOT_FOUND) out.push({name, exists: false, messages: 0, consumers: 0})
        else out.push({name, exists: true, messages: 0, consumers: null, error: refusal(code, String((error as Error).message))})
      }
    }
    return out
  }

  private async open(): Promise<Channel> {
    if (this.channel) return this.channel
    const connection = this.connection()
    if (!connection) throw new Error('amqp transport used before connect()')
    const channel = await connection.createChannel()
    // A refusal closes the channel with an error event: expected here, and answered by depths().
    channel.on('error', () => {})
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined
    })
    this.channel = channel
    return channel
  }
}
