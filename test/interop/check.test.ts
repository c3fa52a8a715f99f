// `wfctl check` against real Celery workers, on Redis and on RabbitMQ: every state of README.md#health-checks-wfctl-check,
// as a monitor reads it (exit code, Nagios line, Prometheus textfile).
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {createVhost, rabbitReplyQueues, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl} from '../helpers/cli.js'
import {activeQueues, amqpNamespace, deleteKeysWithPrefix, poll, show, stopAll, wf, type Namespace} from './support.js'

const DB = 6

interface Broker {
  label: string
  worker: {broker: string; keyPrefix?: string}
  ns: Namespace
  close: () => Promise<void>
}

async function redisBroker(): Promise<Broker> {
  const prefix = `wfctl-check-${token()}:`
  const redis = redisClient(DB)
  return {
    label: 'Redis',
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    ns: {label: `Redis DB ${DB}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
}

async function amqpBroker(): Promise<Broker> {
  const vhost = await createVhost('wfctl-check')
  const ns = await amqpNamespace(vhost)
  return {
    label: 'RabbitMQ',
    worker: {broker: vhost.url},
    ns,
    close: async () => {
      await ns.close()
      const left = await rabbitReplyQueues(vhost.name)
      await vhost.remove()
      assert.deepEqual(left, [], `reply queues left in vhost ${vhost.name}`)
    },
  }
}

for (const open of [redisBroker, amqpBroker]) {
  describe(`wfctl check against real workers (${open === redisBroker ? 'Redis' : 'RabbitMQ'})`, {timeout: 180_000}, () => {
    let b: Broker
    let w1: Worker
    let w2: Worker
    const tok = token()
    const queue = `wfq${tok}`
    let dir: string

    before(async () => {
      b = await open()
      dir = mkdtempSync(join(tmpdir(), 'wfctl-check-'))
      const started = await Promise.allSettled([
        startWorker({...b.worker, name: `c1${tok}`, queues: ['celery', queue]}),
        startWorker({...b.worker, name: `c2${tok}`, queues: ['celery']}),
      ])
      ;[w1, w2] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as Worker[]
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) throw failed.reason
    })
    after(async () => {
      await stopAll([w1, w2])
      rmSync(dir, {recursive: true, force: true})
      await b?.close()
    })

    test('a healthy fleet is OK (exit 0) in every format, and returns as soon as the expected nodes answered', async () => {
      const expect = `${w1.node},${w2.node}`
      const text = await wf(b.ns, ['check', '--expect', expect, '--queue', queue, '--queue', 'celery', '-t', '60'], {timeoutMs: 120_000})
      assert.equal(text.code, 0, show(text))
      assert.match(text.stdout, /^OK: 2\/2 workers, queues \S+ consumed$/m)
      // Not a speed check: waiting out -t would take the whole minute.
      assert.ok(text.ms < 30_000, `returned after ${Math.round(text.ms)} ms, as if it waited for its 60 s timeout`)
      const nagios = await wf(b.ns, ['check', '--expect', expect, '--queue', queue, '--format', 'nagios', '-t', '5'])
      assert.equal(nagios.code, 0, show(nagios))
      assert.match(nagios.stdout, new RegExp(`^WFCTL OK - 2/2 workers, queues ${queue} consumed \\| workers=2;2:;1:;0;2 missing=0;0;;0;2 idle=0;0;;0 others=0;;;0 time=[\\d.]+s\\n$`))
      const out = json(await wf(b.ns, ['check', '--expect', expect, '--json', '-t', '5']))
      assert.equal(out.status, 'OK')
      assert.deepEqual(out.nodes[w1.node].sort(), ['celery', queue].sort())
    })

    test('a silent expected worker is WARNING (exit 1)', async () => {
      const ghost = `ghost${tok}@nowhere`
      const run = await wf(b.ns, ['check', '--expect', `${w1.node},${w2.node},${ghost}`, '--format', 'nagios', '-t', '1'])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, new RegExp(`^WFCTL WARNING - 2/3 workers, missing: ${ghost} \\|`))
    })

    test('a required queue with no consumer is CRITICAL (exit 2), and so is fewer than --min-nodes', async () => {
      const noConsumer = await wf(b.ns, ['check', '--expect', '2', '--queue', `nobody${tok}`, '--format', 'nagios', '-t', '5'])
      assert.equal(noConsumer.code, 2, show(noConsumer))
      assert.match(noConsumer.stdout, new RegExp(`^WFCTL CRITICAL - 2/2 workers, queue nobody${tok} has no consumer`))
      const few = await wf(b.ns, ['check', '--min-nodes', '3', '--format', 'nagios', '-t', '2'])
      assert.equal(few.code, 2, show(few))
      assert.match(few.stdout, /only 2 of at least 3 workers replied/)
      assert.match(few.stdout, / workers=2;;3:;0 /)
    })

    test('a dead broker is UNKNOWN (exit 3), in the format asked for; misuse too', async () => {
      const dead = await runWfctl(['check', '-b', 'redis://127.0.0.1:1/0', '--format', 'nagios', '--connect-timeout', '1'])
      assert.equal(dead.code, 3, show(dead))
      assert.match(dead.stdout, /^WFCTL UNKNOWN - cannot connect to redis:\/\/127\.0\.0\.1:1\/0/)
      const deadAmqp = await runWfctl(['check', '-b', 'amqp://guest:guest@127.0.0.1:1//', '--format', 'prometheus', '--connect-timeout', '1'])
      assert.equal(deadAmqp.code, 3, show(deadAmqp))
      assert.match(deadAmqp.stdout, /^wfctl_check_status 3$/m)
      const misuse = await wf(b.ns, ['check', '--min-nodes', 'many', '--json'])
      assert.equal(misuse.code, 3, show(misuse))
      assert.equal(json(misuse).status, 'UNKNOWN')
      assert.match(json(misuse).summary, /--min-nodes must be a positive integer/)
    })

    test('counts are of the roster: --expect N above the workers up says missing=1; names count only the roster; impossible rosters are UNKNOWN (exit 3)', async () => {
      const short = await wf(b.ns, ['check', '--expect', '3', '--format', 'nagios', '-t', '2'])
      assert.equal(short.code, 1, show(short))
      assert.match(short.stdout, /^WFCTL WARNING - 2\/3 workers, 2 of 3 expected workers replied \| workers=2;3:;1:;0 missing=1;0;;0;3 idle=0;0;;0 time=/)
      const ghost = `ghost${tok}@nowhere`
      const named = await wf(b.ns, ['check', '--expect', `${w1.node},${ghost}`, '--format', 'nagios', '-t', '2'])
      assert.equal(named.code, 1, show(named))
      assert.match(named.stdout, new RegExp(`^WFCTL WARNING - 1/2 workers \\(\\+1 not expected\\), missing: ${ghost} \\| workers=1;2:;1:;0;2 missing=1;0;;0;2 idle=0;0;;0 others=1;;;0 time=`))
      const out = json(await wf(b.ns, ['check', '--expect', `${w1.node},${ghost}`, '--json', '-t', '2']))
      assert.deepEqual([out.replied, out.expected, out.missingCount, out.others], [1, 2, 1, [w2.node]])
      for (const args of [['--expect', '2', '-d', w1.node], ['--expect', `${w1.node},${w2.node}`, '-d', w1.node], ['--expect', '2', '--min-nodes', '3'], ['-d', w1.node, '--min-nodes', '2']]) {
        const run = await wf(b.ns, ['check', ...args, '--format', 'nagios', '-t', '2'])
        assert.equal(run.code, 3, show(run))
        assert.match(run.stdout, /^WFCTL UNKNOWN - .*(cannot be met|does not address|is above the)/, show(run))
      }
    })

    test('cancel-consumer to every worker, a pattern or several -d without a terminal and without --yes is refused, and every worker still consumes the queue', async () => {
      for (const target of [[], ['--pattern', `c*${tok}@*`], ['-d', `${w1.node},${w2.node}`]]) {
        const run = await wf(b.ns, ['control', 'cancel-consumer', 'celery', ...target, '-t', '2'])
        assert.equal(run.code, 2, show(run))
        assert.equal(run.stdout, '')
        assert.match(run.stderr, /^Error: Stop .+ consuming from queue celery on .+: refused without a terminal to confirm on; pass --yes to proceed\n$/)
      }
      const check = await wf(b.ns, ['check', '--expect', `${w1.node},${w2.node}`, '--queue', 'celery', '--json', '-t', '5'])
      assert.equal(check.code, 0, show(check))
      assert.deepEqual(json(check).queues.celery.sort(), [w1.node, w2.node].sort())
      for (const w of [w1, w2]) assert.ok((await activeQueues(w.node, b.worker)).some((q) => q.name === 'celery'), `${w.node} no longer consumes celery`)
    })

    test('--dry-run prints the request and exits 0 without a check (nothing is written to --textfile)', async () => {
      const file = join(dir, 'dry.prom')
      const run = await wf(b.ns, ['check', '--expect', '2', '--dry-run', '--format', 'nagios', '--textfile', file])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, /^dry run: nothing was sent$/m)
      assert.match(run.stdout, /"method": "active_queues"/)
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('dry')), [])
      const asJson = json(await wf(b.ns, ['check', '--dry-run', '--format', 'json']))
      assert.equal(asJson.dryRun, true)
      assert.equal(asJson.body.method, 'active_queues')
    })

    test('the textfile is written whole (temporary file, then rename) with every metric, and nothing else is left in its directory', async () => {
      const file = join(dir, 'wfctl.prom')
      const run = await wf(b.ns, ['check', '--expect', `${w1.node},${w2.node}`, '--queue', queue, '--textfile', file, '--format', 'nagios', '-t', '5'])
      assert.equal(run.code, 0, show(run))
      const text = readFileSync(file, 'utf8')
      assert.match(text, /^wfctl_check_status 0$/m)
      assert.match(text, /^wfctl_workers_replied 2$/m)
      assert.match(text, new RegExp(`^wfctl_worker_up\\{node="${w1.node}"\\} 1$`, 'm'))
      assert.match(text, new RegExp(`^wfctl_queue_consumers\\{queue="${queue}"\\} 1$`, 'm'))
      assert.deepEqual(readdirSync(dir), ['wfctl.prom'])
    })

    test('a worker whose consumers were cancelled answers ping but is flagged: WARNING, "consumes no queue"', async () => {
      const cancel = async (q: string) => {
        const run = await wf(b.ns, ['control', 'cancel-consumer', q, '-d', w2.node, '-t', '5'])
        assert.equal(run.code, 0, show(run))
      }
      await cancel('celery')
      // Celery applies the cancel after replying: wait until active_queues shows it.
      const idle = await poll(
        async () => json(await wf(b.ns, ['check', '--expect', `${w1.node},${w2.node}`, '--json', '-t', '5'])),
        (out) => out.idle.length > 0,
        10_000,
      )
      assert.equal(idle.status, 'WARNING', JSON.stringify(idle))
      assert.deepEqual(idle.idle, [w2.node])
      const ping = await wf(b.ns, ['control', 'ping', '-d', w2.node, '-t', '5'])
      assert.equal(ping.code, 0, `ping alone says all is well: ${show(ping)}`)
      const nagios = await wf(b.ns, ['check', '--expect', `${w1.node},${w2.node}`, '--format', 'nagios', '-t', '5'])
      assert.equal(nagios.code, 1, show(nagios))
      assert.match(nagios.stdout, new RegExp(`${w2.node} consumes no queue`))
      assert.match(nagios.stdout, / idle=1;0;;0 /)
      const added = await wf(b.ns, ['control', 'add-consumer', 'celery', '-d', w2.node, '-t', '5'])
      assert.equal(added.code, 0, show(added))
      const healed = await poll(async () => json(await wf(b.ns, ['check', '--expect', `${w1.node},${w2.node}`, '--json', '-t', '5'])), (out) => out.status === 'OK', 10_000)
      assert.equal(healed.status, 'OK', JSON.stringify(healed))
    })
  })
}

describe('wfctl check and status with a mailbox that hears the broadcast but never replies (Redis)', {timeout: 120_000}, () => {
  const prefix = `wfctl-check-silent-${token()}:`
  const tok = token()
  const flags = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]
  const redis = redisClient(DB)
  const ns: Namespace = {label: `Redis DB ${DB}`, flags, leftovers: () => redisLeftovers(redis, prefix)}
  let worker: Worker | undefined
  let silent: ReturnType<typeof redisClient> | undefined

  before(async () => {
    worker = await startWorker({broker: redisUrl(DB), keyPrefix: prefix, name: `s1${tok}`, queues: ['celery']})
    // The exact channel wfctl publishes to, from its own dry run: a client subscribed there is a
    // mailbox that hears every broadcast and answers none (as a hung worker does).
    const dry = json(await runWfctl(['status', '--dry-run', '--json', ...flags]))
    const channel = String(dry.address).replace(/^channel /, '')
    silent = redisClient(DB)
    await silent.subscribe(channel)
  })
  after(async () => {
    silent?.disconnect()
    await stopAll([worker])
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
  })

  test('without a roster: WARNING naming "2 mailboxes heard it, 1 replied"; with a roster the roster decides', async () => {
    const run = await wf(ns, ['check', '--format', 'nagios', '-t', '2'])
    assert.equal(run.code, 1, show(run))
    assert.match(run.stdout, /^WFCTL WARNING - 1 worker, 2 mailboxes heard it, 1 replied \| /)
    const out = json(await wf(ns, ['check', '--json', '-t', '2']))
    assert.deepEqual([out.status, out.listeners, out.unanswered], ['WARNING', 2, 1])
    const rostered = await wf(ns, ['check', '--expect', worker!.node, '--format', 'nagios', '-t', '5'])
    assert.equal(rostered.code, 0, show(rostered))
  })

  test('status and ping say how many mailboxes heard it and how many replied, with a hint; --json carries "unanswered"', async () => {
    const status = await wf(ns, ['status', '-t', '2'])
    assert.equal(status.code, 0, show(status))
    assert.match(status.stdout, /^1 node online, 2 mailboxes heard the ping, 1 replied\.$/m)
    assert.match(status.stderr, /^hint: a mailbox that hears the broadcast but does not reply/m)
    const ping = await wf(ns, ['control', 'ping', '-t', '2'])
    assert.match(ping.stdout, /^1 node replied, 2 mailboxes heard it, 1 replied \(\d+ ms\)$/m)
    const out = json(await wf(ns, ['control', 'ping', '--json', '-t', '2']))
    assert.deepEqual([out.listeners, out.unanswered], [2, 1])
    // Addressed to the worker: the silent mailbox was never meant to answer.
    const addressed = await wf(ns, ['control', 'ping', '-d', worker!.node, '-t', '5'])
    assert.doesNotMatch(addressed.stdout, /mailboxes heard/)
  })
})

