// wfctl control shutdown against real Celery workers: the safety rails (nothing sent), then real
// shutdowns whose worker processes must end. Redis DB 11 under a random prefix, and a vhost of its own.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {createVhost, keysWithPrefix, rabbitctl, rabbitReplyQueues, redisClient, redisLeftovers, redisUrl, token, AMQP_HOST, AMQP_PORT, REDIS_HOST, REDIS_PORT} from '../helpers/brokers.js'
import {celery, startWorker, type Worker, type WorkerOptions} from '../helpers/celery.js'
import {json} from '../helpers/cli.js'
import {amqpNamespace, deleteKeysWithPrefix, endsWithin, isRunning, poll, show, stopAll, wf, type Namespace} from './support.js'

interface ShutdownEnv {
  worker: {broker: string; keyPrefix?: string}
  main: Namespace
  /** The workers' namespace as wfctl flags, with a broker URL that carries this password (for --dry-run: never connected). */
  withPassword: (password: string) => string[]
  /** The password in the workers' own broker URL, if it has one. */
  mainPassword?: string
  /** What an event listener could have left in the broker (event queues, event keys): must stay empty. */
  eventLeftovers: () => Promise<string[]>
  close: () => Promise<void>
}

const GHOST = `ghost-${token()}@nowhere`
const EXIT_MS = 15_000

function shutdownSuite(name: string, open: () => Promise<ShutdownEnv>): void {
  describe(`${name}: wfctl control shutdown against real Celery workers`, {timeout: 300_000}, () => {
    let env: ShutdownEnv
    const workers: Worker[] = []
    let s1: Worker
    let s4: Worker

    async function start(...names: string[]): Promise<Worker[]> {
      return startWith({}, ...names)
    }

    async function startWith(opts: Partial<WorkerOptions>, ...names: string[]): Promise<Worker[]> {
      const started = await Promise.allSettled(names.map((n) => startWorker({...env.worker, ...opts, name: `${n}${token()}`})))
      for (const s of started) if (s.status === 'fulfilled') workers.push(s.value)
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) throw failed.reason
      return started.map((s) => (s as PromiseFulfilledResult<Worker>).value)
    }

    /** Both first workers still run and still answer a ping. */
    async function assertAlive(...ws: Worker[]): Promise<void> {
      for (const w of ws) assert.ok(isRunning(w), `${w.node} ended:\n${w.log()}`)
      const run = await wf(env.main, ['control', 'ping', '--expect', ws.map((w) => w.node).join(','), '-t', '5', '--json'])
      assert.equal(run.code, 0, `not every worker answers any more: ${show(run)}`)
    }

    before(async () => {
      env = await open()
      ;[s1, s4] = await start('s1-', 's4-')
    })

    after(async () => {
      await stopAll(workers)
      await env?.close()
    })

    test('(a) shutdown with neither -d, --pattern nor --all: exit 2, nothing sent, the workers live', async () => {
      const run = await wf(env.main, ['control', 'shutdown', '--yes'])
      assert.equal(run.code, 2, show(run))
      assert.match(run.stderr, /--all/, show(run))
      assert.equal(run.stdout, '')
      await assertAlive(s1, s4)
    })

    test('(b) shutdown -d NODE without --yes and without a terminal: exit 2, nothing sent, the worker lives', async () => {
      const run = await wf(env.main, ['control', 'shutdown', '-d', s1.node])
      assert.equal(run.code, 2, show(run))
      assert.match(run.stderr, /--yes/, show(run))
      const asJson = await wf(env.main, ['control', 'shutdown', '-d', s1.node, '--json'])
      assert.equal(asJson.code, 2, show(asJson))
      assert.equal(json(asJson).error.code, 2)
      await assertAlive(s1)
    })

    test('(c) shutdown --dry-run prints the request (method, destination, msg) and sends nothing; the password is masked', async () => {
      // On the workers' own broker URL: had anything been sent, the worker would stop.
      const text = await wf(env.main, ['control', 'shutdown', '-d', s1.node, '--reason', 'dry reason', '--dry-run'])
      assert.equal(text.code, 0, show(text))
      assert.match(text.stdout, /nothing was sent/, show(text))
      assert.match(text.stdout, /"method": "shutdown"/, show(text))
      assert.match(text.stdout, /"msg": "dry reason"/, show(text))
      assert.ok(text.stdout.includes(s1.node), show(text))
      if (env.mainPassword) {
        assert.ok(text.stdout.includes(':****@'), `no masked broker URL in the dry run\n${show(text)}`)
        assert.ok(!`${text.stdout}${text.stderr}`.includes(`:${env.mainPassword}@`), `the broker password leaked:\n${show(text)}`)
      }

      // With a password of its own in the URL (a dry run never connects).
      const secret = `pw-${token()}`
      const asJson = await wf({...env.main, flags: env.withPassword(secret)}, ['control', 'shutdown', '-d', s1.node, '--reason', 'dry reason', '--dry-run', '--json'])
      assert.equal(asJson.code, 0, show(asJson))
      const out = json(asJson)
      assert.equal(out.body.method, 'shutdown')
      assert.deepEqual(out.body.destination, [s1.node])
      assert.equal(out.body.arguments.msg, 'dry reason')
      assert.equal(out.body.reply_to, undefined, 'a shutdown is a cast: no reply_to')
      assert.match(out.broker, /:\*\*\*\*@/)
      assert.ok(!`${asJson.stdout}${asJson.stderr}`.includes(secret), `the broker password leaked:\n${show(asJson)}`)

      await assertAlive(s1)
      assert.ok(!s1.log().includes('dry reason'), `the worker logged the dry-run reason: it received the shutdown\n${s1.log()}`)
    })

    test('(g) shutdown -d NODE that does not run: exit 1, unknown, verified false, no other worker is touched', async () => {
      const run = await wf(env.main, ['control', 'shutdown', '-d', GHOST, '--yes', '-t', '0.5', '--json'])
      const out = json(run)
      assert.deepEqual(out.missing, [GHOST], show(run))
      assert.deepEqual(out.stopped, [])
      assert.equal(out.nodes[GHOST].state, 'unknown', show(run))
      assert.equal(out.nodes[GHOST].activeTasks, null)
      assert.equal(out.verified, false, `nothing was verified, yet "verified" is true\n${show(run)}`)
      await assertAlive(s1, s4)
      assert.equal(run.code, 1, `README.md#exit-codes: shutdown exits 0 when every targeted node stopped, 1 otherwise\n${show(run)}`)
    })

    test('(j) shutdown --pattern matching no node: exit 1, no node claimed, verified false, nobody touched', async () => {
      const run = await wf(env.main, ['control', 'shutdown', '--pattern', 'zzz*', '--yes', '-t', '0.5', '--json'])
      assert.equal(run.code, 1, show(run))
      const out = json(run)
      assert.deepEqual(out.nodes, {}, show(run))
      assert.deepEqual([out.stopped, out.stopping, out.running], [[], [], []], show(run))
      assert.equal(out.verified, false, `nothing was verified, yet "verified" is true\n${show(run)}`)
      const text = await wf(env.main, ['control', 'shutdown', '--pattern', 'zzz*', '--yes', '-t', '0.5'])
      assert.equal(text.code, 1, show(text))
      assert.match(text.stdout, /^no worker answered before the shutdown: nothing was verified$/m, show(text))
      assert.doesNotMatch(text.stdout, /stopped \(/, show(text))
      await assertAlive(s1, s4)
      assert.deepEqual(await env.eventLeftovers(), [])
    })

    /** A prefork worker on a queue of its own, busy with wfctl_tasks.sleepy(seconds) once this returns. */
    async function busyWorker(name: string, seconds: number, extraArgs: string[] = []): Promise<{w: Worker; id: string}> {
      const queue = `q-${token()}`
      const [w] = await startWith({pool: 'prefork', concurrency: 1, queues: [queue], extraArgs}, name)
      const call = await celery(['call', 'wfctl_tasks.sleepy', '--args', JSON.stringify([seconds]), '--queue', queue], {...env.worker, timeoutMs: 30_000})
      assert.equal(call.code, 0, `celery call failed:\n${call.stdout}\n${call.stderr}`)
      const id = call.stdout.trim().split('\n').at(-1)!.trim()
      const active = await poll(async () => {
        const run = await wf(env.main, ['inspect', 'active', '-d', w.node, '-t', '5', '--json'])
        return ((json(run).replies?.[w.node] ?? []) as {id: string}[]).map((t) => t.id)
      }, (ids) => ids.includes(id), 20_000, 200)
      assert.ok(active.includes(id), `the task ${id} never became active on ${w.node}:\n${w.log()}`)
      return {w, id}
    }

    test('(h) a busy worker: "stopping", naming its task, exit 1 — its process still runs, and ends when the task ends', async () => {
      const {w, id} = await busyWorker('busy-', 8)
      const run = await wf(env.main, ['control', 'shutdown', '-d', w.node, '--yes', '--wait', '2', '--json'])
      assert.equal(run.code, 1, `README.md#exit-codes: a stopping node is not a stopped one\n${show(run)}`)
      const out = json(run)
      assert.equal(out.nodes[w.node].state, 'stopping', show(run))
      assert.equal(out.nodes[w.node].activeTasks, 1)
      assert.deepEqual(out.nodes[w.node].tasks, [{id, name: 'wfctl_tasks.sleepy'}])
      assert.deepEqual(out.stopping, [w.node])
      assert.deepEqual(out.stopped, [], `a busy worker was claimed stopped\n${show(run)}`)
      assert.ok(isRunning(w), `${w.node} ended although its task was still running:\n${w.log()}`)
      // The warm shutdown does finish: the process ends once the task is done.
      assert.ok(await endsWithin(w, 8000 + EXIT_MS), `${w.node} still runs after its task should have ended:\n${w.log()}`)
      assert.match(w.log(), new RegExp(`${id}\\] succeeded`), `the task did not finish: a warm shutdown must let it\n${w.log()}`)
    })

    test('(k) a busy worker with task events (-E): "stopped" once its task is seen ending within --wait; the process is gone', async () => {
      const {w, id} = await busyWorker('busy-ev-', 4, ['-E'])
      const run = await wf(env.main, ['control', 'shutdown', '-d', w.node, '--yes', '--wait', '30'])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, new RegExp(`^${w.node.replace(/[.]/g, '\\.')}\\s+stopped\\s+after 1 task ended: wfctl_tasks\\.sleepy\\[${id}\\]$`, 'm'), show(run))
      assert.match(run.stdout, /^1 of 1 node stopped \([\d.]+s\)$/m, show(run))
      assert.ok(await endsWithin(w, EXIT_MS), `${w.node} still runs ${EXIT_MS} ms after wfctl reported it stopped:\n${w.log()}`)
      assert.match(w.log(), new RegExp(`${id}\\] succeeded`), w.log())
      assert.deepEqual(await env.eventLeftovers(), [], 'the event listener left something in the broker')
    })

    test('(k2) --json of the same: state stopped, activeTasks 0, the finished task named, verified', async () => {
      const {w, id} = await busyWorker('busy-ej-', 3, ['-E'])
      const run = await wf(env.main, ['control', 'shutdown', '-d', w.node, '--yes', '--wait', '30', '--json'])
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      assert.deepEqual(out.nodes[w.node], {state: 'stopped', activeTasks: 0, finished: [{id, name: 'wfctl_tasks.sleepy'}]}, show(run))
      assert.equal(out.verified, true)
      assert.equal(out.taskEvents, true)
      assert.ok(await endsWithin(w, EXIT_MS), `${w.node} still runs ${EXIT_MS} ms after wfctl reported it stopped:\n${w.log()}`)
      assert.deepEqual(await env.eventLeftovers(), [])
    })

    test('(d) shutdown -d NODE --yes --reason: exit 0, reported stopped, the process ends and logged the reason', async () => {
      const run = await wf(env.main, ['control', 'shutdown', '-d', s1.node, '--yes', '--reason', 'because test', '-t', '0.5', '--json'])
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      assert.equal(out.method, 'shutdown')
      assert.deepEqual(out.stopped, [s1.node])
      assert.deepEqual(out.running, [])
      assert.deepEqual(out.missing, [])
      assert.equal(out.verified, true)
      assert.deepEqual(out.nodes, {[s1.node]: {state: 'stopped', activeTasks: 0}}, show(run))
      assert.ok(await endsWithin(s1, EXIT_MS), `${s1.node} still runs ${EXIT_MS} ms after wfctl reported it stopped:\n${s1.log()}`)
      assert.match(s1.log(), /because test/, `the worker did not log the reason:\n${s1.log()}`)
      await assertAlive(s4)
    })

    test('(f) shutdown --no-wait: exit 0 right after publishing (not verified), and the worker still ends', async () => {
      const run = await wf(env.main, ['control', 'shutdown', '-d', s4.node, '--yes', '--no-wait', '--reason', 'no-wait test', '--json'])
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      assert.equal(out.verified, false)
      assert.deepEqual(out.running, [])
      assert.ok(await endsWithin(s4, EXIT_MS), `${s4.node} still runs ${EXIT_MS} ms after the shutdown:\n${s4.log()}`)
      assert.match(s4.log(), /no-wait test/)
    })

    test('(e) shutdown --all --yes stops every worker in this DB/vhost; the table lists each as stopped', async () => {
      const [s2, s3] = await start('s2-', 's3-')
      const run = await wf(env.main, ['control', 'shutdown', '--all', '--yes', '--reason', 'all test', '-t', '1'])
      assert.equal(run.code, 0, show(run))
      for (const w of [s2, s3]) assert.match(run.stdout, new RegExp(`^\\s*${w.node.replace(/[.]/g, '\\.')}\\s+stopped\\s+was idle$`, 'm'), show(run))
      assert.match(run.stdout, /^2 of 2 nodes stopped \([\d.]+s\)$/m, show(run))
      for (const w of [s2, s3]) {
        assert.ok(await endsWithin(w, EXIT_MS), `${w.node} still runs ${EXIT_MS} ms after the shutdown:\n${w.log()}`)
        assert.match(w.log(), /all test/)
      }
      // Nobody is left to answer.
      const ping = await wf(env.main, ['control', 'ping', '-t', '0.5'])
      assert.equal(ping.code, 69, show(ping))
    })
  })
}

const DB = 11
const prefix = `wfctl-it-shutdown-${token()}:`

shutdownSuite('Redis', async () => {
  const redis = redisClient(DB)
  return {
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    main: {label: `Redis DB ${DB}, prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    withPassword: (password) => ['-b', `redis://:${password}@${REDIS_HOST}:${REDIS_PORT}/${DB}`, '--redis-key-prefix', prefix],
    // A subscription writes nothing; any event key under this prefix would be wfctl's doing.
    eventLeftovers: async () => (await keysWithPrefix(redis, prefix)).filter((k) => k.includes('celeryev')),
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
})

shutdownSuite('RabbitMQ', async () => {
  const vhost = await createVhost('wfctl-it-shutdown')
  const main = await amqpNamespace(vhost)
  return {
    worker: {broker: vhost.url},
    main,
    withPassword: (password) => ['-b', `amqp://guest:${password}@${AMQP_HOST}:${AMQP_PORT}/${encodeURIComponent(vhost.name)}`],
    mainPassword: 'guest',
    eventLeftovers: async () => (await rabbitctl('list_queues', '-p', vhost.name, 'name')).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('celeryev.')),
    close: async () => {
      await main.close()
      const left = await rabbitReplyQueues(vhost.name)
      await vhost.remove()
      if (left.length > 0) throw new Error(`reply queues left in vhost ${vhost.name}: ${left.join(', ')}`)
    },
  }
})
