#!/usr/bin/env node
// The floor of a targeted ping in Node, for the benchmark's start-up table (scripts/bench.mjs): the
// least a Node program can do to ping one Celery worker on Redis and print its answer. One
// connection, everything pipelined in one write (SELECT, the reply route's SADD, the PUBLISH, a
// BRPOP on the reply list), then the cleanup (DEL, SREM) and QUIT in a second; ids from
// Math.random (node:crypto alone costs milliseconds); no argument parsing, no settings, no checks,
// no table. It is not a tool: it trusts the broker, and does nothing wfctl does to be safe.
//   node scripts/floor-ping.cjs REDIS_URL NODE
// Exit 0 when NODE answered within a second, 1 when it did not, 3 on a broker error.
'use strict'
const {connect} = require('node:net')

const [url, node] = process.argv.slice(2)
const m = /^redis:\/\/([^:/]+)(?::(\d+))?(?:\/(\d+))?$/.exec(url ?? '')
if (!m || !node) {
  process.stderr.write('usage: floor-ping.cjs redis://HOST[:PORT][/DB] NODE\n')
  process.exit(2)
}
const [, host, port = '6379', db = '0'] = m

const id = () => {
  const h = () => Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0')
  const s = h() + h() + h() + h()
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`
}
const command = (...args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`

const oid = id()
const replyList = `${oid}.reply.celery.pidbox`
const bindings = '_kombu.binding.reply.celery.pidbox'
const member = `${oid}\x06\x16\x06\x16${replyList}`
const request = {method: 'ping', arguments: {}, destination: [node], pattern: null, matcher: null, ticket: id(), reply_to: {exchange: 'reply.celery.pidbox', routing_key: oid}}
const envelope = {
  body: Buffer.from(JSON.stringify(request)).toString('base64'),
  'content-encoding': 'utf-8',
  'content-type': 'application/json',
  headers: {clock: 1, expires: Date.now() / 1000 + 1},
  properties: {delivery_mode: 2, delivery_info: {exchange: 'celery.pidbox', routing_key: ''}, priority: 0, body_encoding: 'base64', delivery_tag: id()},
}

// The replies, in order: SELECT +OK, SADD :n, PUBLISH :n, then BRPOP's *2 (the reply) or *-1 (none).
let input = ''
let answered = null
const socket = connect(Number(port), host)
socket.write(command('SELECT', db) + command('SADD', bindings, member) + command('PUBLISH', `/${db}.celery.pidbox`, JSON.stringify(envelope)) + command('BRPOP', replyList, 1))
socket.on('data', (chunk) => {
  input += chunk
  if (answered !== null) return
  if (/^-/m.test(input)) {
    process.stderr.write(`broker error: ${input.split('\r\n').find((l) => l.startsWith('-'))}\n`)
    process.exit(3)
  }
  const brpop = /^(?:\+OK\r\n):\d+\r\n:\d+\r\n(\*-1\r\n|\*2\r\n\$\d+\r\n[^\r]*\r\n\$(\d+)\r\n)/.exec(input)
  if (!brpop) return
  if (brpop[1] === '*-1\r\n') answered = ''
  else {
    const start = brpop.index + brpop[0].length
    if (input.length < start + Number(brpop[2]) + 2) return
    answered = input.slice(start, start + Number(brpop[2]))
  }
  socket.end(command('DEL', replyList) + command('SREM', bindings, member) + command('QUIT'))
})
socket.on('error', (error) => {
  process.stderr.write(`broker error: ${error.message}\n`)
  process.exit(3)
})
socket.on('close', () => {
  if (!answered) {
    process.stderr.write(`${node}: no reply\n`)
    process.exit(1)
  }
  const reply = JSON.parse(Buffer.from(JSON.parse(answered).body, 'base64').toString('utf8'))
  process.stdout.write(`${Object.keys(reply)[0]}: ${JSON.stringify(Object.values(reply)[0])}\n`)
  process.exit(0)
})
