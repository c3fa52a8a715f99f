// One screen for `wfctl top` and the explorer, without a terminal: the explorer's menu opened for
// nodes chosen elsewhere (Explorer.menuFor: what top's detail pane showed offered to pick from, the
// explorer's own fetch when nothing was shown, a shutdown that drops its nodes, the cursor kept
// between openings), top's `m` key on a stand-in terminal (the screen given up and taken back, the
// cursor and the selection kept, Ctrl-C and signals in the menu), and the scope of the live model
// (`wfctl inspect -d` / `--pattern`). Against real workers: test/interop/one-screen.test.ts.
import assert from 'node:assert/strict'
import {PassThrough, Writable} from 'node:stream'
import {describe, test} from 'node:test'

import {InterruptedError} from '../../src/errors.ts'
import {Explorer, type ExplorerOps, type MenuOutcome, type MenuRequest} from '../../src/explorer/explorer.ts'
import {TYPE_IDS, type Choice} from '../../src/explorer/menu.ts'
import {TopView, type TopOps} from '../../src/explorer/top.ts'
import {LiveFleet, scopeOf} from '../../src/fleet/live.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'
import type {ShutdownResult} from '../../src/fleet/shutdown.ts'
import {waitFor} from '../helpers/poll.ts'

function result(method: string, replies: Record<string, unknown>): FleetResult {
  return {method, replies, missing: [], errors: {}, duplicates: [], duplicateReplies: {}, elapsedMs: 1, latencyMs: {}, expected: null, undecodable: [], listeners: null}
}

function stopped(nodes: string[]): ShutdownResult {
  return {method: 'shutdown', replies: {}, missing: [], errors: {}, duplicates: [], elapsedMs: 1, stopped: nodes, stopping: [], running: [], nodes: Object.fromEntries(nodes.map((n) => [n, {state: 'stopped' as const, activeTasks: 0}])), verified: true, waited: true, taskEvents: false, taskEventsNotHeard: []}
}

type Answer = unknown | ((question: Record<string, unknown>) => unknown)

/** The explorer as top hosts it (fetchToPick), over a fleet whose payloads the test sets per method and node. */
function hosted(answers: Answer[], payloads: Record<string, Record<string, unknown>> = {}) {
  const calls: {method: string; nodes: string[]}[] = []
  const questions: Record<string, unknown>[] = []
  const shown: string[] = []
  const shutdowns: {nodes: string[]; reason?: string}[] = []
  const ops: ExplorerOps = {
    broker: 'redis://localhost:6379/0',
    scope: 'matching glob "pod-*"',
    discover: async () => {
      throw new Error('the hosted menu never discovers')
    },
    call: async (method, _args, nodes) => {
      calls.push({method, nodes})
      return result(method, Object.fromEntries(nodes.map((n) => [n, payloads[method]?.[n] ?? (payloads[method] ? [] : {ok: 'done'})])))
    },
    shutdown: async (nodes, reason) => {
      shutdowns.push({nodes, reason})
      return stopped(nodes)
    },
    show: (text) => shown.push(text),
    note: (text) => shown.push(`note: ${text}`),
    render: {status: () => 'status', view: (r) => `view ${r.method}`, replies: (r) => `replies ${r.method}`, shutdown: (r) => `stopped ${r.stopped.join(',')}`},
    signal: new AbortController().signal,
    columns: () => 80,
    fetchToPick: true,
    prompt: async (question) => {
      questions.push(question)
      if (answers.length === 0) throw new Error(`no scripted answer for ${JSON.stringify(question.message)}`)
      const next = answers.shift()
      return typeof next === 'function' ? (next as (q: Record<string, unknown>) => unknown)(question) : next
    },
  }
  return {ops, calls, questions, shown, shutdowns}
}

const task = (id: string, name = 'app.work') => ({id, name, args: [], hostname: 'x', time_start: 1})

describe('the explorer\'s menu, opened for nodes chosen on another screen', () => {
  test('views and actions for the chosen nodes only, "Back to the live view" instead of picking, refreshing and quitting', async () => {
    const h = hosted([
      (q: Record<string, unknown>) => {
        const values = (q.choices as {value: string}[]).map((c) => c.value)
        assert.ok(values.includes('view:active') && values.includes('action:revoke') && values.includes('action:shutdown'))
        assert.ok(!values.includes('pick') && !values.includes('refresh') && !values.includes('quit'))
        assert.equal(values.at(-1), 'back')
        assert.match(String(q.message), /^redis:\/\/localhost:6379\/0 · 3 nodes matching glob "pod-\*" · selected: pod-2@h$/)
        return 'view:stats'
      },
      'back',
    ])
    const out = await new Explorer(h.ops).menuFor({nodes: ['pod-2@h'], all: ['pod-10@h', 'pod-2@h', 'pod-1@h']})
    assert.deepEqual(out, {stopped: []})
    assert.deepEqual(h.calls, [{method: 'stats', nodes: ['pod-2@h']}])
    assert.deepEqual(h.shown, ['view stats'])
  })

  test('the ids top\'s detail pane showed are offered to revoke, without asking the worker again', async () => {
    const h = hosted([
      'action:revoke',
      (q: Record<string, unknown>) => {
        assert.equal(q.type, 'checkbox')
        const choices = q.choices as Choice[]
        assert.deepEqual(choices.map((c) => c.value), ['t-1', 't-2', TYPE_IDS])
        assert.match(choices[0].name, /^t-1 {2}app\.work {2}a@h \(active\)$/)
        return ['t-2']
      },
      '',
      'back',
    ])
    await new Explorer(h.ops).menuFor({nodes: ['a@h'], all: ['a@h', 'b@h'], shown: [{method: 'active', node: 'a@h', payload: [task('t-1'), task('t-2')]}]})
    assert.deepEqual(h.calls, [{method: 'revoke', nodes: ['a@h']}])
  })

  test('nothing shown yet: the explorer asks the nodes first (active, reserved, scheduled), then offers their ids for query-task', async () => {
    const h = hosted(
      [
        'action:query-task',
        (q: Record<string, unknown>) => {
          const values = (q.choices as Choice[]).map((c) => c.value)
          assert.deepEqual(values, ['t-run', 't-wait', 't-eta', TYPE_IDS])
          return ['t-wait']
        },
        'back',
      ],
      {
        active: {'a@h': [task('t-run')]},
        reserved: {'b@h': [task('t-wait')]},
        scheduled: {'a@h': [{eta: '2030-01-01T00:00:00Z', priority: 6, request: task('t-eta')}]},
      },
    )
    await new Explorer(h.ops).menuFor({nodes: ['a@h', 'b@h'], all: ['a@h', 'b@h']})
    assert.deepEqual(h.calls.map((c) => c.method), ['active', 'reserved', 'scheduled', 'query_task'])
    assert.ok(h.calls.every((c) => c.nodes.join() === 'a@h,b@h'))
    assert.deepEqual(h.shown, ['view query_task'], 'the fetch is not shown as a view; the answer is')
  })

  test('rate limit offers the registered names (asked first), add consumer the queues top listed', async () => {
    const h = hosted(
      [
        'action:rate-limit',
        async (q: Record<string, unknown>) => {
          const choices = await (q.source as (t?: string) => Promise<Choice[]>)('')
          assert.deepEqual(choices.map((c) => c.value), ['app.a', 'app.b'])
          return 'app.b'
        },
        '10/m',
        'action:add-consumer',
        async (q: Record<string, unknown>) => {
          const choices = await (q.source as (t?: string) => Promise<Choice[]>)('')
          assert.deepEqual(choices.map((c) => [c.value, c.description]), [['reports', 'listed with the queue depths']])
          return 'reports'
        },
        'back',
      ],
      {registered: {'a@h': ['app.b [rate_limit=None]', 'app.a']}},
    )
    await new Explorer(h.ops).menuFor({nodes: ['a@h'], all: ['a@h'], queues: ['reports']})
    assert.deepEqual(h.calls.map((c) => c.method), ['registered', 'rate_limit', 'add_consumer'])
  })

  test('a shutdown with a reason confirms naming the nodes, is sent, and drops them: the next action has no node; the cursor is kept for the next opening', async () => {
    const h = hosted(['action:shutdown', 'deploy 42', true, 'action:pool-grow', 'back'])
    const explorer = new Explorer(h.ops)
    const out = await explorer.menuFor({nodes: ['a@h', 'b@h'], all: ['a@h', 'b@h', 'c@h']})
    assert.deepEqual(out, {stopped: ['a@h', 'b@h']})
    assert.deepEqual(h.shutdowns, [{nodes: ['a@h', 'b@h'], reason: 'deploy 42'}])
    assert.deepEqual(h.questions.filter((q) => q.type === 'confirm').map((q) => q.message), ['Shut down a@h, b@h via redis://localhost:6379/0?'])
    assert.ok(h.shown.includes('note: no node selected: go back to the live view (Escape) and select some'))
    assert.deepEqual(h.calls, [], 'nothing sent to the stopped nodes')
    const again = hosted(['back'])
    Object.assign(h.ops, {prompt: again.ops.prompt})
    await explorer.menuFor({nodes: ['c@h'], all: ['a@h', 'b@h', 'c@h']})
    assert.equal(again.questions[0].default, 'action:pool-grow', 'the cursor comes back to the entry last chosen')
  })

  test('Ctrl-C in the menu is an interrupt', async () => {
    const h = hosted([() => Promise.reject(Object.assign(new Error('ctrl-c'), {name: 'ExitPromptError'}))])
    await assert.rejects(new Explorer(h.ops).menuFor({nodes: ['a@h'], all: ['a@h']}), InterruptedError)
  })
})

// ─── top's `m` ────────────────────────────────────────────────────────────────────────────────

const ENTER = '\u001B[?1049h'
const LEAVE = '\u001B[?7h\u001B[?25h\u001B[?1049l'

function top(nodes: string[], menu: (request: MenuRequest) => Promise<MenuOutcome>) {
  const now = performance.now()
  const live = new LiveFleet({startedAtMs: now - 10_000, graceMs: 0})
  live.applyAll(nodes.map((hostname) => ({type: 'worker-heartbeat', hostname, timestamp: 1, receivedAt: now, fields: {freq: 60, active: 0, processed: 0}})))
  const input = new PassThrough() as unknown as NodeJS.ReadStream
  let written = ''
  const output = Object.assign(new Writable({write: (chunk, _enc, done) => {
    written += String(chunk)
    done()
  }}), {columns: 120, rows: 30}) as unknown as NodeJS.WriteStream
  const sent: {method: string; nodes: string[]}[] = []
  const abort = new AbortController()
  const ops: TopOps = {
    broker: 'redis://localhost:6379/0',
    live,
    io: {input, output},
    color: false,
    request: async (method, _args, to) => {
      sent.push({method, nodes: to})
      const payload = method === 'active' ? [task('t-1')] : method === 'active_queues' ? [{name: 'celery'}] : {ok: 'done'}
      return result(method, Object.fromEntries(to.map((n) => [n, payload])))
    },
    shutdown: async (to) => stopped(to),
    drain: async () => {
      throw new Error('not in these tests')
    },
    queues: async () => [{name: 'celery', messages: 0, consumers: nodes.length}],
    describe: {result: (m) => `${m}: done`, shutdown: () => 'stopped', drain: () => 'drained', progress: () => 'draining'},
    signal: abort.signal,
    interrupt: () => abort.abort('SIGINT'),
    menu,
  }
  const view = new TopView(ops)
  const run = view.run()
  run.catch(() => {})
  const text = () => written.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '\n')
  return {
    run, sent, abort,
    written: () => written,
    text,
    shows: (s: string) => waitFor(() => text().includes(s), 5000),
    keys: async (...keys: string[]) => {
      for (const k of keys) {
        input.write(k)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    },
  }
}

describe('top\'s m: the explorer\'s menu, and back to the live view', () => {
  test('the screen is given up for the menu and taken back; the menu gets the selection, the fleet and the queues; the cursor and the selection stay', async () => {
    const requests: MenuRequest[] = []
    let finish: (o: MenuOutcome) => void = () => {}
    const t = top(['w-1@h', 'w-2@h', 'w-10@h'], (request) => {
      requests.push(request)
      return new Promise((resolve) => (finish = resolve))
    })
    assert.ok(await t.shows('w-10@h'))
    // Select w-1 and w-2 (space moves down), the cursor lands on w-10.
    await t.keys(' ', ' ', 'm')
    assert.ok(await waitFor(() => requests.length === 1, 5000))
    assert.deepEqual(requests[0], {nodes: ['w-1@h', 'w-2@h'], all: ['w-1@h', 'w-2@h', 'w-10@h'], shown: [], queues: ['celery']})
    assert.ok(t.written().endsWith(LEAVE), 'the main screen is back while the menu runs')
    const given = t.written().length
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(t.written().length, given, 'no frame is drawn while the menu has the terminal')
    finish({stopped: []})
    assert.ok(await waitFor(() => t.written().lastIndexOf(ENTER) >= given, 5000), 'the alternate screen is taken again')
    assert.ok(await waitFor(() => /2 selected/.test(t.text().slice(-4000)), 5000), 'the selection is kept')
    // The cursor is where it was: space toggles w-10, now the third selected.
    await t.keys(' ')
    assert.ok(await t.shows('3 selected'))
    await t.keys('q')
    await t.run
    assert.ok(t.written().endsWith(LEAVE))
  })

  test('from the detail pane: the menu is for its worker, with what the pane showed; the pane is read again on return', async () => {
    const requests: MenuRequest[] = []
    const t = top(['a@h', 'b@h'], async (request) => {
      requests.push(request)
      return {stopped: []}
    })
    assert.ok(await t.shows('b@h'))
    await t.keys('j', '\r')
    assert.ok(await t.shows('Queues consumed (1)'))
    const before = t.sent.length
    await t.keys('m')
    assert.ok(await waitFor(() => requests.length === 1, 5000))
    assert.deepEqual(requests[0].nodes, ['b@h'])
    assert.deepEqual(requests[0].shown, [
      {method: 'active', node: 'b@h', payload: [task('t-1')]},
      {method: 'active_queues', node: 'b@h', payload: [{name: 'celery'}]},
    ])
    assert.ok(await waitFor(() => t.sent.slice(before).filter((s) => s.nodes.join() === 'b@h').length >= 3, 5000), 'the pane asks its worker again')
    await t.keys('q')
    await t.run
  })

  test('a shutdown from the menu unselects the stopped workers and says so', async () => {
    const t = top(['a@h', 'b@h'], async (request) => ({stopped: request.nodes}))
    assert.ok(await t.shows('b@h'))
    await t.keys(' ', ' ', 'm')
    assert.ok(await t.shows('shut down from the menu: a@h, b@h'))
    assert.ok(!/\d selected/.test(t.text().slice(-2000)))
    await t.keys('q')
    await t.run
  })

  test('Ctrl-C in the menu leaves as Ctrl-C in the view does (an interrupt); the terminal is not taken again', async () => {
    const t = top(['a@h'], async () => {
      throw new InterruptedError('SIGINT')
    })
    assert.ok(await t.shows('a@h'))
    await t.keys('m')
    await assert.rejects(t.run, InterruptedError)
    assert.ok(t.abort.signal.aborted)
    assert.ok(t.written().endsWith(LEAVE))
  })

  test('a signal while the menu runs (a closed terminal) ends the view; the menu ending after does not take the terminal again', async () => {
    let finish: (o: MenuOutcome) => void = () => {}
    const t = top(['a@h'], () => new Promise((resolve) => (finish = resolve)))
    assert.ok(await t.shows('a@h'))
    await t.keys('m')
    assert.ok(await waitFor(() => t.written().endsWith(LEAVE), 5000))
    t.abort.abort('SIGHUP')
    await assert.rejects(t.run, /interrupted by SIGHUP/)
    const at = t.written().length
    finish({stopped: []})
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(t.written().length, at)
  })

  test('the key line and the help name m', async () => {
    const t = top(['a@h'], async () => ({stopped: []}))
    assert.ok(await t.shows('q quit  m menu'))
    await t.keys('?')
    assert.ok(await t.shows('menu: views and every action'))
    await t.keys('q')
    await t.run
  })
})

describe('the scope of the live model (wfctl inspect -d / --pattern)', () => {
  test('-d names and a glob or pcre pattern, as a worker matches it', () => {
    const named = scopeOf({destination: ['a@h', 'b@h']})!
    assert.ok(named('a@h') && !named('c@h'))
    const glob = scopeOf({destination: [], pattern: 'pod-1?@*', matcher: 'glob'})!
    assert.ok(glob('pod-10@h') && !glob('pod-1@h') && !glob('pod-100@h'))
    const pcre = scopeOf({destination: [], pattern: 'pod-[0-9]@', matcher: 'pcre'})!
    assert.ok(pcre('pod-2@h') && !pcre('pod-20@h'), 're.match anchors at the start only')
    assert.equal(scopeOf({destination: []}), undefined)
  })

  test('events from nodes outside the scope are dropped, not counted as unreadable; the ping and the mailboxes too', () => {
    const now = 1000
    const live = new LiveFleet({startedAtMs: 0, graceMs: 0, scope: scopeOf({destination: [], pattern: 'pod-1*', matcher: 'glob'})})
    const beat = (hostname: string) => ({type: 'worker-heartbeat', hostname, timestamp: 1, receivedAt: now, fields: {freq: 2}})
    for (let i = 0; i < 3; i++) live.applyAll([beat('pod-1@h'), beat('pod-2@h'), beat('pod-10@h')])
    live.pinged(['pod-3@h', 'pod-11@h'])
    live.mailboxes(['pod-4@h'])
    const snap = live.snapshot(now)
    assert.deepEqual(snap.rows.map((r) => [r.node, r.state]), [['pod-1@h', 'online'], ['pod-10@h', 'online'], ['pod-11@h', 'no-heartbeat']])
    assert.equal(snap.ignored, 0)
    live.apply({type: 'worker-heartbeat', hostname: '', receivedAt: now, fields: {}})
    assert.equal(live.snapshot(now).ignored, 1, 'an unreadable event is still counted')
  })
})
