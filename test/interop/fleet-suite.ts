// The broker-independent part of the interop tier: the same tests against real Celery workers on
// Redis (redis.test.ts) and on RabbitMQ (amqp.test.ts). Not a test file itself.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {json} from '../helpers/cli.js'
import {activeQueues, interruptWhileWaiting, poll, rosterFile, show, stopAll, wf, type Namespace} from './support.js'

export interface FleetEnv {
  /** For startWorker and celery(): the broker URL the workers use, and their key prefix. */
  worker: {broker: string; keyPrefix?: string}
  /** Where the workers run, as wfctl flags (-b URL and namespace flags). */
  main: Namespace
  /** The same, with a custom --control-exchange. */
  withExchange: (exchange: string) => Namespace
  /** The same settings on another Redis DB / RabbitMQ vhost, where no worker runs. */
  elsewhere: Namespace
  /** True while a wfctl reply route (binding member / reply queue) exists in `main`. */
  replyRouteExists: () => Promise<boolean>
  close: () => Promise<void>
}

export interface FleetContext {
  env: () => FleetEnv
  /** Two workers on the default control exchange. */
  a: () => Worker
  b: () => Worker
  /** A worker on the custom control exchange `exchange()`. */
  c: () => Worker
  exchange: () => string
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const GHOST = `ghost-${token()}@nowhere`

export function fleetSuite(name: string, open: () => Promise<FleetEnv>, extra?: (ctx: FleetContext) => void): void {
  describe(`${name}: wfctl against real Celery workers`, {timeout: 180_000}, () => {
    let env: FleetEnv
    let a: Worker
    let b: Worker
    let c: Worker
    const exchange = `wfx${token()}`

    before(async () => {
      env = await open()
      const started = await Promise.allSettled([
        startWorker({...env.worker, name: `a${token()}`}),
        startWorker({...env.worker, name: `b${token()}`}),
        startWorker({...env.worker, name: `c${token()}`, controlExchange: exchange}),
      ])
      const workers = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined))
      ;[a, b, c] = workers as Worker[]
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) {
        await stopAll(workers)
        throw failed.reason
      }
    })

    after(async () => {
      await stopAll([a, b, c])
      await env?.close()
    })

    // 1. ping against 2 workers

    test('control ping: a table row per worker and a one-line summary, exit 0', async () => {
      const run = await wf(env.main, ['control', 'ping', '-t', '1'])
      assert.equal(run.code, 0, show(run))
      const lines = run.stdout.trimEnd().split('\n')
      assert.match(lines[0], /^\s*NODE\s+STATUS\s+LATENCY\s+REPLY\s*$/, show(run))
      for (const w of [a, b]) {
        assert.ok(lines.some((l) => new RegExp(`^\\s*${escape(w.node)}\\s+OK\\s+\\d+ ms\\s+pong\\s*$`).test(l)), `no row for ${w.node}\n${show(run)}`)
      }
      assert.match(lines.at(-1)!, /^2 nodes replied \(\d+ ms\)$/, show(run))
      assert.equal(lines.length, 4, show(run))
      // The worker on another control exchange does not hear this namespace.
      assert.ok(!run.stdout.includes(c.node), show(run))
    })

    test('control ping --json: exactly one object with replies, missing, errors, duplicates, elapsedMs, latencyMs', async () => {
      const run = await wf(env.main, ['control', 'ping', '-t', '1', '--json'])
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      for (const key of ['method', 'replies', 'missing', 'errors', 'duplicates', 'elapsedMs', 'latencyMs']) assert.ok(key in out, `no "${key}" in ${run.stdout}`)
      assert.equal(out.method, 'ping')
      assert.deepEqual(out.replies, {[a.node]: {ok: 'pong'}, [b.node]: {ok: 'pong'}})
      assert.deepEqual(out.missing, [])
      assert.deepEqual(out.errors, {})
      assert.deepEqual(out.duplicates, [])
      assert.deepEqual(Object.keys(out.latencyMs).sort(), [a.node, b.node].sort())
      for (const ms of Object.values(out.latencyMs)) assert.ok(typeof ms === 'number' && ms >= 0, run.stdout)
      assert.equal(typeof out.elapsedMs, 'number')
      // A broadcast with neither -d nor --expect cannot know who else may answer: it waits out -t.
      assert.ok(out.elapsedMs >= 900, `a plain broadcast ended after ${out.elapsedMs} ms, before its 1 s timeout`)
    })

    // 2. destinations and --expect

    test('control ping -d NODE: only that node replies, and wfctl stops waiting once it has', async () => {
      const run = await wf(env.main, ['control', 'ping', '-d', a.node, '-t', '60', '--json'], {timeoutMs: 120_000})
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      assert.deepEqual(out.replies, {[a.node]: {ok: 'pong'}})
      assert.deepEqual(out.missing, [])
      // Not a speed check: without the early stop this would take the whole minute.
      assert.ok(out.elapsedMs < 30_000, `-d waited ${out.elapsedMs} ms: it did not stop when the only destination had replied`)
    })

    test('control ping --pattern: the workers filter by glob and by pcre, as Celery 4.4+ does', async () => {
      const aName = a.node.split('@')[0]
      const glob = await wf(env.main, ['control', 'ping', '--pattern', `${aName.slice(0, 3)}*@*`, '--expect', '1', '-t', '5', '--json'])
      assert.equal(glob.code, 0, show(glob))
      assert.deepEqual(Object.keys(json(glob).replies), [a.node])
      // Python's re.match: anchored at the start only.
      const pcre = await wf(env.main, ['control', 'ping', '--pattern', `${aName}|${b.node.split('@')[0]}`, '--matcher', 'pcre', '--expect', '2', '-t', '5', '--json'])
      assert.equal(pcre.code, 0, show(pcre))
      assert.deepEqual(Object.keys(json(pcre).replies).sort(), [a.node, b.node].sort())
      const none = await wf(env.main, ['control', 'ping', '--pattern', 'nobody-*', '-t', '0.5', '--json'])
      assert.equal(none.code, 69, show(none))
    })

    test('control ping -d EXISTING,GHOST (comma list): exit 1, missing lists the ghost', async () => {
      const run = await wf(env.main, ['control', 'ping', '-d', `${a.node},${GHOST}`, '-t', '1', '--json'])
      assert.equal(run.code, 1, show(run))
      const out = json(run)
      assert.deepEqual(out.replies, {[a.node]: {ok: 'pong'}})
      assert.deepEqual(out.missing, [GHOST])
    })

    test('control ping -d EXISTING -d GHOST (repeated flag): exit 1, the table and summary name the ghost', async () => {
      const run = await wf(env.main, ['control', 'ping', '-d', a.node, '-d', GHOST, '-t', '1'])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, new RegExp(`^\\s*${escape(GHOST)}\\s+missing\\b`, 'm'), show(run))
      assert.match(run.stdout, new RegExp(`^1 node replied, 1 missing: ${escape(GHOST)} \\(\\d+ ms\\)$`, 'm'), show(run))
      assert.ok(!run.stdout.includes(b.node), `b was not addressed\n${show(run)}`)
    })

    test('control ping --expect 2 with 2 workers running returns as soon as both replied', async () => {
      const run = await wf(env.main, ['control', 'ping', '--expect', '2', '-t', '60', '--json'], {timeoutMs: 120_000})
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      assert.deepEqual(Object.keys(out.replies).sort(), [a.node, b.node].sort())
      assert.deepEqual(out.missing, [])
      // Not a speed check: returning early is the feature; waiting out -t would take the whole minute.
      assert.ok(out.elapsedMs < 30_000, `--expect 2 took ${out.elapsedMs} ms of its 60 s timeout`)
    })

    test('control ping --expect 3 with only 2 workers: exit 1, "2 of 3 expected nodes replied"', async () => {
      const run = await wf(env.main, ['control', 'ping', '--expect', '3', '-t', '1'])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, /^2 of 3 expected nodes replied \(\d+ ms\)$/m, show(run))
    })

    test('control ping --expect A,GHOST: exit 1, missing names the silent node; --expect does not limit who receives', async () => {
      const run = await wf(env.main, ['control', 'ping', '--expect', `${a.node},${GHOST}`, '-t', '1', '--json'])
      assert.equal(run.code, 1, show(run))
      const out = json(run)
      assert.deepEqual(out.missing, [GHOST])
      assert.deepEqual(Object.keys(out.replies).sort(), [a.node, b.node].sort())
    })

    test('control ping --expect @FILE: a roster file with comments, exit 0 when everyone on it replied', async () => {
      const roster = rosterFile(`# the fleet\n${a.node}\n\n${b.node}   # second worker\n`)
      try {
        const run = await wf(env.main, ['control', 'ping', '--expect', `@${roster.path}`, '-t', '1', '--json'])
        assert.equal(run.code, 0, show(run))
        const out = json(run)
        assert.deepEqual(Object.keys(out.replies).sort(), [a.node, b.node].sort())
        assert.deepEqual(out.missing, [])
        assert.equal(out.expected, 2)
      } finally {
        roster.remove()
      }
    })

    test('control ping --expect @FILE naming a silent node: exit 1, missing names it', async () => {
      const roster = rosterFile(`${a.node}\n${GHOST}\n`)
      try {
        const run = await wf(env.main, ['control', 'ping', '--expect', `@${roster.path}`, '-t', '1', '--json'])
        assert.equal(run.code, 1, show(run))
        assert.deepEqual(json(run).missing, [GHOST])
      } finally {
        roster.remove()
      }
    })

    // 3. and 4. nobody there: another DB / vhost

    test('control ping where no worker runs: exit 69, says nobody replied and why', async () => {
      const run = await wf(env.elsewhere, ['control', 'ping', '-t', '1'])
      assert.equal(run.code, 69, show(run))
      assert.match(run.stdout, /^0 nodes replied/m, show(run))
      assert.match(run.stderr, /nobody listens on/, show(run))
      const asJson = await wf(env.elsewhere, ['control', 'ping', '-t', '1', '--json'])
      assert.equal(asJson.code, 69, show(asJson))
      const out = json(asJson)
      assert.deepEqual(out.replies, {})
      assert.equal(out.listeners, 0)
    })

    test('status where no worker runs: exit 69', async () => {
      const run = await wf(env.elsewhere, ['status', '-t', '1'])
      assert.equal(run.code, 69, show(run))
      assert.match(run.stdout, /^0 nodes online\.$/m, show(run))
    })

    test("the workers' own DB/vhost reaches a worker; the same settings on another DB/vhost do not (exit 69)", async () => {
      const here = await wf(env.main, ['control', 'ping', '-d', a.node, '-t', '5', '--json'])
      assert.equal(here.code, 0, show(here))
      assert.deepEqual(json(here).replies, {[a.node]: {ok: 'pong'}})
      const there = await wf(env.elsewhere, ['control', 'ping', '-d', a.node, '-t', '1', '--json'])
      assert.equal(there.code, 69, show(there))
      assert.deepEqual(json(there).missing, [a.node])
    })

    // 5. --control-exchange

    test('--control-exchange reaches a worker started with that control_exchange', async () => {
      const run = await wf(env.withExchange(exchange), ['control', 'ping', '-d', c.node, '-t', '5', '--json'])
      assert.equal(run.code, 0, show(run))
      assert.deepEqual(json(run).replies, {[c.node]: {ok: 'pong'}})
      // A broadcast on that namespace reaches only that worker.
      const broadcast = await wf(env.withExchange(exchange), ['control', 'ping', '-t', '1', '--json'])
      assert.equal(broadcast.code, 0, show(broadcast))
      assert.deepEqual(Object.keys(json(broadcast).replies), [c.node])
    })

    test('without --control-exchange the custom-exchange worker is not reached (exit 69, missing)', async () => {
      const run = await wf(env.main, ['control', 'ping', '-d', c.node, '-t', '1', '--json'])
      assert.equal(run.code, 69, show(run))
      assert.deepEqual(json(run).missing, [c.node])
      assert.deepEqual(json(run).replies, {})
    })

    // 6. add-consumer / cancel-consumer, checked with the real celery CLI

    test('control add-consumer -d NODE: celery inspect active_queues lists the queue; cancel-consumer removes it', async () => {
      const queue = `wfq-${token()}`
      const added = await wf(env.main, ['control', 'add-consumer', queue, '-d', a.node, '--json'])
      assert.equal(added.code, 0, show(added))
      assert.deepEqual(json(added).replies, {[a.node]: {ok: `add consumer ${queue}`}})
      // add_consumer is applied after the reply: poll.
      const names = (qs: {name: string}[]) => qs.map((q) => q.name)
      const withQueue = await poll(() => activeQueues(a.node, env.worker), (qs) => names(qs).includes(queue), 10_000)
      assert.ok(names(withQueue).includes(queue), `${a.node} does not consume ${queue}: ${names(withQueue)}`)
      const entry = withQueue.find((q) => q.name === queue)!
      assert.equal(entry.exchange.name, queue)
      assert.equal(entry.routing_key, queue)
      // Only the destination was told.
      assert.ok(!names(await activeQueues(b.node, env.worker)).includes(queue), `${b.node} consumes ${queue} too`)

      const cancelled = await wf(env.main, ['control', 'cancel-consumer', queue, '-d', a.node, '--json'])
      assert.equal(cancelled.code, 0, show(cancelled))
      const reply = json(cancelled).replies[a.node]
      assert.ok(reply && typeof reply.ok === 'string' && reply.ok.includes(queue), show(cancelled))
      const withoutQueue = await poll(() => activeQueues(a.node, env.worker), (qs) => !names(qs).includes(queue), 10_000)
      assert.ok(!names(withoutQueue).includes(queue), `${a.node} still consumes ${queue}: ${names(withoutQueue)}`)
      assert.ok(names(withoutQueue).includes('celery'), `the default queue is gone too: ${names(withoutQueue)}`)
    })

    test('control add-consumer passes --exchange, --exchange-type and --routing-key through to the worker', async () => {
      const queue = `wfq-${token()}`
      const ex = `wfex-${token()}`
      const added = await wf(env.main, ['control', 'add-consumer', queue, '--exchange', ex, '--exchange-type', 'topic', '--routing-key', 'reports.#', '-d', b.node, '--json'])
      assert.equal(added.code, 0, show(added))
      assert.deepEqual(json(added).replies, {[b.node]: {ok: `add consumer ${queue}`}})
      try {
        const queues = await poll(() => activeQueues(b.node, env.worker), (qs) => qs.some((q) => q.name === queue), 10_000)
        const entry = queues.find((q) => q.name === queue)
        assert.ok(entry, `${b.node} does not consume ${queue}`)
        assert.equal(entry.exchange.name, ex)
        assert.equal(entry.exchange.type, 'topic')
        assert.equal(entry.routing_key, 'reports.#')
      } finally {
        const cancelled = await wf(env.main, ['control', 'cancel-consumer', queue, '-d', b.node])
        assert.equal(cancelled.code, 0, show(cancelled))
      }
    })

    // 7. status

    test('status: lists the running nodes as online, exit 0', async () => {
      const run = await wf(env.main, ['status', '-t', '1'])
      assert.equal(run.code, 0, show(run))
      const lines = run.stdout.trimEnd().split('\n')
      assert.match(lines[0], /^\s*NODE\s+STATUS\s+LATENCY\s*$/, show(run))
      for (const w of [a, b]) assert.ok(lines.some((l) => new RegExp(`^\\s*${escape(w.node)}\\s+online\\s+\\d+ ms\\s*$`).test(l)), `no row for ${w.node}\n${show(run)}`)
      assert.equal(lines.at(-1), '2 nodes online.')
    })

    test('status --json: the running nodes, exit 0', async () => {
      const run = await wf(env.main, ['status', '--expect', '2', '-t', '5', '--json'])
      assert.equal(run.code, 0, show(run))
      const out = json(run)
      assert.equal(out.method, 'ping')
      assert.deepEqual(out.replies, {[a.node]: {ok: 'pong'}, [b.node]: {ok: 'pong'}})
      assert.deepEqual(out.missing, [])
    })

    test('status --expect with a node that is not running: exit 1, listed as missing', async () => {
      const run = await wf(env.main, ['status', '--expect', `${a.node},${b.node},${GHOST}`, '-t', '1'])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, new RegExp(`^\\s*${escape(GHOST)}\\s+missing\\b`, 'm'), show(run))
      assert.match(run.stdout, new RegExp(`^2 nodes online, 1 missing: ${escape(GHOST)}\\.$`, 'm'), show(run))
    })

    // 10. interrupts

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      test(`${signal} while control ping waits for replies: exit 130, the reply route is removed`, async () => {
        const run = await interruptWhileWaiting(['control', 'ping', '-t', '10', ...env.main.flags], signal, env.replyRouteExists)
        assert.ok(run.routeSeen, `wfctl's reply route never appeared\n${show(run)}`)
        assert.equal(run.code, 130, show(run))
        assert.match(run.stderr, new RegExp(`interrupted by ${signal}`), show(run))
        assert.deepEqual(await env.main.leftovers(), [])
      })
    }

    extra?.({env: () => env, a: () => a, b: () => b, c: () => c, exchange: () => exchange})

    // 9. hygiene: the workers still answer after all of the above (nothing wfctl did harmed them)

    test('after everything, every worker still answers (wfctl harmed no mailbox)', async () => {
      const run = await wf(env.main, ['control', 'ping', '--expect', `${a.node},${b.node}`, '-t', '5', '--json'])
      assert.equal(run.code, 0, show(run))
      const custom = await wf(env.withExchange(exchange), ['control', 'ping', '--expect', c.node, '-t', '5', '--json'])
      assert.equal(custom.code, 0, show(custom))
    })
  })
}
