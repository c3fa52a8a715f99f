#!/usr/bin/env node
// A fleet's heartbeats without the fleet: N simulated workers each sending worker-heartbeat every
// INTERVAL seconds (10,000 every 2 s: 5,000 events a second), PUBLISHed to Redis exactly as a Redis
// worker does (kombu's envelope on {prefix}/{db}.celeryev/worker.heartbeat). For the benchmark of
// `wfctl events` and `wfctl top` (scripts/bench.mjs --events). PUBLISH only: it creates no key.
//
//   node scripts/event-flood.mjs [--url redis://127.0.0.1:6379/14] [--prefix P] [--workers 10000]
//       [--interval 2] [--duration SECONDS] [--hostname bench] [--name-prefix flood]
//
// Beats are spread evenly over the interval (a slice every 20 ms), as a fleet's are. Prints
// "flooding ..." on stderr once the first round is out, and what it sent when it ends (SIGTERM,
// SIGINT or --duration).
import {randomUUID} from 'node:crypto'
import {connect} from 'node:net'

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback
}

const url = new URL(option('url', 'redis://127.0.0.1:6379/14'))
const db = Number(url.pathname.slice(1) || 0)
const prefix = option('prefix', '')
const workers = Number(option('workers', 10_000))
const intervalS = Number(option('interval', 2))
const durationS = option('duration') === undefined ? undefined : Number(option('duration'))
const host = option('hostname', 'bench')
const namePrefix = option('name-prefix', 'flood')
const TICK_MS = 20

const channel = `${prefix}/${db}.celeryev/worker.heartbeat`
const started = Date.now()
const nodes = Array.from({length: workers}, (_, i) => ({
  hostname: `${namePrefix}${i + 1}@${host}`,
  clock: 0,
  processed: 0,
  pid: 10_000 + i,
}))

function envelope(node) {
  node.clock += 1
  if (Math.random() < 0.1) node.processed += 1
  const event = {
    hostname: node.hostname, utcoffset: 0, pid: node.pid, clock: node.clock, freq: intervalS,
    active: node.processed % 3, processed: node.processed, loadavg: [0.73, 0.24, 0.09],
    sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux', timestamp: Date.now() / 1000, type: 'worker-heartbeat',
  }
  return JSON.stringify({
    body: Buffer.from(JSON.stringify(event)).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: {hostname: node.hostname},
    properties: {
      delivery_mode: 1,
      delivery_info: {exchange: 'celeryev', routing_key: 'worker.heartbeat'},
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  })
}

function command(...args) {
  let out = `*${args.length}\r\n`
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
  return out
}

const socket = connect({host: url.hostname || '127.0.0.1', port: Number(url.port || 6379)})
socket.setNoDelay(true)
socket.on('error', (error) => {
  process.stderr.write(`event-flood: ${error.message}\n`)
  process.exit(1)
})
// Replies (the subscriber counts) are read and dropped.
socket.on('data', () => {})
if (url.password) socket.write(command('AUTH', decodeURIComponent(url.password)))
if (db !== 0) socket.write(command('SELECT', String(db)))

let sent = 0
let next = 0
let announced = false
const ratePerMs = workers / (intervalS * 1000)
const timer = setInterval(() => {
  // What is due by now, whatever the timer's lateness: the rate holds on a busy machine too.
  const due = Math.floor((Date.now() - started) * ratePerMs)
  let batch = ''
  while (sent < due) {
    batch += command('PUBLISH', channel, envelope(nodes[next]))
    next = (next + 1) % workers
    sent += 1
  }
  if (batch !== '') socket.write(batch)
  if (!announced && sent >= workers) {
    announced = true
    process.stderr.write(`flooding ${workers} workers every ${intervalS} s (${Math.round(workers / intervalS)} events/s) on ${channel}\n`)
  }
}, TICK_MS)

function stop() {
  clearInterval(timer)
  const seconds = (Date.now() - started) / 1000
  const cpu = process.cpuUsage()
  process.stderr.write(`event-flood: ${sent} events in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s), own CPU ${((cpu.user + cpu.system) / 1e4 / seconds).toFixed(1)}%\n`)
  socket.end(() => process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
if (durationS !== undefined) setTimeout(stop, durationS * 1000)
