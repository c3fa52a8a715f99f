// Every control and inspect command, and call, against real Celery workers on RabbitMQ: a vhost of
// this file's own, deleted at the end. Leftover reply queues are checked by name after each run.
import {connect} from 'amqplib'

import {createVhost, rabbitReplyQueues} from '../helpers/brokers.js'
import {amqpNamespace} from './support.js'
import {amqpSpy} from '../helpers/spy.js'
import {commandsSuite, type CeleryEvent} from './commands-suite.js'

commandsSuite('RabbitMQ', async () => {
  const vhost = await createVhost('wfctl-cmd')
  const main = await amqpNamespace(vhost)
  return {
    worker: {broker: vhost.url},
    main,
    spy: async () => {
      const spy = await amqpSpy(vhost.url)
      return {requests: () => spy.messages, close: spy.close}
    },
    events: async () => {
      // The workers declared the celeryev topic exchange: only check it, and bind a queue of our own to it.
      const conn = await connect(vhost.url)
      conn.on('error', () => {})
      const ch = await conn.createChannel()
      await ch.checkExchange('celeryev')
      const {queue} = await ch.assertQueue('', {exclusive: true, autoDelete: true})
      await ch.bindQueue(queue, 'celeryev', '#')
      const events: CeleryEvent[] = []
      await ch.consume(queue, (m) => {
        if (!m) return
        try {
          events.push(...[JSON.parse(m.content.toString()) as CeleryEvent | CeleryEvent[]].flat())
        } catch {}
      }, {noAck: true})
      return {events, close: async () => conn.close()}
    },
    close: async () => {
      try {
        await main.close()
        // One listing of the whole vhost at the end: no reply queue at all, announced by a request or not.
        const left = await rabbitReplyQueues(vhost.name)
        if (left.length > 0) throw new Error(`reply queues left in vhost ${vhost.name}: ${left.join(', ')}`)
      } finally {
        await vhost.remove()
      }
    },
  }
})
