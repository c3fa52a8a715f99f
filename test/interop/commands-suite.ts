// The broker-independent part of the interop tier for the whole command surface (every control and
// inspect command, and call), against real Celery 5.2 workers: the same tests on Redis
// (commands-redis.test.ts) and on RabbitMQ (commands-amqp.test.ts). Not a test file itself.
//
// Every command is given something real to act on and is checked by its effect on the workers (the
// task is gone, the pool grew, the limit shows in `registered`, the event was sent), not only by its
// reply. Three workers, started in parallel:
//   P  prefork, 2 processes, no autoscale, no event dispatcher (startWorker's defaults);
//   A  prefork --autoscale 3,1, -E, and worker_pool_restarts=True (Celery's `worker KEY=VALUE` config);
//   E  solo, heartbeats on and no -E: its event dispatcher sends only the "worker" group.
// Each consumes its own queue only, so a task sent with --queue lands on that worker.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {json, type CliOptions, type CliRun} from '../helpers/cli.js'
import {settle} from '../helpers/spy.js'
import {activeQueues, poll, show, sleep, stopAll, wf as wfOnce, type Namespace} from './support.js'

/**
 * wf() with a generous reply deadline: every run here names its nodes (-d, --expect), so wfctl
 * returns as soon as they answered, and a worker slowed by a loaded CI machine is not "missing".
 */
function wf(ns: Namespace, args: string[], opts?: CliOptions): Promise<CliRun> {
  return wfOnce(ns, args.includes('-t') ? args : [...args, '-t', '5'], opts)
}

/** A Celery event as the worker sends it (task events come in batches: one list per message). */
export interface CeleryEvent {
  type: string
  hostname?: string
  uuid?: string
  freq?: number
  [key: string]: unknown
}

/** Every event published on the namespace's `celeryev` exchange while open. */
export interface EventWatch {
  events: CeleryEvent[]
  close: () => Promise<void>
}

/** The control requests published on the namespace's request channel / exchange while open. */
export interface RequestSpy {
  requests: () => string[]
  close: () => Promise<void>
}

export interface CommandsEnv {
  /** For startWorker and celery(): the broker URL the workers use, and their key prefix. */
  worker: {broker: string; keyPrefix?: string}
  /** Where the workers run, as wfctl flags. */
  main: Namespace
  spy: () => Promise<RequestSpy>
  events: () => Promise<EventWatch>
  close: () => Promise<void>
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** A table line: the cells separated by two or more spaces (or the end of line). */
const row = (...cells: string[]) => new RegExp(`^${cells.join('\\s{2,}')}\\s*$`, 'm')
const WIDE = {env: {COLUMNS: '250'}}

type Stats = {pid: number; prefetch_count: number; pool: {'max-concurrency': number; processes: number[]}; autoscaler?: {max: number; min: number; current: number}; total: Record<string, number>; [k: string]: unknown}

export function commandsSuite(name: string, open: () => Promise<CommandsEnv>): void {
  describe(`${name}: every control and inspect command, and call, against real Celery workers`, {timeout: 300_000}, () => {
    let env: CommandsEnv
    let P: Worker
    let A: Worker
    let E: Worker
    const tok = token()
    // P and A match the pattern `wfc<tok>-*`; E does not.
    const names = {p: `wfc${tok}-p`, a: `wfc${tok}-a`, e: `wfe${tok}-e`}
    const queues = {p: `wfq${tok}-p`, a: `wfq${tok}-a`, e: `wfq${tok}-e`}
    /** The pool process that runs (then is killed with) the sleeping task. */
    let sleeperPid: number | undefined

    before(async () => {
      env = await open()
      const started = await Promise.allSettled([
        startWorker({...env.worker, name: names.p, pool: 'prefork', concurrency: 2, queues: [queues.p]}),
        startWorker({...env.worker, name: names.a, pool: 'prefork', queues: [queues.a], extraArgs: ['--autoscale', '3,1', '-E', 'worker_pool_restarts=True']}),
        startWorker({...env.worker, name: names.e, queues: [queues.e], keep: {heartbeat: true}}),
      ])
      const workers = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined))
      ;[P, A, E] = workers as Worker[]
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) {
        await stopAll(workers)
        throw failed.reason
      }
    })

    after(async () => {
      await stopAll([P, A, E])
      await env?.close()
    })

    // -- helpers (they run once `before` has set env and the workers) --

    /** A wfctl run with a wide terminal, so that no table cell is shortened. */
    const table = (args: string[]) => wf(env.main, args, WIDE)

    async function replyOf(args: string[], node: string, code = 0): Promise<unknown> {
      const run = await wf(env.main, [...args, '--json'])
      assert.equal(run.code, code, show(run))
      const out = json(run)
      assert.ok(node in out.replies, `${node} did not reply\n${show(run)}`)
      return out.replies[node]
    }

    const stats = async (w: Worker) => (await replyOf(['inspect', 'stats', '-d', w.node, '-t', '5'], w.node)) as Stats

    /** What the real `celery inspect METHOD ARGS -d NODE -j` reports for one node. */
    async function celeryInspect(method: string[], node: string): Promise<unknown> {
      const run = await celery(['inspect', ...method, '-d', node, '-j', '-t', '5'], {...env.worker, timeoutMs: 30_000})
      assert.equal(run.code, 0, `celery inspect ${method.join(' ')} failed:\n${run.stdout}\n${run.stderr}`)
      const parsed = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as Record<string, unknown>
      assert.ok(node in parsed, `celery inspect ${method.join(' ')}: ${node} did not reply:\n${run.stdout}`)
      return parsed[node]
    }

    /** Sends a task with the real `celery call`, to one worker's queue; returns its id. */
    async function sendTask(task: string, args: unknown[], queue: string, extra: string[] = []): Promise<string> {
      const run = await celery(['call', task, '--args', JSON.stringify(args), '--queue', queue, ...extra], {...env.worker, timeoutMs: 30_000})
      assert.equal(run.code, 0, `celery call ${task} failed:\n${run.stdout}\n${run.stderr}`)
      const id = run.stdout.trim().split('\n').at(-1)!.trim()
      assert.match(id, /^[0-9a-f-]{36}$/, `celery call printed no task id:\n${run.stdout}`)
      return id
    }

    const activeIds = async (w: Worker) => ((await replyOf(['inspect', 'active', '-d', w.node], w.node)) as {id: string}[]).map((t) => t.id)

    /** A node's stats once `ok` holds for them (the prefork pool starts and reaps processes lazily). */
    async function poolOf(w: Worker, ok: (s: Stats) => boolean, what: string, deadlineMs = 15_000): Promise<Stats> {
      const s = await poll(() => stats(w), ok, deadlineMs, 300)
      assert.ok(ok(s), `${w.node}: ${what} did not happen within ${deadlineMs} ms: pool ${JSON.stringify(s.pool.processes)}, prefetch ${s.prefetch_count}, autoscaler ${JSON.stringify(s.autoscaler)}`)
      return s
    }

    function assertUsageError(run: CliRun, what: string) {
      assert.equal(run.code, 2, `${what}: ${show(run)}`)
      assert.equal(run.stdout, '', `${what}: stdout must be empty\n${show(run)}`)
      const lines = run.stderr.trim().split('\n')
      assert.equal(lines.length, 1, `${what}: stderr is not one line\n${show(run)}`)
      assert.match(lines[0], /^Error: \S/, `${what}: ${show(run)}`)
    }

    // 1. inspect commands that need nothing but the workers

    test('inspect ping: a REPLY table row per destination; --json has every worker pong', async () => {
      const run = await table(['inspect', 'ping', '-d', `${P.node},${A.node}`])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('NODE', 'REPLY'), show(run))
      for (const w of [P, A]) assert.match(run.stdout, row(escape(w.node), 'pong'), show(run))
      assert.ok(!run.stdout.includes(E.node), show(run))
      assert.match(run.stdout, /^2 nodes replied \(\d+ ms\)$/m, show(run))

      const all = await wf(env.main, ['inspect', 'ping', '--expect', '3', '-t', '5', '--json'])
      assert.equal(all.code, 0, show(all))
      assert.deepEqual(json(all).replies, {[P.node]: {ok: 'pong'}, [A.node]: {ok: 'pong'}, [E.node]: {ok: 'pong'}})
      assert.equal(json(all).method, 'ping')
    })

    test('inspect stats: PID is the worker process, POOL and PREFETCH as started; --json has the keys celery reports', async () => {
      const run = await table(['inspect', 'stats', '-d', `${P.node},${A.node},${E.node}`])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('NODE', 'PID', 'UPTIME', 'POOL', 'DONE', 'PREFETCH', 'MAX RSS'), show(run))
      const uptime = '\\d+[smhd]( \\d+[smh])?'
      assert.match(run.stdout, row(escape(P.node), String(P.process.pid), uptime, 'prefork 2', '0', '8', '\\d+ MiB'), show(run))
      // --autoscale 3,1: the pool starts with 1 process, the prefetch count is sized for 3 (x4).
      assert.match(run.stdout, row(escape(A.node), String(A.process.pid), uptime, 'prefork 1 \\(auto 1-3\\)', '0', '12', '\\d+ MiB'), show(run))
      assert.match(run.stdout, row(escape(E.node), String(E.process.pid), uptime, 'solo 1', '0', '\\d+', '\\d+ MiB'), show(run))

      const s = await stats(P)
      assert.equal(s.pid, P.process.pid)
      assert.equal(s.pool['max-concurrency'], 2)
      assert.equal(s.pool.processes.length, 2)
      assert.equal(s.prefetch_count, 8)
      assert.deepEqual(s.total, {})
      const real = (await celeryInspect(['stats'], P.node)) as Stats
      assert.deepEqual(Object.keys(s).sort(), Object.keys(real).sort())
      assert.deepEqual(s.broker, real.broker)
      assert.equal(real.pid, s.pid)
    })

    test('inspect active-queues: a row per queue; --json equals celery inspect active_queues', async () => {
      const run = await table(['inspect', 'active-queues', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('NODE', 'QUEUE', 'EXCHANGE', 'ROUTING KEY'), show(run))
      assert.match(run.stdout, row(escape(P.node), escape(queues.p), `${escape(queues.p)} \\(direct\\)`, escape(queues.p)), show(run))
      const payload = await replyOf(['inspect', 'active-queues', '-d', P.node], P.node)
      assert.deepEqual(payload, await activeQueues(P.node, env.worker))
    })

    test('inspect registered: the task names, shared rows grouped by node; --json equals celery inspect registered', async () => {
      const run = await table(['inspect', 'registered', '-d', `${P.node},${A.node}`])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('TASK', 'ATTRIBUTES', 'NODES'), show(run))
      assert.match(run.stdout, row('wfctl_tasks\\.add', '-', 'all 2'), show(run))
      assert.match(run.stdout, row('wfctl_tasks\\.sleepy', '-', 'all 2'), show(run))
      const payload = await replyOf(['inspect', 'registered', '-d', P.node], P.node)
      assert.deepEqual(payload, ['wfctl_tasks.add', 'wfctl_tasks.sleepy'])
      assert.deepEqual(payload, await celeryInspect(['registered'], P.node))
    })

    test('inspect conf: the settings that differ from the defaults; --json equals celery inspect conf', async () => {
      const run = await table(['inspect', 'conf', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('SETTING', 'VALUE', 'NODES'), show(run))
      assert.match(run.stdout, row('control_exchange', 'celery', escape(P.node)), show(run))
      assert.match(run.stdout, row('worker_hijack_root_logger', 'false', escape(P.node)), show(run))
      const payload = (await replyOf(['inspect', 'conf', '-d', P.node], P.node)) as Record<string, unknown>
      assert.equal(payload.control_exchange, 'celery')
      assert.ok(!('worker_prefetch_multiplier' in payload), 'a default setting was listed without --with-defaults')
      assert.deepEqual(payload, await celeryInspect(['conf'], P.node))
    })

    test(
      "inspect conf --with-defaults: every setting, many more than without; Python's Infinity arrives as a string",
      async () => {
        const without = (await replyOf(['inspect', 'conf', '-d', P.node], P.node)) as Record<string, unknown>
        const run = await wf(env.main, ['inspect', 'conf', '--with-defaults', '-d', P.node, '--json'])
        assert.deepEqual(json(run).undecodable, [], show(run))
        assert.equal(run.code, 0, show(run))
        const all = json(run).replies[P.node] as Record<string, unknown>
        assert.ok(Object.keys(all).length > Object.keys(without).length + 100, `${Object.keys(all).length} settings with defaults`)
        assert.equal(all.worker_prefetch_multiplier, 4)
        assert.equal(all.control_exchange, 'celery')
        assert.equal(all.result_backend_max_retries, 'Infinity')
      },
    )

    test('inspect clock: the Lamport clock as a number, moving forward', async () => {
      const run = await table(['inspect', 'clock', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('NODE', 'CLOCK'), show(run))
      const shown = new RegExp(`^${escape(P.node)}\\s+(\\d+)\\s*$`, 'm').exec(run.stdout)
      assert.ok(shown, show(run))
      const payload = (await replyOf(['inspect', 'clock', '-d', P.node], P.node)) as {clock: number}
      assert.deepEqual(Object.keys(payload), ['clock'])
      assert.equal(typeof payload.clock, 'number')
      assert.ok(payload.clock > Number(shown[1]), `the clock went from ${shown[1]} to ${payload.clock}`)
    })

    test('inspect report: a block per node with the bug report; --json equals celery inspect report', async () => {
      const run = await table(['inspect', 'report', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, new RegExp(`^── ${escape(P.node)}$`, 'm'), show(run))
      assert.match(run.stdout, /^software -> celery:5\.2\.6 /m, show(run))
      const payload = (await replyOf(['inspect', 'report', '-d', P.node], P.node)) as {ok: string}
      assert.match(payload.ok, /^\s*software -> celery:5\.2\.6 /)
      assert.deepEqual(payload, await celeryInspect(['report'], P.node))
    })

    test('inspect memsample and memdump: a row / a block per node; --json as the worker sent it', async () => {
      const sample = await table(['inspect', 'memsample', '-d', P.node])
      assert.equal(sample.code, 0, show(sample))
      const sampled = await replyOf(['inspect', 'memsample', '-d', P.node], P.node)
      // Without psutil on the worker (Debian's python3-celery does not pull it in) the sample is null.
      assert.ok(sampled === null || typeof sampled === 'string', JSON.stringify(sampled))
      const memory = sampled === null ? 'n/a \\(psutil is not installed on the worker\\)' : escape(sampled as string)
      assert.match(sample.stdout, row(escape(P.node), memory), show(sample))

      const dump = await table(['inspect', 'memdump', '--samples', '3', '-d', P.node])
      assert.equal(dump.code, 0, show(dump))
      assert.match(dump.stdout, new RegExp(`^── ${escape(P.node)}$`, 'm'), show(dump))
      const dumped = await replyOf(['inspect', 'memdump', '--samples', '3', '-d', P.node], P.node)
      assert.equal(typeof dumped, 'string')
      assert.match(dumped as string, /rss/)
      assert.ok(dump.stdout.includes((dumped as string).trim()), show(dump))
    })

    test('inspect objgraph without the objgraph library on the worker: ImportError reply, ERROR, exit 1', async () => {
      const run = await table(['inspect', 'objgraph', '-d', P.node])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, row(escape(P.node), 'ERROR', escape("ImportError('Requires the objgraph library')")), show(run))
      assert.match(run.stdout, new RegExp(`^1 node replied, 1 error: ${escape(P.node)} \\(\\d+ ms\\)$`, 'm'), show(run))
      const asJson = await wf(env.main, ['inspect', 'objgraph', '-d', P.node, '--json'])
      assert.equal(asJson.code, 1, show(asJson))
      assert.deepEqual(json(asJson).replies, {[P.node]: {error: "ImportError('Requires the objgraph library')"}})
      assert.deepEqual(json(asJson).errors, {[P.node]: "ImportError('Requires the objgraph library')"})
    })

    test('inspect reserved with nothing prefetched: "no reserved tasks", --json an empty list per node', async () => {
      const run = await table(['inspect', 'reserved', '-d', `${P.node},${A.node}`])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, /^no reserved tasks \(2 nodes\)$/m, show(run))
      const asJson = await wf(env.main, ['inspect', 'reserved', '-d', `${P.node},${A.node}`, '--json'])
      assert.equal(asJson.code, 0, show(asJson))
      assert.deepEqual(json(asJson).replies, {[P.node]: [], [A.node]: []})
    })

    // 2. a task running on P: active, query-task, revoke, revoked, terminate

    describe('a task sleeping on the prefork worker', () => {
      let id: string
      let killed = false

      before(async () => {
        id = await sendTask('wfctl_tasks.sleepy', [60], queues.p)
        const ids = await poll(() => activeIds(P), (ids) => ids.includes(id), 15_000, 200)
        assert.ok(ids.includes(id), `the task ${id} never became active on ${P.node}`)
      })

      after(async () => {
        // A warm shutdown would wait the minute out: kill the task if a test left it running.
        if (!killed && id) await wf(env.main, ['control', 'terminate', 'KILL', id, '-d', P.node, '--yes']).catch(() => {})
      })

      test('inspect active: the id and task name in the table; --json is the payload celery reports', async () => {
        const run = await table(['inspect', 'active', '-d', P.node])
        assert.equal(run.code, 0, show(run))
        assert.match(run.stdout, row('NODE', 'ID', 'TASK', 'ARGS', 'STARTED'), show(run))
        assert.match(run.stdout, row(escape(P.node), id, 'wfctl_tasks\\.sleepy', '60', '\\d+[smhd] ago'), show(run))
        const payload = (await replyOf(['inspect', 'active', '-d', P.node], P.node)) as Record<string, unknown>[]
        assert.equal(payload.length, 1, JSON.stringify(payload))
        const [task] = payload
        assert.equal(task.id, id)
        assert.equal(task.name, 'wfctl_tasks.sleepy')
        assert.deepEqual(task.args, [60])
        assert.equal(task.hostname, P.node)
        assert.equal(task.acknowledged, true)
        sleeperPid = task.worker_pid as number
        // The task runs in one of P's pool processes.
        assert.ok((await stats(P)).pool.processes.includes(task.worker_pid as number), `worker_pid ${task.worker_pid} is not in ${P.node}'s pool`)
        assert.deepEqual(payload, await celeryInspect(['active'], P.node))
        // --safe: the arguments as the repr strings the client sent.
        const safe = (await replyOf(['inspect', 'active', '--safe', '-d', P.node], P.node)) as Record<string, unknown>[]
        assert.equal(safe[0].args, '[60]')
      })

      test('inspect query-task ID UNKNOWN: the task is active on P, the unknown id is listed as unknown', async () => {
        const unknown = `unknown-${token()}`
        const run = await table(['inspect', 'query-task', id, unknown, '-d', P.node])
        assert.equal(run.code, 0, show(run))
        assert.match(run.stdout, row('NODE', 'ID', 'STATE', 'TASK', 'ARGS'), show(run))
        assert.match(run.stdout, row(escape(P.node), id, 'active', 'wfctl_tasks\\.sleepy', '60'), show(run))
        assert.match(run.stdout, row('-', unknown, 'unknown', '-', '-'), show(run))
        const payload = (await replyOf(['inspect', 'query-task', id, unknown, '-d', P.node], P.node)) as Record<string, [string, Record<string, unknown>]>
        assert.deepEqual(Object.keys(payload), [id])
        assert.equal(payload[id][0], 'active')
        assert.equal(payload[id][1].id, id)
        assert.equal(payload[id][1].name, 'wfctl_tasks.sleepy')
      })

      test('control revoke ID: flagged as revoked, inspect revoked lists it; the running task goes on', async () => {
        const run = await table(['control', 'revoke', id, '-d', P.node])
        assert.equal(run.code, 0, show(run))
        assert.match(run.stdout, row(escape(P.node), 'OK', '\\d+ ms', `tasks ${id} flagged as revoked`), show(run))
        const revoked = await table(['inspect', 'revoked', '-d', `${P.node},${A.node}`])
        assert.equal(revoked.code, 0, show(revoked))
        assert.match(revoked.stdout, row('NODE', 'REVOKED', 'IDS'), show(revoked))
        assert.match(revoked.stdout, row(escape(P.node), '1', id), show(revoked))
        assert.match(revoked.stdout, row(escape(A.node), '0', '-'), show(revoked))
        assert.deepEqual(await replyOf(['inspect', 'revoked', '-d', P.node], P.node), [id])
        // Without --terminate a running task is not stopped.
        assert.ok((await activeIds(P)).includes(id), `${id} stopped on a plain revoke`)
      })

      test('control terminate without --yes and without a terminal: exit 2, nothing sent, the task still runs; --dry-run sends nothing', async () => {
        const spy = await env.spy()
        try {
          assertUsageError(await wf(env.main, ['control', 'terminate', 'KILL', id, '-d', P.node]), 'terminate without --yes')
          assertUsageError(await wf(env.main, ['control', 'revoke', id, '--terminate', '--signal', 'KILL', '-d', P.node]), 'revoke --terminate without --yes')
          const dry = await wf(env.main, ['control', 'terminate', 'KILL', id, '-d', P.node, '--dry-run', '--json'])
          assert.equal(dry.code, 0, show(dry))
          const out = json(dry)
          assert.equal(out.dryRun, true)
          assert.equal(out.body.method, 'terminate')
          assert.deepEqual(out.body.arguments, {signal: 'KILL', task_id: [id]})
          assert.deepEqual(out.body.destination, [P.node])
          await settle()
          assert.deepEqual(spy.requests(), [])
        } finally {
          await spy.close()
        }
        assert.ok((await activeIds(P)).includes(id), `${id} is no longer active`)
      })

      test('control terminate KILL ID --yes -d NODE: the task leaves inspect active, and is listed as revoked', async () => {
        const run = await wf(env.main, ['control', 'terminate', 'KILL', id, '--yes', '-d', P.node, '--json'])
        assert.equal(run.code, 0, show(run))
        assert.deepEqual(json(run).replies, {[P.node]: {ok: `terminate: ${id}`}})
        killed = true
        const ids = await poll(() => activeIds(P), (ids) => !ids.includes(id), 10_000, 200)
        assert.ok(!ids.includes(id), `${id} is still active after terminate KILL`)
        assert.ok(((await replyOf(['inspect', 'revoked', '-d', P.node], P.node)) as string[]).includes(id))
        // Nothing left to terminate: Celery says so, as a success.
        const again = await wf(env.main, ['control', 'terminate', 'KILL', id, '--yes', '-d', P.node, '--json'])
        assert.equal(again.code, 0, show(again))
        assert.deepEqual(json(again).replies, {[P.node]: {ok: 'terminate: tasks unknown'}})
      })
    })

    // 3. a task for later

    test('inspect scheduled: a countdown task shows with its id and ETA; --json as celery reports it', async () => {
      const id = await sendTask('wfctl_tasks.add', [2, 3], queues.p, ['--countdown', '600'])
      type Scheduled = {eta: string; priority: number; request: {id: string; name: string; args: unknown}}
      const list = await poll(async () => (await replyOf(['inspect', 'scheduled', '-d', P.node], P.node)) as Scheduled[], (l) => l.some((s) => s.request.id === id), 10_000, 200)
      const entry = list.find((s) => s.request.id === id)
      assert.ok(entry, `${id} never showed in scheduled: ${JSON.stringify(list)}`)
      assert.equal(entry.request.name, 'wfctl_tasks.add')
      assert.deepEqual(entry.request.args, [2, 3])
      const due = Date.parse(entry.eta)
      assert.ok(Math.abs(due - (Date.now() + 600_000)) < 60_000, `ETA ${entry.eta} is not 10 minutes away`)
      // The ETA string (and the rest) exactly as the worker reports it to celery.
      const real = (await celeryInspect(['scheduled'], P.node)) as Scheduled[]
      assert.deepEqual(entry, real.find((s) => s.request.id === id))

      const run = await table(['inspect', 'scheduled', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('NODE', 'ID', 'TASK', 'ARGS', 'ETA'), show(run))
      assert.match(run.stdout, row(escape(P.node), id, 'wfctl_tasks\\.add', '2, 3', 'in (9|10)m'), show(run))
    })

    // 4. the pool

    test('control pool-grow, call pool_grow and pool-shrink: the pool processes and the prefetch count follow', async () => {
      // Back to 2 processes once the killed task's process has been replaced.
      const base = await poolOf(P, (s) => s.pool.processes.length === 2 && !s.pool.processes.includes(sleeperPid ?? -1), 'a pool of 2 without the killed process')
      const run = await table(['control', 'pool-grow', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row(escape(P.node), 'OK', '\\d+ ms', 'pool will grow'), show(run))
      const grown = await poolOf(P, (s) => s.pool.processes.length === 3, 'growing to 3 processes')
      // The prefetch count grows by the multiplier (4) per process.
      assert.equal(grown.prefetch_count, base.prefetch_count + 4)
      for (const pid of base.pool.processes) assert.ok(grown.pool.processes.includes(pid), 'a process was replaced instead of added')

      assert.deepEqual(await replyOf(['call', 'pool_grow', 'n=1', '-d', P.node], P.node), {ok: 'pool will grow'})
      const four = await poolOf(P, (s) => s.pool.processes.length === 4, 'growing to 4 processes')
      assert.equal(four.prefetch_count, base.prefetch_count + 8)

      assert.deepEqual(await replyOf(['control', 'pool-shrink', '2', '-d', P.node], P.node), {ok: 'pool will shrink'})
      const shrunk = await poolOf(P, (s) => s.pool.processes.length === 2, 'shrinking to 2 processes')
      assert.equal(shrunk.prefetch_count, base.prefetch_count)
    })

    test('control pool-grow on a worker started with --autoscale: error reply, exit 1', async () => {
      const run = await table(['control', 'pool-grow', '-d', A.node])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, row(escape(A.node), 'ERROR', '\\d+ ms', 'pool_grow is not supported with autoscale\\. Adjust autoscale range instead\\.'), show(run))
    })

    test('control autoscale 4 2: the autoscaler range, the pool and the prefetch count follow; without --autoscale: "Autoscale not enabled", exit 1', async () => {
      const before = await stats(A)
      assert.deepEqual(before.autoscaler, {max: 3, min: 1, current: 1, qty: 0})
      assert.equal(before.prefetch_count, 12)
      assert.deepEqual(await replyOf(['control', 'autoscale', '4', '2', '-d', A.node], A.node), {ok: 'autoscale now max=4 min=2'})
      const after = await poolOf(A, (s) => s.pool.processes.length === 2, 'growing to the new minimum of 2 processes')
      assert.deepEqual(after.autoscaler, {max: 4, min: 2, current: 2, qty: 0})
      // The prefetch count follows the new maximum (4 x 4); stats' max-concurrency stays what the pool started with.
      assert.equal(after.prefetch_count, 16)
      assert.equal(after.pool['max-concurrency'], before.pool['max-concurrency'])

      const refused = await table(['control', 'autoscale', '4', '2', '-d', P.node])
      assert.equal(refused.code, 1, show(refused))
      assert.match(refused.stdout, row(escape(P.node), 'ERROR', '\\d+ ms', escape("ValueError('Autoscale not enabled')")), show(refused))
      assert.match(refused.stdout, new RegExp(`^1 node replied, 1 error: ${escape(P.node)} \\(\\d+ ms\\)$`, 'm'), show(refused))
    })

    test('control pool-restart --yes: "reload started" and a pool process is replaced; without worker_pool_restarts: an error, exit 1', async () => {
      const before = await poolOf(A, (s) => s.pool.processes.length === 2, 'a pool of 2')
      const run = await table(['control', 'pool-restart', '--yes', '-d', A.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row(escape(A.node), 'OK', '\\d+ ms', 'reload started'), show(run))
      // Celery's prefork restart flags every process, then wakes one with a no-op job: that one is
      // replaced at once, the idle others only when they next get work.
      const replaced = (s: Stats) => s.pool.processes.length === 2 && s.pool.processes.some((pid) => !before.pool.processes.includes(pid))
      const after = await poolOf(A, replaced, 'a pool process replaced')
      assert.equal(after.pid, before.pid)

      const refused = await wf(env.main, ['control', 'pool-restart', '--yes', '-d', P.node, '--json'])
      assert.equal(refused.code, 1, show(refused))
      assert.deepEqual(json(refused).errors, {[P.node]: "ValueError('Pool restarts not enabled')"})
    })

    // 5. rate and time limits

    test('control rate-limit TASK 10/m -d NODE: inspect registered rate_limit shows it on that node only, as celery does; 0 disables it', async () => {
      assert.deepEqual(await replyOf(['control', 'rate-limit', 'wfctl_tasks.add', '10/m', '-d', P.node], P.node), {ok: 'new rate limit set successfully'})
      const run = await table(['inspect', 'registered', 'rate_limit', '-d', `${P.node},${A.node}`])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row('wfctl_tasks\\.add', 'rate_limit=10/m', escape(P.node)), show(run))
      assert.match(run.stdout, row('wfctl_tasks\\.add', '-', escape(A.node)), show(run))
      const limited = await replyOf(['inspect', 'registered', 'rate_limit', '-d', P.node], P.node)
      assert.deepEqual(limited, ['wfctl_tasks.add [rate_limit=10/m]', 'wfctl_tasks.sleepy'])
      assert.deepEqual(limited, await celeryInspect(['registered', 'rate_limit'], P.node))

      const off = await table(['control', 'rate-limit', 'wfctl_tasks.add', '0', '-d', P.node])
      assert.equal(off.code, 0, show(off))
      assert.match(off.stdout, row(escape(P.node), 'OK', '\\d+ ms', 'rate limit disabled successfully'), show(off))
      assert.deepEqual(await replyOf(['inspect', 'registered', 'rate_limit', '-d', P.node], P.node), ['wfctl_tasks.add', 'wfctl_tasks.sleepy'])
    })

    test('control rate-limit for a task the worker does not know: ERROR "unknown task", exit 1', async () => {
      const run = await table(['control', 'rate-limit', 'wfctl_tasks.nope', '5/s', '-d', P.node])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, row(escape(P.node), 'ERROR', '\\d+ ms', 'unknown task'), show(run))
      const asJson = await wf(env.main, ['control', 'rate-limit', 'wfctl_tasks.nope', '5/s', '-d', P.node, '--json'])
      assert.equal(asJson.code, 1, show(asJson))
      assert.deepEqual(json(asJson).errors, {[P.node]: 'unknown task'})
    })

    test('control rate-limit --dry-run: prints the request, publishes nothing, the limit is unchanged', async () => {
      const spy = await env.spy()
      try {
        const dry = await wf(env.main, ['control', 'rate-limit', 'wfctl_tasks.add', '7/m', '-d', P.node, '--dry-run'])
        assert.equal(dry.code, 0, show(dry))
        assert.match(dry.stdout, /^dry run: nothing was sent$/m, show(dry))
        assert.match(dry.stdout, /"method": "rate_limit"/, show(dry))
        assert.match(dry.stdout, /"rate_limit": "7\/m"/, show(dry))
        await settle()
        assert.deepEqual(spy.requests(), [])
      } finally {
        await spy.close()
      }
      assert.deepEqual(await replyOf(['inspect', 'registered', 'rate_limit', '-d', P.node], P.node), ['wfctl_tasks.add', 'wfctl_tasks.sleepy'])
    })

    test('control time-limit TASK 10 20: inspect registered time_limit soft_time_limit shows them', async () => {
      const run = await table(['control', 'time-limit', 'wfctl_tasks.add', '10', '20', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row(escape(P.node), 'OK', '\\d+ ms', 'time limits set successfully'), show(run))
      const shown = await table(['inspect', 'registered', 'time_limit', 'soft_time_limit', '-d', P.node])
      assert.equal(shown.code, 0, show(shown))
      assert.match(shown.stdout, row('wfctl_tasks\\.add', 'time_limit=20 soft_time_limit=10', escape(P.node)), show(shown))
      assert.match(shown.stdout, row('wfctl_tasks\\.sleepy', '-', escape(P.node)), show(shown))
      const payload = await replyOf(['inspect', 'registered', 'time_limit', 'soft_time_limit', '-d', P.node], P.node)
      assert.deepEqual(payload, ['wfctl_tasks.add [time_limit=20 soft_time_limit=10]', 'wfctl_tasks.sleepy'])
    })

    // 6. events

    test('enable-events / disable-events on a worker with heartbeats and without -E: enabled, then already; task events start and stop', async () => {
      const watch = await env.events()
      try {
        const taskEvents = (id: string) => watch.events.filter((e) => e.uuid === id && e.type.startsWith('task-'))
        const on = await table(['control', 'enable-events', '-d', E.node])
        assert.equal(on.code, 0, show(on))
        assert.match(on.stdout, row(escape(E.node), 'OK', '\\d+ ms', 'task events enabled'), show(on))
        assert.deepEqual(await replyOf(['control', 'enable-events', '-d', E.node], E.node), {ok: 'task events already enabled'})
        const first = await sendTask('wfctl_tasks.add', [1, 1], queues.e)
        await poll(async () => taskEvents(first), (l) => l.some((e) => e.type === 'task-succeeded'), 10_000, 100)
        assert.deepEqual(taskEvents(first).map((e) => e.hostname), taskEvents(first).map(() => E.node))
        assert.ok(taskEvents(first).some((e) => e.type === 'task-succeeded'), `no task-succeeded event for ${first}: ${JSON.stringify(watch.events.map((e) => e.type))}`)

        assert.deepEqual(await replyOf(['control', 'disable-events', '-d', E.node], E.node), {ok: 'task events disabled'})
        assert.deepEqual(await replyOf(['control', 'disable-events', '-d', E.node], E.node), {ok: 'task events already disabled'})
        const second = await sendTask('wfctl_tasks.add', [2, 2], queues.e)
        const done = await poll(() => stats(E), (s) => s.total['wfctl_tasks.add'] === 2, 10_000, 200)
        assert.equal(done.total['wfctl_tasks.add'], 2, `the second task did not run: ${JSON.stringify(done.total)}`)
        await sleep(500)
        assert.deepEqual(taskEvents(second), [], 'task events were sent after disable-events')
        // worker-* events go on (a heartbeat every 2 s).
        const beats = await poll(async () => watch.events.filter((e) => e.type === 'worker-heartbeat' && e.hostname === E.node), (l) => l.length > 0, 5000, 100)
        assert.ok(beats.length > 0, `no worker-heartbeat from ${E.node} after disable-events`)
      } finally {
        await watch.close()
      }
    })

    test('enable-events / disable-events on a worker started with -E: "already enabled" and "already disabled" (it sends every group)', async () => {
      assert.deepEqual(await replyOf(['control', 'enable-events', '-d', A.node], A.node), {ok: 'task events already enabled'})
      assert.deepEqual(await replyOf(['control', 'disable-events', '-d', A.node], A.node), {ok: 'task events already disabled'})
    })

    test('control heartbeat: replies null (exit 0), and the worker sends a worker-heartbeat event at once', async () => {
      const watch = await env.events()
      try {
        const run = await table(['control', 'heartbeat', '-d', E.node])
        assert.equal(run.code, 0, show(run))
        assert.match(run.stdout, row(escape(E.node), 'OK', '\\d+ ms', 'null'), show(run))
        // The requested heartbeat says freq 5; the periodic ones say 2.
        const fromE = await poll(async () => watch.events.filter((e) => e.hostname === E.node && e.type === 'worker-heartbeat' && e.freq === 5), (l) => l.length > 0, 5000, 50)
        assert.equal(fromE.length, 1, `no requested heartbeat from ${E.node}: ${JSON.stringify(watch.events)}`)

        // A sends no periodic heartbeats (--without-heartbeat), but it has a dispatcher (-E).
        const asJson = await wf(env.main, ['control', 'heartbeat', '-d', A.node, '--json'])
        assert.equal(asJson.code, 0, show(asJson))
        assert.deepEqual(json(asJson).replies, {[A.node]: null})
        assert.deepEqual(json(asJson).errors, {})
        const fromA = await poll(async () => watch.events.filter((e) => e.hostname === A.node && e.type === 'worker-heartbeat'), (l) => l.length > 0, 5000, 50)
        assert.equal(fromA.length, 1, `no heartbeat from ${A.node}: ${JSON.stringify(watch.events)}`)
        assert.equal(fromA[0].freq, 5)
      } finally {
        await watch.close()
      }
    })

    test('enable-events and heartbeat on a worker without an event dispatcher: the AttributeError reply, exit 1', async () => {
      const on = await table(['control', 'enable-events', '-d', P.node])
      assert.equal(on.code, 1, show(on))
      assert.match(on.stdout, row(escape(P.node), 'ERROR', '\\d+ ms', escape(`AttributeError("'NoneType' object has no attribute 'groups'")`)), show(on))
      const beat = await wf(env.main, ['control', 'heartbeat', '-d', P.node, '--json'])
      assert.equal(beat.code, 1, show(beat))
      assert.deepEqual(json(beat).errors, {[P.node]: `AttributeError("'NoneType' object has no attribute 'send'")`})
    })

    // 7. call

    test('call ping: the inspect ping table; --json', async () => {
      const run = await table(['call', 'ping', '-d', P.node])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stdout, row(escape(P.node), 'pong'), show(run))
      const asJson = await wf(env.main, ['call', 'ping', '-d', `${P.node},${A.node}`, '--json'])
      assert.equal(asJson.code, 0, show(asJson))
      assert.equal(json(asJson).method, 'ping')
      assert.deepEqual(Object.keys(json(asJson).replies).sort(), [A.node, P.node].sort())
    })

    test('call rate_limit --args JSON sets the limit (seen in registered); KEY=VALUE null disables it', async () => {
      const args = JSON.stringify({task_name: 'wfctl_tasks.add', rate_limit: '5/s'})
      assert.deepEqual(await replyOf(['call', 'rate_limit', '--args', args, '-d', P.node], P.node), {ok: 'new rate limit set successfully'})
      const run = await table(['inspect', 'registered', 'rate_limit', '-d', P.node])
      assert.match(run.stdout, row('wfctl_tasks\\.add', 'rate_limit=5/s', escape(P.node)), show(run))
      assert.deepEqual(await replyOf(['call', 'rate_limit', 'task_name=wfctl_tasks.add', 'rate_limit=null', '-d', P.node], P.node), {ok: 'rate limit disabled successfully'})
      assert.deepEqual(await replyOf(['inspect', 'registered', 'rate_limit', '-d', P.node], P.node), ['wfctl_tasks.add', 'wfctl_tasks.sleepy'])
    })

    test('call a method the workers do not know: the KeyError reply, ERROR, exit 1', async () => {
      const method = `wf_custom_${tok}`
      const run = await table(['call', method, 'level=debug', '-d', P.node])
      assert.equal(run.code, 1, show(run))
      assert.match(run.stdout, row(escape(P.node), 'ERROR', '\\d+ ms', escape(`KeyError('${method}')`)), show(run))
      const asJson = await wf(env.main, ['call', method, '-d', P.node, '--json'])
      assert.equal(asJson.code, 1, show(asJson))
      assert.deepEqual(json(asJson).replies, {[P.node]: {error: `KeyError('${method}')`}})
    })

    // 8. --pattern

    test('--pattern: inspect stats reaches only the workers whose name matches; a control command too', async () => {
      const run = await wf(env.main, ['inspect', 'stats', '--pattern', `wfc${tok}-*`, '-t', '1', '--json'])
      assert.equal(run.code, 0, show(run))
      assert.deepEqual(Object.keys(json(run).replies).sort(), [A.node, P.node].sort())
      assert.equal((json(run).replies[P.node] as Stats).pid, P.process.pid)
      const beat = await wf(env.main, ['control', 'heartbeat', '--pattern', `wfe${tok}-*`, '--expect', '1', '-t', '5', '--json'])
      assert.equal(beat.code, 0, show(beat))
      assert.deepEqual(json(beat).replies, {[E.node]: null})
    })

    // 9. bad arguments and unconfirmed destructive requests

    test('bad arguments and unconfirmed destructive requests: exit 2, one line on stderr, nothing published', async () => {
      const cases: [string, string[]][] = [
        ['a rate per day', ['control', 'rate-limit', 'wfctl_tasks.add', '5/d', '-d', P.node]],
        ['a signal that is not a signal', ['control', 'terminate', 'FOO', 'some-id', '-d', P.node]],
        ['pool-grow 0', ['control', 'pool-grow', '0', '-d', P.node]],
        ['autoscale MAX below MIN', ['control', 'autoscale', '1', '4', '-d', A.node]],
        ['revoke without an id', ['control', 'revoke', '-d', P.node]],
        ['query-task without an id', ['inspect', 'query-task', '-d', P.node]],
        ['memdump --samples x', ['inspect', 'memdump', '--samples', 'x', '-d', P.node]],
        ['time-limit SOFT above HARD', ['control', 'time-limit', 'wfctl_tasks.add', '20', '10', '-d', P.node]],
        ['call election', ['call', 'election', '-d', P.node]],
        ['call shutdown without --yes', ['call', 'shutdown', '-d', P.node]],
        ['pool-shrink to several nodes without --yes', ['control', 'pool-shrink', '-d', `${P.node},${A.node}`]],
        ['autoscale to several nodes without --yes', ['control', 'autoscale', '4', '2', '-d', `${P.node},${A.node}`]],
        ['pool-restart without --yes', ['control', 'pool-restart', '-d', A.node]],
      ]
      const spy = await env.spy()
      try {
        // Nothing here connects or publishes: a few at a time.
        for (let i = 0; i < cases.length; i += 4) {
          const batch = cases.slice(i, i + 4)
          const runs = await Promise.all(batch.map(([, args]) => wf(env.main, args)))
          runs.forEach((run, j) => assertUsageError(run, batch[j][0]))
        }
        await settle()
        assert.deepEqual(spy.requests(), [])
        // The spy does see a request that is sent.
        const ping = await wf(env.main, ['control', 'ping', '-d', P.node])
        assert.equal(ping.code, 0, show(ping))
        await poll(async () => spy.requests(), (r) => r.length > 0, 5000, 50)
        assert.equal(spy.requests().length, 1, `the spy saw ${JSON.stringify(spy.requests())}`)
      } finally {
        await spy.close()
      }
      // call shutdown was not sent: P still answers.
      assert.deepEqual(await replyOf(['control', 'ping', '-d', P.node], P.node), {ok: 'pong'})
    })

    test('after everything, every worker still answers', async () => {
      const run = await wf(env.main, ['control', 'ping', '--expect', `${P.node},${A.node},${E.node}`, '-t', '5', '--json'])
      assert.equal(run.code, 0, show(run))
    })
  })
}
