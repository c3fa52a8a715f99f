#!/usr/bin/env node
// For the benchmark: a stand-in worker on Redis that answers every pidbox request addressed to it
// with one reply of SIZE bytes, the way kombu delivers a reply (binding lookup, then LPUSH).
// Usage: node scripts/big-reply-worker.mjs REDIS_URL NODE SIZE_BYTES
import {randomUUID} from 'node:crypto'
import {Redis} from 'ioredis'

const [url, node, size] = process.argv.slice(2)
const db = Number(new URL(url).pathname.slice(1) || 0)
const sub = new Redis(url)
const cmd = new Redis(url)
const payload = {ok: 'x'.repeat(Math.max(0, Number(size) - 12))}
const body = Buffer.from(JSON.stringify({[node]: payload})).toString('base64')

await sub.subscribe(`/${db}.celery.pidbox`)
sub.on('message', async (_channel, raw) => {
  const envelope = JSON.parse(raw)
  const request = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'))
  if (request.destination && !request.destination.includes(node)) return
  if (!request.reply_to) return
  const members = await cmd.smembers('_kombu.binding.reply.celery.pidbox')
  for (const member of members) {
    const [routingKey, , queue] = member.split('\x06\x16')
    if (routingKey !== request.reply_to.routing_key) continue
    const reply = {
      body, 'content-encoding': 'utf-8', 'content-type': 'application/json', headers: {ticket: request.ticket},
      properties: {delivery_mode: 1, delivery_info: {exchange: request.reply_to.exchange, routing_key: routingKey}, priority: 0, body_encoding: 'base64', delivery_tag: randomUUID()},
    }
    await cmd.lpush(queue, JSON.stringify(reply))
  }
})
process.stderr.write(`big-reply worker ${node} ready\n`)
process.on('SIGTERM', () => {
  sub.disconnect()
  cmd.disconnect()
  process.exit(0)
})
