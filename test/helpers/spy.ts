import {connect, type ChannelModel} from 'amqplib'
import type {Redis} from 'ioredis'

import {redisClient} from './brokers.js'
import {sleep} from './poll.js'

/** Listens on a Redis DB's pidbox channels under a prefix, to prove what was (not) published. */
export async function redisSpy(db: number, prefix: string): Promise<{messages: string[]; close: () => Promise<void>}> {
  const sub: Redis = redisClient(db)
  const messages: string[] = []
  sub.on('pmessage', (_pattern, channel, message) => messages.push(`${channel} ${message}`))
  await sub.psubscribe(`${prefix}*`)
  return {messages, close: async () => void sub.disconnect()}
}

/** A queue bound to the vhost's request exchange (declared with Celery's flags), to see what arrives. */
export async function amqpSpy(url: string, controlExchange = 'celery'): Promise<{messages: string[]; close: () => Promise<void>}> {
  const conn: ChannelModel = await connect(url)
  const ch = await conn.createChannel()
  await ch.assertExchange(`${controlExchange}.pidbox`, 'fanout', {durable: false, autoDelete: false})
  const {queue} = await ch.assertQueue('', {exclusive: true, autoDelete: true})
  await ch.bindQueue(queue, `${controlExchange}.pidbox`, '')
  const messages: string[] = []
  await ch.consume(queue, (m) => m && messages.push(m.content.toString()), {noAck: true})
  return {messages, close: async () => conn.close()}
}

/** A pause for what is already on its way (a published message) to arrive. */
/**
 * Time for a message already published to reach a spy's own connection. A PUBLISH is handed to
 * subscribers before the publisher hears back, so this only covers the spy's socket: too short a
 * wait can only miss a message (a test passing wrongly), never fail a test that sent nothing.
 */
export const SETTLE_MS = 100
export const settle = (ms = 300) => sleep(ms)
