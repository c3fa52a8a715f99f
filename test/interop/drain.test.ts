// wfctl control drain against real Celery workers on both brokers: the safety rails (nothing sent),
// then real drains — queues cancelled (seen with the real `celery inspect active_queues`), running
// tasks awaited, the worker process stopped, ETA tasks reported, a too-short --wait, an interrupt.
// Redis DB 11 under a random prefix, and a vhost of its own.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {createVhost, rabbitReplyQueues, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker, type WorkerOptions} from '../helpers/celery.js'
import {json, runWfctl, spawnWfctl} from '../helpers/cli.js'
import {activeQueues, amqpNamespace, deleteKeysWithPrefix, endsWithin, isRunning, poll, show, stopAll, wf, type Namespace} from './support.js'

interface DrainEnv {
  worker: {broker: string; keyPrefix?: string}
  main: Namespace
  /** The flags a restore line needs on top of its own (the broker URL: the line carries the key prefix itself). */
  brokerOnly: string[]
  close: () => Promise<void>
}

const GHOST = `ghost-${token()}@nowhere`
const EXIT_MS = 15_000

function drainSuite(name: string, open: () => Promise<DrainEnv>): void {
  describe(`${name}: wfctl control drain against real Celery workers`, {timeout: 300_000}, () => {
    let env: DrainEnv
    const workers: Worker[] = []
    /** Restore lines printed by drains whose workers keep running: run again at the end whatever happened. */
    const toRestore: string[] = []

    async function startWith(opts: Partial<WorkerOptions>, prefix: string): Promise<Worker> {
      const w = await startWorker({...env.worker, ...opts, name: `${prefix}${token()}`})
      workers.push(w)
      return w
    }

    /** A prefork worker consuming a queue of its own, idle. */
    async function idleWorker(prefix: string): Promise<{w: Worker; queue: string}> {
      const queue = `q-${token()}`
      return {w: await startWith({pool: 'prefork', concurrency: 1, queues: [queue]}, prefix), queue}
    }

    /** A prefork worker on a queue of its own, running wfctl_tasks.sleepy(seconds) once this returns. */
    async function busyWorker(prefix: string, seconds: number): Promise<{w: Worker; queue: string; id: string}> {
      const {w, queue} = await idleWorker(prefix)
      return {w, queue, id: await startTask(w, queue, seconds)}
    }

    /** Sends a task of `seconds` to the worker's queue and waits until the worker runs it. */
    async function startTask(w: Worker, queue: string, seconds: number): Promise<string> {
      const id = await send(queue, seconds)
      const active = await poll(async () => {
        const run = await wf(env.main, ['inspect', 'active', '-d', w.node, '-t', '5', '--json'])
        return ((json(run).replies?.[w.node] ?? []) as {id: string}[]).map((t) => t.id)
      }, (ids) => ids.includes(id), 20_000, 200)
      assert.ok(active.includes(id), `the task ${id} never became active on ${w.node}:\n${w.log()}`)
      return id
    }

    async function send(queue: string, seconds: number, extra: string[] = []): Promise<string> {
      const call = await celery(['call', 'wfctl_tasks.sleepy', '--args', JSON.stringify([seconds]), '--queue', queue, ...extra], {...env.worker, timeoutMs: 30_000})
      assert.equal(call.code, 0, `celery call failed:\n${call.stdout}\n${call.stderr}`)
      return call.stdout.trim().split('\n').at(-1)!.trim()
    }

    const queueNames = async (w: Worker) => (await activeQueues(w.node, env.worker)).map((q) => q.name).sort()

    /** Runs a restore line exactly as printed (plus the broker URL), and checks that it worked. */
    async function restore(line: string): Promise<void> {
      const argv = line.trim().split(/\s+/)
      assert.equal(argv[0], 'wfctl', line)
      const run = await runWfctl([...argv.slice(1), ...env.brokerOnly, '-t', '5'])
      assert.equal(run.code, 0, `the restore line failed: ${line}\n${show(run)}`)
    }

    before(async () => {
      env = await open()
    })

    after(async () => {
      try {
        for (const line of toRestore.splice(0)) await restore(line).catch(() => {})
      } finally {
        await stopAll(workers)
        await env?.close()
      }
    })

    test('(a) drain with neither -d, --pattern nor --all: exit 2, nothing sent, the queues stay', async () => {
      const {w, queue} = await idleWorker('rail-')
      const run = await wf(env.main, ['control', 'drain', '--yes', '--shutdown'])
      assert.equal(run.code, 2, show(run))
      assert.match(run.stderr, /--all/, show(run))
      assert.equal(run.stdout, '')
      const combined = await wf(env.main, ['control', 'drain', '--all', '-d', w.node, '--yes'])
      assert.equal(combined.code, 2, show(combined))
      assert.deepEqual(await queueNames(w), [queue], `a refused drain cancelled a queue:\n${w.log()}`)
      assert.ok(isRunning(w))
      assert.doesNotMatch(w.log(), /Canceling queue/, w.log())
    })

    test('(b) drain -d NODE without --yes and without a terminal: refused (exit 2), nothing sent', async () => {
      const {w, queue} = await idleWorker('noyes-')
      const run = await wf(env.main, ['control', 'drain', '-d', w.node, '--shutdown'])
      assert.equal(run.code, 2, show(run))
      assert.match(run.stderr, /refused without a terminal.*--yes/, show(run))
      const asJson = await wf(env.main, ['control', 'drain', '-d', w.node, '--json'])
      assert.equal(asJson.code, 2, show(asJson))
      assert.equal(json(asJson).error.code, 2)
      assert.deepEqual(await queueNames(w), [queue])
      assert.doesNotMatch(w.log(), /Canceling queue/, w.log())
      assert.ok(isRunning(w))
    })

    test('(c) drain --dry-run prints the plan (active_queues, cancel_consumer, shutdown with the reason) and sends nothing', async () => {
      const {w, queue} = await idleWorker('dry-')
      const text = await wf(env.main, ['control', 'drain', '-d', w.node, '--shutdown', '--reason', 'dry drain', '--dry-run'])
      assert.equal(text.code, 0, show(text))
      assert.match(text.stdout, /nothing was sent/, show(text))
      for (const method of ['active_queues', 'cancel_consumer', 'active', 'reserved', 'scheduled', 'shutdown']) {
        assert.match(text.stdout, new RegExp(`"method":"${method}"`), `the plan lacks ${method}\n${show(text)}`)
      }
      const asJson = await wf(env.main, ['control', 'drain', '-d', w.node, '--shutdown', '--reason', 'dry drain', '--dry-run', '--json'])
      assert.equal(asJson.code, 0, show(asJson))
      const out = json(asJson)
      assert.equal(out.dryRun, true)
      assert.deepEqual(out.steps[0].request.body.destination, [w.node])
      assert.equal(out.steps.at(-1).request.body.method, 'shutdown')
      assert.equal(out.steps.at(-1).request.body.arguments.msg, 'dry drain')
      assert.deepEqual(await queueNames(w), [queue], `a dry run cancelled a queue:\n${w.log()}`)
      assert.doesNotMatch(w.log(), /Canceling queue|dry drain/, w.log())
      assert.ok(isRunning(w))
    })

    test('(d) drain -d NODE --shutdown --yes on a worker running a task: queues cancelled first, the task ends, the process stops, "stopped", exit 0', async () => {
      // A second queue bound otherwise than add_consumer's defaults (its restore line must say how),
      // added before the task starts: on a loaded machine the task's seconds go to the drain alone.
      const {w, queue} = await idleWorker('busy-')
      const extra = `x-${token()}`
      const add = await wf(env.main, ['control', 'add-consumer', extra, '--exchange', `ex-${extra}`, '--exchange-type', 'topic', '--routing-key', `${extra}.#`, '-d', w.node, '-t', '5'])
      assert.equal(add.code, 0, show(add))
      await poll(() => queueNames(w), (names) => names.includes(extra), 10_000, 200)
      const id = await startTask(w, queue, 8)

      const live = spawnWfctl(['control', 'drain', '-d', w.node, '--shutdown', '--yes', '--wait', '60', '--reason', 'drain test', '--json', ...env.main.flags], {timeoutMs: 90_000})
      // Before the stop: while the task still runs, the worker consumes nothing any more.
      const queues = await poll(() => queueNames(w), (names) => names.length === 0, 10_000, 200)
      assert.deepEqual(queues, [], `the queues were not cancelled while the task ran:\n${w.log()}`)
      assert.ok(isRunning(w), `${w.node} ended before its task did:\n${w.log()}`)
      const run = await live.done
      assert.deepEqual(await env.main.leftovers(), [], 'drain left reply routes behind')
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      assert.equal(out.nodes[w.node].state, 'drained', show(run))
      assert.deepEqual([out.nodes[w.node].active, out.nodes[w.node].reserved], [0, 0])
      assert.deepEqual(out.nodes[w.node].cancelled.sort(), [queue, extra].sort())
      assert.deepEqual(out.drained, [w.node])
      assert.equal(out.shutdown.nodes[w.node].state, 'stopped', show(run))
      assert.deepEqual(out.shutdown.stopped, [w.node])
      const lines = Object.fromEntries(out.restore.map((r: {queue: string; command: string}) => [r.queue, r.command]))
      assert.match(lines[queue], new RegExp(`^wfctl control add-consumer ${queue} -d ${w.node.replace(/[.]/g, '\\.')}( |$)`), show(run))
      assert.doesNotMatch(lines[queue], /--exchange|--routing-key/, 'a queue bound as the defaults needs no more flags')
      assert.ok(lines[extra].includes(`--exchange ex-${extra} --exchange-type topic --routing-key '${extra}.#'`), `the restore line lost the binding: ${lines[extra]}`)
      assert.ok(await endsWithin(w, EXIT_MS), `${w.node} still runs ${EXIT_MS} ms after wfctl reported it stopped:\n${w.log()}`)
      assert.match(w.log(), new RegExp(`${id}\\] succeeded`), `the task did not finish:\n${w.log()}`)
      assert.match(w.log(), /drain test/, 'the worker did not log the --reason')
      assert.ok(w.log().indexOf('Canceling queue') < w.log().indexOf(`${id}] succeeded`), `the queues were cancelled only after the task ended:\n${w.log()}`)
    })

    test('(e) a worker holding an ETA task: drained, the task reported as scheduled (text note, --json)', async () => {
      const {w, queue} = await idleWorker('eta-')
      const id = await send(queue, 1, ['--countdown', '600'])
      await poll(async () => {
        const run = await wf(env.main, ['inspect', 'scheduled', '-d', w.node, '-t', '5', '--json'])
        return (json(run).replies?.[w.node] ?? []) as unknown[]
      }, (s) => s.length === 1, 20_000, 200)
      const run = await wf(env.main, ['control', 'drain', '-d', w.node, '--yes', '--json', '--wait', '30'])
      const out = json(run)
      toRestore.push(...out.restore.map((r: {command: string}) => r.command))
      assert.equal(run.code, 0, show(run))
      assert.equal(out.nodes[w.node].state, 'drained', show(run))
      assert.equal(out.nodes[w.node].scheduled, 1, show(run))
      assert.deepEqual(out.nodes[w.node].scheduledTasks.map((t: {id: string}) => t.id), [id])
      assert.equal(out.nodes[w.node].scheduledTasks[0].name, 'wfctl_tasks.sleepy')
      // Drained again (nothing left to cancel): the text names the task and where it goes.
      const text = await wf(env.main, ['control', 'drain', '-d', w.node, '--yes', '--wait', '30'])
      assert.equal(text.code, 0, show(text))
      assert.match(text.stderr, new RegExp(`note: ${w.node.replace(/[.]/g, '\\.')} holds 1 ETA/countdown task \\(scheduled: wfctl_tasks\\.sleepy\\[${id}\\]`), show(text))
      assert.match(text.stderr, /go back to their queue when the worker stops/, show(text))
      assert.ok(isRunning(w))
    })

    test('(f) --wait too short for the running task: exit 1, reported not drained, queues still cancelled, the restore lines work', async () => {
      const {w, queue} = await busyWorker('short-', 6)
      const run = await wf(env.main, ['control', 'drain', '-d', w.node, '--yes', '--shutdown', '--wait', '1'])
      const lines = run.stdout.split('\n').filter((l) => /^\s+wfctl control add-consumer /.test(l))
      toRestore.push(...lines)
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, new RegExp(`^${w.node.replace(/[.]/g, '\\.')}\\s+not drained\\s+.*active 1, reserved 0`, 'm'), show(run))
      assert.match(run.stdout, /0 of 1 node drained .*not drained within --wait/, show(run))
      assert.match(run.stderr, /not shut down, as they were not drained/, show(run))
      assert.equal(lines.length, 1, show(run))
      assert.ok(isRunning(w), `a node not drained was shut down:\n${w.log()}`)
      assert.deepEqual(await queueNames(w), [], 'the queue is no longer cancelled')
      await restore(lines[0])
      toRestore.splice(toRestore.indexOf(lines[0]), 1)
      assert.deepEqual(await poll(() => queueNames(w), (n) => n.length === 1, 10_000, 200), [queue], 'the restore line did not restore the queue')
    })

    test('(g) a -d node that does not answer at the start: reported, exit 1; the one that answers is drained', async () => {
      const {w} = await idleWorker('ghost-')
      const run = await wf(env.main, ['control', 'drain', '-d', `${w.node},${GHOST}`, '--yes', '--json', '-t', '2', '--wait', '30'])
      const out = json(run)
      toRestore.push(...(out.restore ?? []).map((r: {command: string}) => r.command))
      assert.equal(run.code, 1, show(run))
      assert.deepEqual(out.missing, [GHOST], show(run))
      assert.equal(out.nodes[GHOST].state, 'no-answer')
      assert.equal(out.nodes[w.node].state, 'drained', show(run))
      const text = await wf(env.main, ['control', 'drain', '-d', GHOST, '--yes', '-t', '0.5'])
      assert.equal(text.code, 1, show(text))
      assert.match(text.stdout, /no answer/, show(text))
    })

    test('(h) Ctrl-C while waiting: exit 130, says which queues were cancelled on which node, with the restore lines', async () => {
      const {w, queue} = await busyWorker('int-', 8)
      const live = spawnWfctl(['control', 'drain', '-d', w.node, '--yes', '--wait', '60', ...env.main.flags], {timeoutMs: 60_000})
      await poll(() => queueNames(w), (names) => names.length === 0, 10_000, 200)
      live.kill('SIGINT')
      const run = await live.done
      const lines = run.stderr.split('\n').filter((l) => /^\s+wfctl control add-consumer /.test(l))
      toRestore.push(...lines)
      assert.deepEqual(await env.main.leftovers(), [], 'an interrupted drain left reply routes behind')
      assert.equal(run.code, 130, show(run))
      assert.match(run.stderr, new RegExp(`interrupted while waiting: queues cancelled: ${w.node.replace(/[.]/g, '\\.')}: ${queue}`), show(run))
      assert.equal(lines.length, 1, show(run))
      assert.ok(isRunning(w))
    })
  })
}

const DB = 11
const prefix = `wfctl-it-drain-${token()}:`

drainSuite('Redis', async () => {
  const redis = redisClient(DB)
  return {
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    main: {label: `Redis DB ${DB}, prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    brokerOnly: ['-b', redisUrl(DB)],
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
})

drainSuite('RabbitMQ', async () => {
  const vhost = await createVhost('wfctl-it-drain')
  const main = await amqpNamespace(vhost)
  return {
    worker: {broker: vhost.url},
    main,
    brokerOnly: ['-b', vhost.url],
    close: async () => {
      await main.close()
      const left = await rabbitReplyQueues(vhost.name)
      await vhost.remove()
      if (left.length > 0) throw new Error(`reply queues left in vhost ${vhost.name}: ${left.join(', ')}`)
    },
  }
})
