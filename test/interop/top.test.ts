// `wfctl top` against real Celery workers that beat every second, on Redis and on RabbitMQ: the
// --once --json snapshot with live counts and a queue nobody consumes; a worker killed with SIGKILL
// turning offline in the live view within 2 x freq + 1 s; and the live view driven in a real 80x24
// terminal (tmux): rows, the filter, the detail pane, a pool grow checked with the real celery CLI,
// q (exit 0), and nothing left in the broker.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {createVhost, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {json} from '../helpers/cli.js'
import {Terminal} from '../helpers/tmux.js'
import {amqpNamespace, deleteKeysWithPrefix, poll, show, sleep, stopAll, wf, type Namespace} from './support.js'

const DB = 11
/** The workers' heartbeat interval (--heartbeat-interval), in seconds. */
const FREQ = 1

interface Space {
  kind: 'redis' | 'amqp'
  worker: {broker: string; keyPrefix?: string}
  ns: Namespace
  close: () => Promise<void>
}

async function redisSpace(): Promise<Space> {
  const prefix = `wfctl-top-${token()}:`
  const redis = redisClient(DB)
  return {
    kind: 'redis',
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    ns: {label: `Redis DB ${DB} prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
}

async function amqpSpace(): Promise<Space> {
  const vhost = await createVhost('wfctl-top')
  const ns = await amqpNamespace(vhost)
  return {
    kind: 'amqp',
    worker: {broker: vhost.url},
    ns,
    close: async () => {
      await ns.close()
      await vhost.remove()
    },
  }
}

/** Sends `wfctl_tasks.add` to a queue with the real `celery call`. */
async function send(space: Space, queue: string): Promise<void> {
  const run = await celery(['call', 'wfctl_tasks.add', '--args', '[1, 2]', '--queue', queue], {...space.worker, timeoutMs: 30_000})
  assert.equal(run.code, 0, `celery call failed:\n${run.stdout}\n${run.stderr}`)
}

/** The pool of a node as the real `celery inspect stats` reports it. */
async function poolOf(space: Space, node: string): Promise<{processes: number[]; 'max-concurrency': number}> {
  const run = await celery(['inspect', 'stats', '-d', node, '-j', '-t', '5'], {...space.worker, timeoutMs: 30_000})
  assert.equal(run.code, 0, `celery inspect stats failed:\n${run.stdout}\n${run.stderr}`)
  return (JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as Record<string, {pool: {processes: number[]; 'max-concurrency': number}}>)[node].pool
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

async function press(term: Terminal, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    term.keys(key)
    await sleep(40)
  }
}

type JsonWorker = {node: string; online: boolean; state: string; active: number | null; processed: number | null; loadavg: number[] | null; freq: number | null; heartbeatAgeSeconds: number | null; swVer: string | null}
type JsonQueue = {name: string; messages: number | null; consumers: number | null}

for (const open of [redisSpace, amqpSpace]) {
  const label = open === redisSpace ? 'Redis' : 'RabbitMQ'
  describe(`wfctl top against real workers (${label})`, {timeout: 240_000}, () => {
    let space: Space
    let busy: Worker
    let grows: Worker
    const tok = token()
    const consumed = `tq${tok}`
    const idle = `ti${tok}`

    before(async () => {
      space = await open()
      const started = await Promise.allSettled([
        startWorker({...space.worker, name: `a${tok}`, queues: [consumed], keep: {heartbeat: FREQ}}),
        startWorker({...space.worker, name: `b${tok}`, pool: 'prefork', concurrency: 1, keep: {heartbeat: FREQ}}),
      ])
      ;[busy, grows] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as Worker[]
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) throw failed.reason
    })
    after(async () => {
      await stopAll([busy, grows])
      await space?.close()
    })

    test('top --once --json: every worker of the test online with live counts, and a queue nobody consumes with its depth', async () => {
      for (let i = 0; i < 3; i++) await send(space, consumed)
      await send(space, idle)
      // The counts are live: the processed count of the busy worker's heartbeats catches up with what it ran.
      let last = ''
      const out = await poll(async () => {
        const run = await wf(space.ns, ['top', '--once', '--json', '--queue', idle, '--queue', consumed])
        last = show(run)
        assert.equal(run.code, 0, last)
        return json(run) as {workers: JsonWorker[]; queues: JsonQueue[]}
      }, (o) => (o.workers.find((w) => w.node === busy.node)?.processed ?? 0) >= 3 && o.queues.find((q) => q.name === idle)?.messages === 1, 30_000, 200)
      const a = out.workers.find((w) => w.node === busy.node)
      const b = out.workers.find((w) => w.node === grows.node)
      assert.ok(a && b, `both workers listed:\n${last}`)
      for (const w of [a, b]) {
        assert.deepEqual(Object.keys(w).sort(), ['active', 'freq', 'heartbeatAgeSeconds', 'loadavg', 'node', 'online', 'processed', 'state', 'swVer'])
        assert.equal(w.online, true, last)
        assert.equal(w.state, 'online')
        assert.equal(w.freq, FREQ)
        assert.equal(w.active, 0)
        assert.match(w.swVer ?? '', /^\d+\.\d+/)
        assert.equal(w.loadavg?.length, 3)
        assert.equal(typeof w.heartbeatAgeSeconds, 'number')
      }
      assert.ok(a.processed! >= 3, last)
      assert.equal(b.processed, 0)
      assert.deepEqual(out.queues.find((q) => q.name === idle), {name: idle, messages: 1, consumers: 0})
      assert.deepEqual(out.queues.find((q) => q.name === consumed), {name: consumed, messages: 0, consumers: 1})
    })

    test('a worker killed with SIGKILL turns offline in the live view within 2 x freq + 1 s; Ctrl-C leaves (exit 130, nothing left)', async () => {
      const doomed = await startWorker({...space.worker, name: `k${tok}`, keep: {heartbeat: FREQ}})
      const term = new Terminal(['top', ...space.ns.flags])
      try {
        await term.waitFor(new RegExp(`${escape(doomed.node)}\\s+online`), 15_000)
        doomed.process.kill('SIGKILL')
        // A deadline, not a measurement: Celery's rule says offline after 2 x freq without a heartbeat.
        const screen = await term.waitFor(new RegExp(`${escape(doomed.node)}\\s+offline`), (2 * FREQ + 1) * 1000)
        assert.match(screen, new RegExp(`${escape(busy.node)}\\s+online`), 'the others stay online')
        assert.match(screen, /1 offline/)
        term.keys('C-c')
        await term.waitFor(/EXIT=130/)
        assert.deepEqual(await space.ns.leftovers(), [])
      } finally {
        term.close()
        await doomed.stop()
      }
    })

    test('a closed terminal (SIGHUP) ends the live view cleanly: exit 130, nothing left in the broker', async () => {
      const term = new Terminal(['top', ...space.ns.flags])
      try {
        await term.waitFor(new RegExp(`${escape(busy.node)}\\s+online`), 15_000)
        // The reply route of the ping at start is open while the view runs; the detail pane uses it too.
        await press(term, 'Enter')
        await term.waitFor(/Stats:\n {2}pool:/)
        const pid = term.wfctlPid()
        process.kill(pid, 'SIGHUP')
        await term.waitFor(/EXIT=130/)
        assert.deepEqual(await space.ns.leftovers(), [])
      } finally {
        term.close()
      }
    })

    test('the live view in a terminal: rows, the filter, the detail pane, a pool grow on the test\'s own worker, q (exit 0, nothing left)', async () => {
      const term = new Terminal(['top', ...space.ns.flags, '--queue', idle])
      try {
        const first = await term.waitFor(new RegExp(`${escape(busy.node)}\\s+online[\\s\\S]*${escape(grows.node)}\\s+online`), 15_000)
        assert.match(first, /^\d+ online · 0 active · [^\n]*wfctl top/)
        // The queues under the workers: the queue nobody consumes, with its depth (one task from the first test, or none).
        await term.waitFor(new RegExp(`QUEUE\\s+MESSAGES\\s+CONSUMERS[\\s\\S]*${idle}\\s+\\d+\\s+0`))

        // The filter: only the worker whose name holds the words.
        await press(term, '/')
        term.keys('-l', `b${tok}`)
        const filtered = await term.waitFor(new RegExp(`/ filter \\(1 of \\d+, Enter keeps, Esc clears\\): b${tok}_`))
        assert.match(filtered, new RegExp(`>\\s+${escape(grows.node)}\\s+online`))
        assert.doesNotMatch(filtered, new RegExp(`${escape(busy.node)}\\s+online`))
        await press(term, 'Enter')
        await term.waitFor(new RegExp(`filter "b${tok}": 1 of \\d+`))

        // The detail pane: one targeted request for each part.
        await press(term, 'Enter')
        const detail = await term.waitFor(/Stats:\n {2}pool: [^\n]*max-concurrency 1/)
        assert.match(detail, new RegExp(`\\n${escape(grows.node)} {2}online · celery 5\\.[\\s\\S]*heartbeat every ${FREQ}s`))
        assert.match(detail, /Active tasks \(0\):\n {2}none/)
        assert.match(detail, /Queues consumed \(1\):\n {2}celery/)

        // Pool grow on that worker (not destructive: no question), seen by the real celery CLI.
        const before = await poolOf(space, grows.node)
        await press(term, '+')
        await term.waitFor(new RegExp(`Pool grow ${escape(grows.node)}: processes to add: 1_`))
        await press(term, 'Enter')
        await term.waitFor(new RegExp(`pool_grow: ${escape(grows.node)}: pool will grow`))
        const grown = await poll(() => poolOf(space, grows.node), (p) => p.processes.length === before.processes.length + 1, 15_000, 250)
        assert.equal(grown.processes.length, before.processes.length + 1, 'the pool grew by one process')
        // r asks the detail pane's worker again.
        await press(term, 'r')
        await term.waitFor(/pool: [^\n]*, 2 processes/)

        // A destructive action asks first, naming the node and the broker; anything but y sends nothing.
        await press(term, 'X')
        await term.waitFor(new RegExp(`Shut down ${escape(grows.node)} on [^\\n]*\\[y/N\\]`))
        await press(term, 'n')
        await term.waitFor(/not confirmed: nothing was sent/)

        await press(term, 'Escape', 'q')
        await term.waitFor(/EXIT=0/)
        assert.deepEqual(await space.ns.leftovers(), [])
        assert.equal((await poolOf(space, grows.node)).processes.length, grown.processes.length, 'the worker is still running')
      } finally {
        term.close()
      }
    })
  })
}
