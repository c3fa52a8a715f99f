// `wfctl queues` and `wfctl check --max-queued` against real Celery workers and tasks sent with the
// real `celery call`, on Redis and on RabbitMQ: depths, consumers, priorities (Redis), a queue that
// does not exist, and nothing left behind (no reply route, no queue or key created by wfctl).
import assert from 'node:assert/strict'
import {describe, test, type TestContext} from 'node:test'
import {connect} from 'amqplib'

import {isNotFound} from '../../src/broker/amqp-errors.js'
import {createVhost, keysWithPrefix, rabbitctl, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl} from '../helpers/cli.js'
import {amqpNamespace, deleteKeysWithPrefix, poll, show, stopAll, wf, type Namespace} from './support.js'

const DB = 9

/** One namespace of a test's own: where its workers and `celery call` point, and how wfctl reaches it. */
interface Space {
  kind: 'redis' | 'amqp'
  /** RabbitMQ: the test's own vhost. */
  vhost?: string
  /** What startWorker() and celery() need. */
  worker: {broker: string; keyPrefix?: string}
  ns: Namespace
  /** Whether a queue exists in the broker, asked once (RabbitMQ: a passive declare; Redis: EXISTS of its four lists). */
  exists: (queue: string) => Promise<boolean>
  close: () => Promise<void>
}

async function redisSpace(): Promise<Space> {
  const prefix = `wfctl-queues-${token()}:`
  const redis = redisClient(DB)
  return {
    kind: 'redis',
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    ns: {label: `Redis DB ${DB} prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    exists: async (queue) => (await redis.exists(...['', '\x06\x163', '\x06\x166', '\x06\x169'].map((s) => `${prefix}${queue}${s}`))) > 0,
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
}

async function amqpSpace(): Promise<Space> {
  const vhost = await createVhost('wfctl-queues')
  const ns = await amqpNamespace(vhost)
  return {
    kind: 'amqp',
    vhost: vhost.name,
    worker: {broker: vhost.url},
    ns,
    exists: async (queue) => {
      const conn = await connect(vhost.url)
      conn.on('error', () => {})
      try {
        const ch = await conn.createChannel()
        ch.on('error', () => {})
        await ch.checkQueue(queue)
        return true
      } catch (error) {
        if (isNotFound(error)) return false
        throw error
      } finally {
        await conn.close().catch(() => {})
      }
    },
    close: async () => {
      await ns.close()
      await vhost.remove()
    },
  }
}

/** Sends `wfctl_tasks.add` to a queue with the real `celery call`, at a priority when given (a route's option). */
async function send(space: Space, queue: string, priority?: number): Promise<void> {
  const conf = priority === undefined ? undefined : {task_routes: {'wfctl_tasks.add': {priority}}}
  const run = await celery(['call', 'wfctl_tasks.add', '--args', '[1, 2]', '--queue', queue], {...space.worker, conf, timeoutMs: 30_000})
  assert.equal(run.code, 0, `celery call failed:\n${run.stdout}\n${run.stderr}`)
}

type Row = {name: string; messages: number | null; consumers: number | null; exists: boolean; byPriority?: Record<string, number>}
const rowOf = (out: {queues: Row[]}, name: string) => out.queues.find((q) => q.name === name)

for (const open of [redisSpace, amqpSpace]) {
  const label = open === redisSpace ? 'Redis' : 'RabbitMQ'
  describe(`wfctl queues and check --max-queued against real workers (${label})`, {timeout: 240_000}, () => {
    /** A namespace of the test's own, removed when the test ends (after its workers stopped). */
    const ownSpace = async (t: TestContext, workers: Worker[] = []): Promise<Space> => {
      const s = await open()
      t.after(async () => {
        await stopAll(workers)
        await s.close()
      })
      return s
    }
    /** A namespace and workers of the test's own, each consuming the queues given. */
    const fleet = async (t: TestContext, ...consumes: string[][]): Promise<{space: Space; nodes: string[]}> => {
      const workers: Worker[] = []
      const s = await ownSpace(t, workers)
      const tok = token()
      const started = await Promise.allSettled(consumes.map((queues, i) => startWorker({...s.worker, name: `q${i}${tok}`, queues})))
      for (const r of started) if (r.status === 'fulfilled') workers.push(r.value)
      const failed = started.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) throw failed.reason
      return {space: s, nodes: workers.map((w) => w.node)}
    }

    test('a queue two workers consume and a task sent to a queue nobody consumes both show, with depths and consumers', async (t) => {
      const tok = token()
      const [consumed, idle] = [`wq${tok}`, `nq${tok}`]
      const {space, nodes} = await fleet(t, [consumed, 'celery'], [consumed])
      await send(space, idle)
      await send(space, idle)
      // RabbitMQ counts a published message as ready a moment after the publisher's confirm.
      // RabbitMQ has no list of queues without its management plugin: a queue nobody consumes is named.
      const named = space.kind === 'amqp' ? ['--queue', idle] : []
      const out = await poll(async () => {
        const run = await wf(space.ns, ['queues', '--json', '-t', '2', '--expect', String(nodes.length), ...named])
        assert.equal(run.code, 0, show(run))
        return json(run)
      }, (o) => rowOf(o, idle)?.messages === 2, 10_000)
      assert.deepEqual(rowOf(out, idle), {name: idle, messages: 2, consumers: 0, exists: true})
      assert.deepEqual(rowOf(out, consumed), {name: consumed, messages: 0, consumers: 2, exists: true})
      assert.equal(out.consumersFrom, space.kind === 'redis' ? 'workers' : 'broker')
      assert.deepEqual([...out.workers].sort(), [...nodes].sort())
      assert.deepEqual(out.missing, [])

      const text = await wf(space.ns, ['queues', '-t', '2', '--expect', String(nodes.length), ...named])
      assert.equal(text.code, 0, show(text))
      assert.match(text.stdout, /^NAME +MESSAGES +CONSUMERS$/m)
      assert.match(text.stdout, new RegExp(`^${idle} +2 +0$`, 'm'))
      assert.match(text.stdout, new RegExp(`^${consumed} +0 +2$`, 'm'))
      assert.match(text.stdout, space.kind === 'redis' ? /\(consumers: of the 2 workers that answered\)$/m : /\(consumers as the broker counts them\)$/m)

      // Without the broadcast: on Redis the binding sets still name the idle queue (no consumer
      // count); on RabbitMQ --queue names it and the broker still counts consumers.
      const quiet = await wf(space.ns, ['queues', '--json', '--no-ask', ...(space.kind === 'amqp' ? ['--queue', `${idle},${consumed}`] : [])])
      assert.equal(quiet.code, 0, show(quiet))
      const q = json(quiet)
      assert.equal(q.workers, null)
      assert.deepEqual(rowOf(q, idle), {name: idle, messages: 2, consumers: space.kind === 'redis' ? null : 0, exists: true})
      assert.deepEqual(rowOf(q, consumed), {name: consumed, messages: 0, consumers: space.kind === 'redis' ? null : 2, exists: true})
    })

    test('check --max-queued: more than N waiting is WARNING, more than C CRITICAL, in every format; a bad spec is UNKNOWN before anything is sent', async (t) => {
      const tok = token()
      const [consumed, idle] = [`wq${tok}`, `nq${tok}`]
      const {space, nodes} = await fleet(t, [consumed])
      for (let i = 0; i < 3; i++) await send(space, idle)
      const expect = ['--expect', nodes[0], '-t', '5']
      const warning = await poll(
        () => wf(space.ns, ['check', ...expect, '--max-queued', `${idle}=2`, '--max-queued', `${consumed}=0`, '--format', 'nagios']),
        (run) => /queued_nq\S+=3;/.test(run.stdout),
        10_000,
      )
      assert.equal(warning.code, 1, show(warning))
      assert.match(warning.stdout, new RegExp(`^WFCTL WARNING - 1/1 workers, queue ${idle}: 3 messages waiting \\(warning above 2\\) \\| workers=1;1:;1:;0;1 missing=0;0;;0;1 idle=0;0;;0 others=0;;;0 queued_${idle}=3;2;;0 queued_${consumed}=0;0;;0 time=[\\d.]+s\\n$`))

      const critical = await wf(space.ns, ['check', ...expect, '--max-queued', `${idle}=1:2`, '--format', 'nagios'])
      assert.equal(critical.code, 2, show(critical))
      assert.match(critical.stdout, new RegExp(`^WFCTL CRITICAL - 1/1 workers, queue ${idle}: 3 messages waiting \\(critical above 2\\) \\|.* queued_${idle}=3;1;2;0 `))

      const ok = await wf(space.ns, ['check', ...expect, '--max-queued', `${idle}=3`, '--json'])
      assert.equal(ok.code, 0, show(ok))
      assert.equal(json(ok).status, 'OK')
      assert.deepEqual(json(ok).queued, {[idle]: {messages: 3, exists: true, warning: 3, critical: null}})

      const prom = await wf(space.ns, ['check', ...expect, '--max-queued', `${idle}=2:10`, '--max-queued', `${consumed}=5`, '--format', 'prometheus'])
      assert.equal(prom.code, 1, show(prom))
      assert.match(prom.stdout, /^wfctl_check_status 1$/m)
      assert.match(prom.stdout, new RegExp(`^wfctl_queue_messages\\{queue="${idle}"\\} 3$`, 'm'))
      assert.match(prom.stdout, new RegExp(`^wfctl_queue_messages\\{queue="${consumed}"\\} 0$`, 'm'))

      for (const spec of [`${idle}`, `${idle}=many`, `${idle}=10:5`]) {
        const bad = await wf(space.ns, ['check', ...expect, '--max-queued', spec, '--format', 'nagios'])
        assert.equal(bad.code, 3, show(bad))
        assert.match(bad.stdout, /^WFCTL UNKNOWN - --max-queued /, show(bad))
      }
      // The depth is read, never taken: the messages still wait.
      const still = json(await wf(space.ns, ['queues', '--json', '--no-ask', '--queue', idle]))
      assert.equal(rowOf(still, idle)?.messages, 3)
    })

    test('a queue that does not exist: shown, never created; with no worker and no queue at all, exit 69 and a hint', async (t) => {
      const tok = token()
      const ghost = `ghost${tok}`
      const {space} = await fleet(t, [`wq${tok}`])
      const before = space.kind === 'redis' ? await keysOf(space) : []
      const run = await wf(space.ns, ['queues', '--queue', ghost, '-t', '2'])
      assert.equal(run.code, 0, show(run))
      if (space.kind === 'amqp') {
        assert.match(run.stdout, new RegExp(`^${ghost} +- +- +no such queue$`, 'm'))
        assert.match(run.stdout, /1 not found/)
        const out = json(await wf(space.ns, ['queues', '--queue', ghost, '--json', '--no-ask']))
        assert.deepEqual(rowOf(out, ghost), {name: ghost, messages: 0, consumers: 0, exists: false})
        // A check on it says so rather than "0 waiting, OK".
        const check = await wf(space.ns, ['check', '--max-queued', `${ghost}=10`, '--format', 'nagios', '-t', '2'])
        assert.equal(check.code, 1, show(check))
        assert.match(check.stdout, new RegExp(`queue ${ghost} does not exist`))
        // The broker's reply code decides, not its message, which holds the names: a queue exclusive
        // to another connection whose name reads like a "not found" is there; a missing one that does is not.
        const held = `held-404-NOT_FOUND-${tok}`
        const missing = `gone-404-${tok}`
        const conn = await connect(space.worker.broker)
        try {
          const ch = await conn.createChannel()
          await ch.assertQueue(held, {exclusive: true})
          const both = await wf(space.ns, ['queues', '--queue', `${held},${missing}`, '-t', '2'])
          // A depth that could not be read: exit 1.
          assert.equal(both.code, 1, show(both))
          assert.match(both.stdout, new RegExp(`^${held} +- +- +exclusive to another connection`, 'm'), show(both))
          assert.match(both.stdout, new RegExp(`^${missing} +- +- +no such queue$`, 'm'), show(both))
        } finally {
          await conn.close().catch(() => {})
        }
      } else {
        // Redis cannot tell an empty queue from none: 0 waiting.
        assert.match(run.stdout, new RegExp(`^${ghost} +0 +0$`, 'm'))
        assert.deepEqual(await keysOf(space), before, 'wfctl queues changed the keys under the prefix')
      }
      assert.equal(await space.exists(ghost), false, `wfctl created ${ghost}`)

      // A namespace where nothing ever ran: no worker answers and no queue is known.
      const empty = await ownSpace(t)
      const nothing = await wf(empty.ns, ['queues', '-t', '1'])
      assert.equal(nothing.code, 69, show(nothing))
      // On RabbitMQ the test's own watch of the control exchange hears the request, so the broker cannot say nobody listens.
      assert.match(nothing.stderr, space.kind === 'redis' ? /^hint: nobody listens on /m : /^note: no worker answered within --timeout \(/m)
      assert.match(nothing.stderr, /^note: no queue found/m)
      const named = await wf(empty.ns, ['queues', '--queue', ghost, '-t', '1', '--json'])
      assert.equal(named.code, 0, show(named))
      assert.equal(rowOf(json(named), ghost)?.messages, 0)
      assert.equal(await empty.exists(ghost), false, `wfctl created ${ghost}`)
    })

    if (open === redisSpace) {
      test('priorities (Redis): each of kombu\'s priority lists with --priorities, summed without; --no-ask publishes nothing', async (t) => {
        const tok = token()
        const queue = `pq${tok}`
        const {space} = await fleet(t, [`wq${tok}`])
        await send(space, queue)
        await send(space, queue, 4)
        await send(space, queue, 6)
        await send(space, queue, 6)
        await send(space, queue, 9)
        const text = await wf(space.ns, ['queues', '--priorities', '-t', '2'])
        assert.equal(text.code, 0, show(text))
        assert.match(text.stdout, /^NAME +MESSAGES +P0-2 +P3-5 +P6-8 +P9 +CONSUMERS$/m)
        assert.match(text.stdout, new RegExp(`^${queue} +5 +1 +1 +2 +1 +0$`, 'm'))
        const out = json(await wf(space.ns, ['queues', '--priorities', '--json', '--queue', queue, '--no-ask']))
        assert.deepEqual(rowOf(out, queue), {name: queue, messages: 5, consumers: null, byPriority: {0: 1, 3: 1, 6: 2, 9: 1}, exists: true})
        const plain = json(await wf(space.ns, ['queues', '--json', '-t', '2']))
        assert.deepEqual(rowOf(plain, queue), {name: queue, messages: 5, consumers: 0, exists: true})

        // --no-ask sends no request: a subscriber on the request channel hears nothing.
        const dry = json(await runWfctl(['status', '--dry-run', '--json', ...space.ns.flags]))
        const channel = String(dry.address).replace(/^channel /, '')
        const listener = redisClient(DB)
        const heard: string[] = []
        try {
          await listener.subscribe(channel)
          listener.on('message', (_c: string, m: string) => heard.push(m))
          const quiet = await wf(space.ns, ['queues', '--no-ask', '--json'])
          assert.equal(quiet.code, 0, show(quiet))
          assert.equal(rowOf(json(quiet), queue)?.messages, 5)
          const asked = await wf(space.ns, ['queues', '--json', '-t', '1'])
          assert.equal(asked.code, 0, show(asked))
          await poll(() => heard.length, (n) => n > 0, 5000)
          assert.equal(heard.length, 1, 'one broadcast, from the run that asks')
          assert.match(Buffer.from(JSON.parse(heard[0]).body, 'base64').toString(), /"method":"active_queues"/)
        } finally {
          listener.disconnect()
        }
        for (const bad of [['--priorities', '-b', 'amqp://guest:guest@127.0.0.1:1//'], ['--no-ask', '-d', 'w1@h'], ['--queue', 'a b']]) {
          const run = await runWfctl(['queues', ...bad])
          assert.equal(run.code, 2, show(run))
          assert.equal(run.stdout, '')
          assert.match(run.stderr, /^Error: .+\n$/)
        }
      })
    } else {
      test('RabbitMQ: consumers are the broker\'s count, which a cancelled consumer lowers; wfctl leaves no queue behind', async (t) => {
        const tok = token()
        const shared = `sq${tok}`
        const {space, nodes} = await fleet(t, [shared, 'celery'], [shared])
        const first = json(await wf(space.ns, ['queues', '--json', '--no-ask', '--queue', shared]))
        assert.deepEqual(rowOf(first, shared), {name: shared, messages: 0, consumers: 2, exists: true})
        const cancel = await wf(space.ns, ['control', 'cancel-consumer', shared, '-d', nodes[1], '-t', '5'])
        assert.equal(cancel.code, 0, show(cancel))
        const later = await poll(
          async () => json(await wf(space.ns, ['queues', '--json', '--no-ask', '--queue', shared])),
          (o) => rowOf(o, shared)?.consumers === 1,
          10_000,
        )
        assert.deepEqual(rowOf(later, shared), {name: shared, messages: 0, consumers: 1, exists: true})
        // Every queue of the vhost, once: the workers' own, and nothing wfctl declared.
        const listed = (await rabbitctl('list_queues', '-p', space.vhost!, 'name'))
          .split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'name')
        // amq.gen-*: the test's own watch of the control exchange (see amqpNamespace).
        const expected = new Set([shared, 'celery', ...nodes.map((n) => `${n}.celery.pidbox`)])
        assert.deepEqual(listed.filter((n) => !expected.has(n) && !n.startsWith('amq.gen-')), [], `queues nobody but wfctl made: ${listed.join(', ')}`)
      })
    }
  })
}

async function keysOf(space: Space): Promise<string[]> {
  const redis = redisClient(DB)
  try {
    return (await keysWithPrefix(redis, space.worker.keyPrefix!)).sort()
  } finally {
    redis.disconnect()
  }
}
