// `wfctl simulate` as a user runs it, next to a real Celery worker, with the real `celery` CLI as the
// client: listed by `celery status`, one of them stopped by `celery control shutdown -d`, the real
// worker unharmed, and nothing left in the broker after Ctrl-C. On Redis and on RabbitMQ.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {after, before, describe, test} from 'node:test'

import {createVhost, keysWithPrefix, rabbitctl, redisClient, redisLeftovers, rabbitReplyQueues, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {BIN, json} from '../helpers/cli.js'
import {amqpNamespace, deleteKeysWithPrefix, poll, show, stopAll, wf, type Namespace} from './support.js'

const DB = 2

interface Broker {
  worker: {broker: string; keyPrefix?: string}
  ns: Namespace
  /** Mailboxes (Redis binding members / RabbitMQ queues) of the simulated nodes still in the broker. */
  mailboxes: (host: string) => Promise<string[]>
  close: () => Promise<void>
}

interface Simulation {
  child: ChildProcess
  stderr: () => string
  exited: Promise<number | null>
}

function simulate(args: string[]): Promise<Simulation> {
  const child = spawn(process.execPath, [BIN, 'simulate', ...args], {env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  child.stdout.on('data', () => {})
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`simulate not up in time:\n${stderr}`)), 30_000)
    const check = setInterval(() => {
      if (/simulated workers? \(/.test(stderr)) {
        clearInterval(check)
        clearTimeout(timer)
        resolve({child, stderr: () => stderr, exited})
      }
    }, 50)
    void exited.then((code) => {
      clearInterval(check)
      clearTimeout(timer)
      reject(new Error(`simulate exited with ${code}:\n${stderr}`))
    })
  })
}

async function redisBroker(): Promise<Broker> {
  const prefix = `wfctl-sim-${token()}:`
  const redis = redisClient(DB)
  return {
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    ns: {label: `Redis DB ${DB}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    mailboxes: async (host) => (await redis.smembers(`${prefix}_kombu.binding.celery.pidbox`)).filter((m) => m.includes(`@${host}.`)),
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      assert.deepEqual(await keysWithPrefix(redis, prefix), [])
      redis.disconnect()
    },
  }
}

async function amqpBroker(): Promise<Broker> {
  const vhost = await createVhost('wfctl-sim')
  const ns = await amqpNamespace(vhost)
  return {
    worker: {broker: vhost.url},
    ns,
    mailboxes: async (host) => (await rabbitctl('list_queues', '-p', vhost.name, 'name')).split('\n').map((l) => l.trim()).filter((q) => q.includes(`@${host}.`)),
    close: async () => {
      await ns.close()
      const left = await rabbitReplyQueues(vhost.name)
      await vhost.remove()
      assert.deepEqual(left, [], `reply queues left in vhost ${vhost.name}`)
    },
  }
}

for (const [label, open] of [['Redis', redisBroker], ['RabbitMQ', amqpBroker]] as const) {
  describe(`wfctl simulate beside a real worker (${label})`, {timeout: 120_000}, () => {
    let b: Broker
    let real: Worker
    let sim: Simulation | undefined
    const host = `sim${token()}`
    const nodes = [1, 2, 3, 4, 5].map((i) => `sim${i}@${host}`)

    before(async () => {
      b = await open()
      real = await startWorker({...b.worker})
      sim = await simulate(['--workers', '5', '--hostname', host, '--heartbeat', '1', ...b.ns.flags])
    })
    after(async () => {
      sim?.child.kill('SIGKILL')
      await stopAll([real])
      await b?.close()
    })

    test('the real `celery status` lists the five simulated workers and the real one', async () => {
      const run = await celery(['status', '-t', '3'], {...b.worker, timeoutMs: 30_000})
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`)
      for (const node of [...nodes, real.node]) assert.match(run.stdout, new RegExp(`->  ${node.replace(/[.]/g, '\\.')}: OK`), run.stdout)
      assert.match(run.stdout, /6 nodes online/)
    })

    test('wfctl inspects them like real workers: stats, active-queues, check', async () => {
      const stats = await wf(b.ns, ['inspect', 'stats', '--expect', nodes.join(','), '-t', '5', '--json'])
      assert.equal(stats.code, 0, show(stats))
      for (const node of nodes) assert.equal(typeof json(stats).replies[node].pid, 'number')
      const check = await wf(b.ns, ['check', '--expect', [...nodes, real.node].join(','), '--queue', 'celery', '--format', 'nagios', '-t', '5'])
      assert.equal(check.code, 0, show(check))
      assert.match(check.stdout, /^WFCTL OK - 6\/6 workers, queues celery consumed/)
    })

    test('the real `celery control shutdown -d` stops exactly that simulated worker', async () => {
      const run = await celery(['control', 'shutdown', '-d', nodes[2], '-t', '1'], {...b.worker, timeoutMs: 30_000})
      // Celery's CLI always exits 69 for shutdown: workers never reply to it.
      assert.equal(run.code, 69, `${run.stdout}\n${run.stderr}`)
      const after = await poll(
        async () => json(await wf(b.ns, ['control', 'ping', '--expect', [...nodes, real.node].join(','), '-t', '2', '--json'])),
        (out) => out.missing.length > 0,
        10_000,
      )
      assert.deepEqual(after.missing, [nodes[2]], JSON.stringify(after))
      assert.match(sim!.stderr(), new RegExp(`${nodes[2]}: Got shutdown from remote`))
      assert.deepEqual(await b.mailboxes(host).then((m) => m.filter((x) => x.startsWith('sim3@'))), [], 'its mailbox is gone')
    })

    test('Ctrl-C stops the rest (exit 130), removes every mailbox they created, and the real worker stays healthy', async () => {
      sim!.child.kill('SIGINT')
      const code = await sim!.exited
      assert.equal(code, 130, sim!.stderr())
      assert.deepEqual(await b.mailboxes(host), [])
      const ping = await wf(b.ns, ['control', 'ping', '-d', real.node, '-t', '5'])
      assert.equal(ping.code, 0, show(ping))
      const gone = await wf(b.ns, ['control', 'ping', '-d', nodes[0], '-t', '1'])
      assert.equal(gone.code, 69, show(gone))
      assert.doesNotMatch(real.log(), /ERROR|CRITICAL|Traceback/, 'the real worker logged no error')
      sim = undefined
    })
  })
}
