import assert from 'node:assert/strict'
import {connect} from 'amqplib'
import {after, before, describe, test} from 'node:test'

import {AmqpTransport} from '../../src/broker/amqp.ts'
import {CLOSED_REPLY_MARKER, LATE_REPLY_EXPIRY_MS, RedisTransport, redisNames} from '../../src/broker/redis.ts'
import {SEP} from '../../src/broker/redis-keys.ts'
import {parseBrokerUrl} from '../../src/broker/url.ts'
import {encodeEnvelope} from '../../src/wire/envelope.ts'
import {Mailbox} from '../../src/protocol/mailbox.ts'
import type {ReceivedMessage} from '../../src/wire/message.ts'
import {createVhost, keysWithPrefix, rabbitctl, rabbitReplyQueues, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {waitFor} from '../helpers/poll.js'
import {redisSpy, settle} from '../helpers/spy.js'

const DB = 7

function replyEnvelope(node: string, payload: unknown, ticket: string | undefined, routingKey: string): string {
  const headers: Record<string, unknown> = {clock: 1}
  if (ticket !== undefined) headers.ticket = ticket
  const env = encodeEnvelope({body: Buffer.from(JSON.stringify({[node]: payload})), contentType: 'application/json', contentEncoding: 'utf-8', headers, deliveryMode: 1}, 'reply.celery.pidbox', routingKey)
  return JSON.stringify(env)
}

describe('redis transport (real Redis)', () => {
  const prefix = `wfctl-int-${token()}:`
  const names = redisNames(DB, 'celery', prefix)
  const redis = redisClient(DB)
  const transport = new RedisTransport({url: parseBrokerUrl(redisUrl(DB)), namespace: {controlExchange: 'celery', redisKeyPrefix: prefix}, connectTimeoutMs: 2000})
  after(async () => {
    await transport.close()
    redis.disconnect()
  })

  test('kombu names: prefixed keys and channel, unprefixed member', () => {
    assert.equal(names.requestChannel, `${prefix}/${DB}.celery.pidbox`)
    assert.equal(names.replyBindingKey, `${prefix}_kombu.binding.reply.celery.pidbox`)
    assert.equal(names.replyMember('o'), `o${SEP}${SEP}o.reply.celery.pidbox`)
    assert.deepEqual(names.queueKeys('q'), [`${prefix}q`, `${prefix}q${SEP}3`, `${prefix}q${SEP}6`, `${prefix}q${SEP}9`])
  })

  test('the inbox binds before publishing, receives a worker-style LPUSH, and removes member and lists', async () => {
    await transport.connect()
    const got: ReceivedMessage[] = []
    const inbox = await transport.openInbox((m) => got.push(...m), (e) => assert.fail(e))
    const members = await redis.smembers(names.replyBindingKey)
    assert.deepEqual(members, [names.replyMember(inbox.routingKey)])
    // What a worker does to reply: SMEMBERS, then LPUSH to the member's queue (docs/wire-protocol.md#the-reply-route).
    const queue = `${prefix}${members[0].split(SEP)[2]}`
    await redis.lpush(queue, replyEnvelope('w1@h', {ok: 'pong'}, 't1', inbox.routingKey))
    await waitFor(() => got.length > 0, 10_000)
    assert.equal(got.length, 1)
    assert.equal(got[0].headers.ticket, 't1')
    assert.equal(got[0].body.toString(), '{"w1@h":{"ok":"pong"}}')
    await redis.lpush(`${queue}${SEP}9`, 'left over') // a stray priority list is deleted too
    await inbox.close()
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })

  test('thousands of queued replies are drained many per round trip, in order', async () => {
    const mailbox = new Mailbox(transport, 'celery')
    const spy = await redisSpy(DB, prefix) // a listener, so the call waits for its replies
    try {
      // A responder that answers the request with 5000 replies at once, plus foreign ones.
      const responder = redisClient(DB)
      await responder.psubscribe(names.requestChannel)
      responder.on('pmessage', async (_p, _c, raw) => {
        const body = JSON.parse(Buffer.from(JSON.parse(raw).body, 'base64').toString())
        const queue = `${prefix}${body.reply_to.routing_key}.reply.celery.pidbox`
        const batch = Array.from({length: 5000}, (_, i) => replyEnvelope(`n${i}@h`, {ok: 'pong'}, body.ticket, body.reply_to.routing_key))
        batch.push(replyEnvelope('stale@h', {ok: 'pong'}, 'another-ticket', body.reply_to.routing_key))
        batch.push(replyEnvelope('old@h', {ok: 'pong'}, undefined, body.reply_to.routing_key))
        batch.push('not json at all')
        const pub = redisClient(DB)
        await pub.lpush(queue, ...batch)
        pub.disconnect()
      })
      await settle(100)
      const result = await mailbox.call({method: 'ping', timeoutMs: 5000, isComplete: (c) => c.replies.length >= 5000})
      responder.disconnect()
      assert.equal(result.complete, true)
      assert.equal(result.replies.length, 5000)
      assert.equal(result.replies[0].node, 'n0@h')
      assert.equal(result.replies[4999].node, 'n4999@h')
      assert.ok(result.listeners! >= 2)
    } finally {
      await mailbox.close()
      await spy.close()
    }
    await settle(100)
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })

  test('calls made while one is collecting take turns: each gets the replies to its own ticket', async () => {
    const mailbox = new Mailbox(transport, 'celery')
    const responder = redisClient(DB)
    const pusher = redisClient(DB)
    const seen: string[] = []
    await responder.psubscribe(names.requestChannel)
    responder.on('pmessage', async (_p, _c, raw) => {
      const body = JSON.parse(Buffer.from(JSON.parse(raw).body, 'base64').toString())
      seen.push(body.method)
      const queue = `${prefix}${body.reply_to.routing_key}.reply.celery.pidbox`
      await pusher.lpush(queue, replyEnvelope('r@h', {ok: body.method}, body.ticket, body.reply_to.routing_key))
    })
    try {
      await settle(100)
      const done = (c: {replies: unknown[]}) => c.replies.length >= 1
      const [a, b, c] = await Promise.all(['ping', 'stats', 'active'].map((method) => mailbox.call({method, timeoutMs: 5000, isComplete: done})))
      assert.deepEqual([a, b, c].map((r) => r.replies.map((x) => x.payload)), [[{ok: 'ping'}], [{ok: 'stats'}], [{ok: 'active'}]])
      assert.deepEqual(seen, ['ping', 'stats', 'active'], 'one request at a time, in the order they were made')
    } finally {
      responder.disconnect()
      pusher.disconnect()
      await mailbox.close()
    }
    await settle(100)
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })

  test('a late reply, its route read before cleanup and pushed long after it, lands in a list Redis expires by itself', async () => {
    const mailbox = new Mailbox(transport, 'celery')
    // A worker as kombu's reply path behaves: SMEMBERS (the lookup), then LPUSH — here the push
    // comes well after wfctl closed its inbox, past any grace window.
    const responder = redisClient(DB)
    const pusher = redisClient(DB)
    let looked: {queue: string; ticket: string; routingKey: string} | undefined
    await responder.psubscribe(names.requestChannel)
    responder.on('pmessage', async (_p, _c, raw) => {
      const body = JSON.parse(Buffer.from(JSON.parse(raw).body, 'base64').toString())
      const members = await pusher.smembers(names.replyBindingKey)
      const queue = members.map((m) => m.split(SEP)).find((f) => f[0] === body.reply_to.routing_key)?.[2]
      if (queue) looked = {queue, ticket: body.ticket, routingKey: body.reply_to.routing_key}
    })
    try {
      // The responder listens and never answers: a reply is still outstanding when the call ends.
      const result = await mailbox.call({method: 'ping', timeoutMs: 300})
      assert.equal(result.replies.length, 0)
      assert.equal(result.listeners, 1)
      await waitFor(() => looked !== undefined, 10_000)
      assert.ok(looked, 'the responder read the reply route while the call was open')
      await mailbox.close()
      const key = `${prefix}${looked.queue}`
      // From now on a lookup finds no route (kombu drops the reply); the plain list is a marker that expires.
      assert.deepEqual((await pusher.smembers(names.replyBindingKey)).filter((m) => m.startsWith(looked!.routingKey)), [])
      assert.deepEqual(await pusher.lrange(key, 0, -1), [CLOSED_REPLY_MARKER])
      assert.deepEqual(await redisLeftovers(redis, prefix), [])
      await settle(1000)
      await pusher.lpush(key, replyEnvelope('slow@h', {ok: 'pong'}, looked.ticket, looked.routingKey))
      const ttl = await pusher.pttl(key)
      assert.ok(ttl > 0 && ttl <= LATE_REPLY_EXPIRY_MS, `the late reply's list does not expire by itself (pttl ${ttl})`)
      assert.equal(await pusher.llen(key), 2)
      assert.deepEqual(await redisLeftovers(redis, prefix), [])
      // A hang guard, not a speed check: Redis deletes the list at its expiry.
      const gone = await waitFor(async () => (await pusher.exists(key)) === 0, LATE_REPLY_EXPIRY_MS + 10_000, 100)
      assert.ok(gone, `${key} is still there after its expiry`)
      assert.deepEqual(await keysWithPrefix(redis, `${prefix}${looked.routingKey}`), [])
    } finally {
      responder.disconnect()
      pusher.disconnect()
    }
  })

  test('with every reply in, closing leaves nothing at all, not even an expiring list', async () => {
    const mailbox = new Mailbox(transport, 'celery')
    const responder = redisClient(DB)
    await responder.psubscribe(names.requestChannel)
    responder.on('pmessage', async (_p, _c, raw) => {
      const body = JSON.parse(Buffer.from(JSON.parse(raw).body, 'base64').toString())
      const pub = redisClient(DB)
      await pub.lpush(`${prefix}${body.reply_to.routing_key}.reply.celery.pidbox`, replyEnvelope('w1@h', {ok: 'pong'}, body.ticket, body.reply_to.routing_key))
      pub.disconnect()
    })
    try {
      const result = await mailbox.call({method: 'ping', timeoutMs: 30_000, isComplete: (c) => c.replies.length >= 1})
      assert.equal(result.replies.length, 1)
      const oid = result.request.reply_to?.routing_key
      await mailbox.close()
      assert.ok(oid, JSON.stringify(result.request))
      assert.deepEqual(await keysWithPrefix(redis, `${prefix}${oid}`), [])
    } finally {
      responder.disconnect()
    }
  })

  test('publishing to a channel nobody listens on reports 0 listeners and ends the call at once', async () => {
    const lonely = new RedisTransport({url: parseBrokerUrl(redisUrl(DB)), namespace: {controlExchange: `nobody${token()}`, redisKeyPrefix: prefix}, connectTimeoutMs: 2000})
    await lonely.connect()
    const mailbox = new Mailbox(lonely, 'celery')
    try {
      // Not a speed check: a call that waited would take the whole minute.
      const result = await mailbox.call({method: 'ping', timeoutMs: 60_000})
      assert.equal(result.listeners, 0)
      assert.equal(result.complete, false)
      assert.ok(result.elapsedMs < 30_000, `a call nobody can answer waited ${result.elapsedMs} ms`)
    } finally {
      await mailbox.close()
      await lonely.close()
    }
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })
})

describe('amqp transport (real RabbitMQ)', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  before(async () => {
    vhost = await createVhost('wfctl-int')
  })
  after(async () => {
    await vhost?.remove()
  })

  const open = (url: string) => new AmqpTransport({url: parseBrokerUrl(url), namespace: {controlExchange: 'celery', redisKeyPrefix: ''}, connectTimeoutMs: 3000})

  test('in a vhost where no worker ever ran: 0 listeners, and nothing is declared', async () => {
    const t = open(vhost.url)
    await t.connect()
    const mailbox = new Mailbox(t, 'celery')
    const result = await mailbox.call({method: 'ping', timeoutMs: 3000})
    await mailbox.close()
    await t.close()
    assert.equal(result.listeners, 0)
    const exchanges = await rabbitctl('list_exchanges', '-p', vhost.name, 'name')
    assert.doesNotMatch(exchanges, /pidbox/)
  })

  test('reply queue: exclusive, Celery arguments, bound by routing key, gone after close', async () => {
    // The exchanges exist as a worker would have declared them.
    const conn = await connect(vhost.url)
    const ch = await conn.createChannel()
    await ch.assertExchange('celery.pidbox', 'fanout', {durable: false, autoDelete: false})
    const t = open(vhost.url)
    await t.connect()
    const inbox = await t.openInbox(() => {}, () => {})
    const queues = await rabbitctl('list_queues', '-p', vhost.name, 'name', 'durable', 'auto_delete', 'exclusive', 'arguments')
    const line = queues.split('\n').find((l) => l.startsWith(`${inbox.routingKey}.reply.celery.pidbox`))
    assert.ok(line, queues)
    assert.match(line, /\tfalse\ttrue\ttrue\t/)
    assert.match(line, /x-expires.*10000/)
    assert.match(line, /x-message-ttl.*300000/)
    // No mailbox queue is bound to celery.pidbox: the broker returns the mandatory message.
    assert.deepEqual(await t.publish({body: Buffer.from('{"method": "ping", "arguments": {}}'), contentType: 'application/json', contentEncoding: 'utf-8', headers: {clock: 1}, deliveryMode: 2}), {listeners: 0})
    const {queue} = await ch.assertQueue('', {exclusive: true})
    await ch.bindQueue(queue, 'celery.pidbox', '')
    assert.deepEqual(await t.publish({body: Buffer.from('{"method": "ping", "arguments": {}}'), contentType: 'application/json', contentEncoding: 'utf-8', headers: {clock: 2}, deliveryMode: 2}), {})
    const got = await ch.get(queue, {noAck: true})
    assert.ok(got)
    assert.equal(got.properties.contentType, 'application/json')
    assert.equal(got.properties.deliveryMode, 2)
    assert.equal(got.properties.headers?.clock, 2)
    await inbox.close()
    await t.close()
    await conn.close()
    assert.deepEqual(await rabbitReplyQueues(vhost.name), [])
  })
})
