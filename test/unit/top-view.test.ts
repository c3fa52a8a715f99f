// The keys of `wfctl top` (src/explorer/top.ts) on a stand-in terminal, with the fleet's operations
// recorded instead of sent: actions confirm exactly as the commands do (isDestructive), reach the
// selection or the worker under the cursor, refuse names no worker has, and q leaves with the
// terminal given back. What reaches a broker is tested against real workers in test/interop/top.test.ts.
import assert from 'node:assert/strict'
import {PassThrough, Writable} from 'node:stream'
import {describe, test} from 'node:test'

import {InterruptedError} from '../../src/errors.js'
import {LiveFleet} from '../../src/fleet/live.js'
import type {FleetResult} from '../../src/fleet/outcome.js'
import {TopView, type TopOps} from '../../src/explorer/top.js'
import {waitFor} from '../helpers/poll.js'

function result(method: string, nodes: string[]): FleetResult {
  return {
    method, replies: Object.fromEntries(nodes.map((n) => [n, {ok: 'done'}])), missing: [], errors: {}, duplicates: [], duplicateReplies: {},
    elapsedMs: 1, latencyMs: {}, expected: nodes.length, undecodable: [], listeners: null,
  }
}

interface Harness {
  view: TopView
  run: Promise<unknown>
  sent: {method: string; args: Record<string, unknown>; nodes: string[]}[]
  /** Every request, the detail pane's reads too. */
  asked: {method: string; nodes: string[]}[]
  shutdowns: string[][]
  /** What the terminal shows now, roughly: every frame's text, escape sequences removed. */
  output: () => string
  keys: (...keys: string[]) => Promise<void>
  abort: AbortController
  restored: () => boolean
}

function harness(nodes: string[]): Harness {
  const now = performance.now()
  const live = new LiveFleet({startedAtMs: now - 10_000, graceMs: 0})
  live.applyAll(nodes.map((hostname) => ({type: 'worker-heartbeat', hostname, timestamp: 1, receivedAt: now, fields: {freq: 60, active: 0, processed: 0}})))
  const input = new PassThrough() as unknown as NodeJS.ReadStream
  let written = ''
  const output = Object.assign(new Writable({write: (chunk, _enc, done) => {
    written += String(chunk)
    done()
  }}), {columns: 120, rows: 30}) as unknown as NodeJS.WriteStream
  const sent: Harness['sent'] = []
  const asked: Harness['asked'] = []
  const shutdowns: string[][] = []
  const abort = new AbortController()
  const ops: TopOps = {
    broker: 'redis://localhost:6379/0',
    live,
    io: {input, output},
    color: false,
    request: async (method, args, to) => {
      asked.push({method, nodes: to})
      if (!['active', 'active_queues', 'stats', 'ping'].includes(method)) sent.push({method, args, nodes: to})
      return result(method, to)
    },
    shutdown: async (to) => {
      shutdowns.push(to)
      return {method: 'shutdown', replies: {}, missing: [], errors: {}, duplicates: [], elapsedMs: 1, nodes: {}, stopped: to, stopping: [], running: [], waited: true, taskEvents: true, taskEventsNotHeard: []} as never
    },
    drain: async () => {
      throw new Error('not in these tests')
    },
    queues: async () => [{name: 'celery', messages: 0, consumers: nodes.length}],
    describe: {result: (m) => `${m}: done`, shutdown: () => 'stopped', drain: () => 'drained', progress: () => 'draining'},
    signal: abort.signal,
    interrupt: () => abort.abort('SIGINT'),
  }
  const view = new TopView(ops)
  const run = view.run()
  run.catch(() => {})
  return {
    view, run, sent, asked, shutdowns, abort,
    output: () => written.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '\n'),
    keys: async (...keys) => {
      for (const k of keys) {
        input.write(k)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    },
    restored: () => written.endsWith('\u001B[?7h\u001B[?25h\u001B[?1049l'),
  }
}

const shows = (h: Harness, text: string) => waitFor(() => h.output().includes(text), 5000)

describe('actions confirm as the commands do', () => {
  test('a pool grow on one worker is sent without a question, with the count typed', async () => {
    const h = harness(['a@h', 'b@h'])
    assert.ok(await shows(h, 'a@h'))
    await h.keys('+')
    assert.ok(await shows(h, 'Pool grow a@h: processes to add: 1_'))
    await h.keys('\u007f', '3', '\r')
    assert.ok(await waitFor(() => h.sent.length === 1, 5000))
    assert.deepEqual(h.sent, [{method: 'pool_grow', args: {n: 3}, nodes: ['a@h']}])
    assert.ok(!h.output().includes('[y/N]'))
    await h.keys('q')
    await h.run
    assert.ok(h.restored(), 'the terminal is given back')
  })

  test('a pool shrink of several selected workers asks, naming them and the broker; n sends nothing, y sends it', async () => {
    const h = harness(['w-10@h', 'w-2@h', 'w-1@h'])
    assert.ok(await shows(h, 'w-10@h'))
    // Natural order: w-1, w-2, w-10. Select the first two.
    await h.keys(' ', ' ', '-', '\r')
    assert.ok(await shows(h, 'Send "pool_shrink" to w-1@h, w-2@h on redis://localhost:6379/0? [y/N]'))
    await h.keys('n')
    assert.ok(await shows(h, 'not confirmed: nothing was sent'))
    assert.deepEqual(h.sent, [])
    await h.keys('-', '\r', 'y')
    assert.ok(await waitFor(() => h.sent.length === 1, 5000))
    assert.deepEqual(h.sent, [{method: 'pool_shrink', args: {n: 1}, nodes: ['w-1@h', 'w-2@h']}])
    await h.keys('q')
    await h.run
  })

  test('cancel consumer on one worker is sent at once (not destructive), with a validated queue name', async () => {
    const h = harness(['a@h'])
    assert.ok(await shows(h, 'a@h'))
    await h.keys('c', '\t')
    assert.ok(await shows(h, 'queue (Tab completes): celery_'), 'Tab completes from the queues shown')
    await h.keys('\r')
    assert.ok(await waitFor(() => h.sent.length === 1, 5000))
    assert.deepEqual(h.sent, [{method: 'cancel_consumer', args: {queue: 'celery'}, nodes: ['a@h']}])
    await h.keys('c', ' ', '\r')
    assert.ok(await shows(h, 'not sent: '))
    assert.equal(h.sent.length, 1)
    await h.keys('q')
    await h.run
  })

  test('a shutdown always asks; y shuts the worker under the cursor down', async () => {
    const h = harness(['a@h', 'b@h'])
    assert.ok(await shows(h, 'b@h'))
    await h.keys('j', 'X')
    assert.ok(await shows(h, 'Shut down b@h on redis://localhost:6379/0? [y/N]'))
    await h.keys('y')
    assert.ok(await waitFor(() => h.shutdowns.length === 1, 5000))
    assert.deepEqual(h.shutdowns, [['b@h']])
    await h.keys('q')
    await h.run
  })

  test('a node name no worker could have is never sent', async () => {
    const h = harness(['bad name\u001B[2J@h'])
    assert.ok(await shows(h, 'bad name'))
    await h.keys('X')
    assert.ok(await shows(h, 'not sent: invalid node name'))
    assert.ok(!h.output().includes('[y/N]'))
    assert.deepEqual(h.shutdowns, [])
    await h.keys('q')
    await h.run
  })
})

describe('keys typed faster than a frame', () => {
  test('a filter and Enter in one burst open the detail pane of the worker the filter leaves, not of the one the cursor was on', async () => {
    const h = harness(['a@h', 'b@h', 'c@h'])
    assert.ok(await shows(h, 'c@h'))
    // One write: every key reaches the view before the next frame is drawn.
    await h.keys('/b\r\r')
    assert.ok(await waitFor(() => h.asked.some((r) => r.method === 'active'), 5000), 'the detail pane asked its worker')
    assert.deepEqual(h.asked.filter((r) => r.method === 'active').map((r) => r.nodes), [['b@h']])
    await h.keys('\u001b', 'q')
    await h.run
  })

  test('a sort and a move in one burst move over the rows in their new order', async () => {
    const h = harness(['a@h', 'b@h', 'c@h'])
    assert.ok(await shows(h, 'c@h'))
    // i reverses the order (c, b, a): the cursor stays on a, now last; k moves up to b.
    await h.keys('ik ')
    assert.ok(await shows(h, '1 selected'))
    await h.keys('+')
    assert.ok(await shows(h, 'Pool grow b@h'))
    await h.keys('\r')
    assert.ok(await waitFor(() => h.sent.length === 1, 5000))
    assert.deepEqual(h.sent[0].nodes, ['b@h'])
    await h.keys('q')
    await h.run
  })
})

describe('leaving', () => {
  test('Ctrl-C interrupts (the command exits 130), and the terminal is given back', async () => {
    const h = harness(['a@h'])
    assert.ok(await shows(h, 'a@h'))
    await h.keys('\u0003')
    await assert.rejects(h.run, InterruptedError)
    assert.ok(h.abort.signal.aborted)
    assert.ok(h.restored())
  })

  test('a signal from outside (SIGHUP) ends the view the same way', async () => {
    const h = harness(['a@h'])
    assert.ok(await shows(h, 'a@h'))
    h.abort.abort('SIGHUP')
    await assert.rejects(h.run, /interrupted by SIGHUP/)
    assert.ok(h.restored())
  })
})
