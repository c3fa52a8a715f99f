// Failover lists (`url;url`), tried in order as kombu does, against real brokers and real Celery
// workers: the first URL is dead (a closed free port), the second works; the one that answered is
// named, masked, on stderr and in the JSON result; a list where every URL fails is exit 3 naming each.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {after, before, describe, test} from 'node:test'
import {Redis} from 'ioredis'

import {createVhost, redisLeftovers, token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl} from '../helpers/cli.js'
import {freePort, startPrivateRedis, type PrivateRedis} from '../helpers/private-redis.js'
import {amqpNamespace, show, wf, type Namespace} from './support.js'

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

describe('a Redis failover list: the first URL dead, the second a real Redis with a real worker', () => {
  const firstPassword = `First-${token()}`
  const secondPassword = `Second-${token()}`
  let server: PrivateRedis
  let redis: Redis
  let worker: Worker
  let dead: number
  let list: string
  let ns: Namespace
  const masked = () => ({first: `redis://:****@127.0.0.1:${dead}/0`, second: `redis://:****@127.0.0.1:${server.port}/0`})

  before(async () => {
    server = await startPrivateRedis()
    const admin = server.client()
    await admin.config('SET', 'requirepass', secondPassword)
    admin.disconnect()
    redis = new Redis({host: '127.0.0.1', port: server.port, password: secondPassword, maxRetriesPerRequest: 1, retryStrategy: () => null})
    dead = await freePort()
    list = `redis://:${firstPassword}@127.0.0.1:${dead}/0;redis://:${secondPassword}@127.0.0.1:${server.port}/0`
    worker = await startWorker({broker: server.url(0, `:${secondPassword}`)})
    ns = {label: `private Redis ${server.port} (second of a failover list)`, flags: ['-b', list], leftovers: () => redisLeftovers(redis, '')}
  })

  after(async () => {
    await worker?.stop()
    redis?.disconnect()
    await server?.stop()
    assert.ok(!server || !existsSync(server.dir), 'the private Redis directory was left behind')
  })

  const noSecrets = (text: string) => assert.ok(!text.includes(firstPassword) && !text.includes(secondPassword), text)

  test('status --json: the worker answers through the second URL; "failover" names it, masked, and why the first failed', async () => {
    const run = await wf(ns, ['status', '--json', '-t', '5', '--expect', '1'])
    assert.equal(run.code, 0, show(run))
    const out = json(run)
    assert.ok(worker.node in out.replies, show(run))
    assert.deepEqual(out.failover, {broker: masked().second, position: 2, of: 2, failed: [`${masked().first}: connection refused`]})
    assert.equal(run.stderr.trim(), `using ${masked().second} (2nd of 2; ${masked().first}: connection refused)`)
    noSecrets(run.stdout + run.stderr)
  })

  test('control ping -d in text: the table on stdout, the broker that answered on stderr', async () => {
    const run = await wf(ns, ['control', 'ping', '-d', worker.node, '-t', '5'])
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, new RegExp(`^${escape(worker.node)}\\s+OK\\s+\\d+ ms\\s+pong$`, 'm'), show(run))
    assert.match(run.stderr, new RegExp(`^using ${escape(masked().second)} \\(2nd of 2; `, 'm'), show(run))
    noSecrets(run.stdout + run.stderr)
  })

  test('the first URL answering: it is used, and named as the 1st of 2', async () => {
    const reversed = {...ns, flags: ['-b', `redis://:${secondPassword}@127.0.0.1:${server.port}/0;redis://:${firstPassword}@127.0.0.1:${dead}/0`]}
    const run = await wf(reversed, ['control', 'ping', '-d', worker.node, '-t', '5', '--json'])
    assert.equal(run.code, 0, show(run))
    assert.deepEqual(json(run).failover, {broker: masked().second, position: 1, of: 2, failed: []})
    assert.equal(run.stderr.trim(), `using ${masked().second} (1st of 2)`)
  })

  test('doctor on the list reaches the second URL too', async () => {
    const run = await wf(ns, ['doctor', '--json', '-t', '5'])
    const report = json(run)
    assert.ok(report.nodes.some((n: {node: string; replied: boolean}) => n.node === worker.node && n.replied), show(run))
    assert.match(run.stderr, new RegExp(`^using ${escape(masked().second)} \\(2nd of 2; ${escape(masked().first)}: connection refused\\)$`, 'm'), show(run))
    noSecrets(run.stdout + run.stderr)
  })

  test('every URL of the list fails: exit 3, one line naming each masked URL and its reason', async () => {
    const other = await freePort()
    const run = await runWfctl(['control', 'ping', '-b', `redis://:${firstPassword}@127.0.0.1:${dead}/0;redis://:${secondPassword}@127.0.0.1:${other}/0`])
    assert.equal(run.code, 3, show(run))
    assert.equal(run.stderr.trim(), `Error: no broker of the failover list answered: ${masked().first}: connection refused; redis://:****@127.0.0.1:${other}/0: connection refused`)
    noSecrets(run.stdout + run.stderr)
    const asJson = await runWfctl(['status', '--json', '-b', `redis://127.0.0.1:${dead}/0;redis://127.0.0.1:${other}/0`])
    assert.equal(asJson.code, 3, show(asJson))
    assert.equal(json(asJson).error.code, 3)
    assert.equal(json(asJson).error.message, `no broker of the failover list answered: redis://127.0.0.1:${dead}/0: connection refused; redis://127.0.0.1:${other}/0: connection refused`)
  })
})

describe('an AMQP failover list: the first URL dead, the second a real RabbitMQ vhost with a real worker', () => {
  const deadPassword = `Dead-${token()}`
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let watch: Awaited<ReturnType<typeof amqpNamespace>>
  let worker: Worker
  let dead: number
  let ns: Namespace
  let firstMasked: string
  let secondMasked: string

  before(async () => {
    vhost = await createVhost('wfctl-failover')
    watch = await amqpNamespace(vhost)
    dead = await freePort()
    const v = encodeURIComponent(vhost.name)
    firstMasked = `amqp://guest:****@127.0.0.1:${dead}/${v}`
    secondMasked = `amqp://guest:****@127.0.0.1:5672/${v}`
    worker = await startWorker({broker: vhost.url})
    ns = {label: `vhost ${vhost.name} (second of a failover list)`, flags: ['-b', `amqp://guest:${deadPassword}@127.0.0.1:${dead}/${v};${vhost.url}`], leftovers: () => watch.leftovers()}
  })

  after(async () => {
    await worker?.stop()
    await watch?.close()
    await vhost?.remove()
  })

  test('status --json and control ping -d: the worker answers through the second URL, named on stderr and in "failover"', async () => {
    const status = await wf(ns, ['status', '--json', '-t', '5', '--expect', '1'])
    assert.equal(status.code, 0, show(status))
    assert.ok(worker.node in json(status).replies, show(status))
    assert.deepEqual(json(status).failover, {broker: secondMasked, position: 2, of: 2, failed: [`${firstMasked}: connection refused`]})
    const ping = await wf(ns, ['control', 'ping', '-d', worker.node, '-t', '5'])
    assert.equal(ping.code, 0, show(ping))
    assert.match(ping.stdout, /^1 node replied/m, show(ping))
    assert.equal(ping.stderr.trim(), `using ${secondMasked} (2nd of 2; ${firstMasked}: connection refused)`)
    for (const r of [status, ping]) assert.ok(!(r.stdout + r.stderr).includes(deadPassword), show(r))
  })

  test('every URL fails: exit 3, each masked URL and its reason on one line', async () => {
    const other = await freePort()
    const run = await runWfctl(['status', '-b', `amqp://guest:${deadPassword}@127.0.0.1:${dead}//;amqp://u:${deadPassword}b@127.0.0.1:${other}//`])
    assert.equal(run.code, 3, show(run))
    assert.equal(run.stderr.trim(), `Error: no broker of the failover list answered: amqp://guest:****@127.0.0.1:${dead}//: connection refused; amqp://u:****@127.0.0.1:${other}//: connection refused`)
    assert.ok(!(run.stdout + run.stderr).includes(deadPassword), show(run))
  })
})
