// The explorer for big fleets, without a terminal (the prompts scripted): type-to-filter and natural
// order among 150 nodes, the cursor that stays, ids / queues / task names picked from what the views
// showed, the new actions (query-task, pool-restart, terminate, a shutdown reason), and confirmations
// that name their target once.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {Explorer, type ExplorerOps} from '../../src/explorer/explorer.ts'
import {
  ACTIONS, ALL_MATCHING, matchNodes, naturalCompare, nodesText, pickerChoices, SOME_MATCHING, targetText, taskChoices, TYPE_IDS, validateWith, valueChoices,
  type Choice,
} from '../../src/explorer/menu.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'
import type {ShutdownResult} from '../../src/fleet/shutdown.ts'

function result(method: string, replies: Record<string, unknown>, errors: Record<string, string> = {}): FleetResult {
  return {method, replies, missing: [], errors, duplicates: [], duplicateReplies: {}, elapsedMs: 3, latencyMs: {}, expected: null, undecodable: [], listeners: null}
}

function stopped(nodes: string[]): ShutdownResult {
  return {method: 'shutdown', replies: {}, missing: [], errors: {}, duplicates: [], elapsedMs: 1, stopped: nodes, stopping: [], running: [], nodes: Object.fromEntries(nodes.map((n) => [n, {state: 'stopped' as const, activeTasks: 0}])), verified: true, waited: true, taskEvents: false, taskEventsNotHeard: []}
}

/** 150 nodes, named as a Kubernetes fleet is, handed out of order. */
const FLEET = Array.from({length: 150}, (_, i) => `pod-${i + 1}@h`).sort()

type Answer = unknown | ((question: Record<string, unknown>) => unknown)

/**
 * A fleet whose payloads the test sets per method (`payloads[method][node]`, else {ok: 'done'}) and
 * a scripted operator: each answer is a value, or a function of the question (to look at its choices).
 */
function harness(answers: Answer[], opts: {nodes?: string[]; payloads?: Record<string, Record<string, unknown>>; scope?: string} = {}) {
  let nodes = opts.nodes ?? ['a@h', 'b@h']
  const calls: {method: string; args: Record<string, unknown>; nodes: string[]}[] = []
  const shutdowns: {nodes: string[]; reason?: string}[] = []
  const shown: string[] = []
  const notes: string[] = []
  const questions: Record<string, unknown>[] = []
  const viewIds: (string[] | undefined)[] = []
  const ops: ExplorerOps = {
    broker: 'redis://localhost:6379/0',
    scope: opts.scope,
    discover: async () => result('ping', Object.fromEntries(nodes.map((n) => [n, {ok: 'pong'}]))),
    call: async (method, args, targets) => {
      calls.push({method, args, nodes: targets})
      const payload = opts.payloads?.[method]
      return result(method, Object.fromEntries(targets.map((n) => [n, payload ? payload[n] ?? [] : {ok: 'done'}])))
    },
    shutdown: async (targets, reason) => {
      shutdowns.push({nodes: targets, reason})
      nodes = nodes.filter((n) => !targets.includes(n))
      return stopped(targets)
    },
    show: (text) => shown.push(text),
    note: (text) => notes.push(text),
    render: {
      status: (r) => `status ${Object.keys(r.replies).length}`,
      view: (r, ids) => {
        viewIds.push(ids)
        return `view ${r.method}`
      },
      replies: (r) => `replies ${r.method}`,
      shutdown: (r) => `stopped ${r.stopped.join(',')}`,
    },
    signal: new AbortController().signal,
    columns: () => 80,
    prompt: async (question) => {
      questions.push(question)
      if (answers.length === 0) throw new Error(`no scripted answer for ${JSON.stringify(question.message)}`)
      const next = answers.shift()
      const value = typeof next === 'function' ? await (next as (q: Record<string, unknown>) => unknown)(question) : next
      if ((question.type === 'input' || question.type === 'search') && typeof question.validate === 'function') {
        const verdict = (question.validate as (v: string) => true | string)(value as string)
        if (verdict !== true) throw new Error(`scripted answer ${JSON.stringify(value)} refused: ${verdict}`)
      }
      return value
    },
  }
  return {ops, calls, shutdowns, shown, notes, questions, viewIds}
}

const source = (q: Record<string, unknown>, term?: string) => (q.source as (t: string | undefined) => Promise<Choice[]>)(term)
const menus = (h: {questions: Record<string, unknown>[]}) => h.questions.filter((q) => q.type === 'select')
const confirms = (h: {questions: Record<string, unknown>[]}) => h.questions.filter((q) => q.type === 'confirm').map((q) => String(q.message))

test('natural order: pod-2 before pod-10 before pod-100, the same in the menu, the picker and the status line', () => {
  const sorted = [...FLEET].sort(naturalCompare)
  assert.deepEqual(sorted.slice(0, 3), ['pod-1@h', 'pod-2@h', 'pod-3@h'])
  assert.ok(sorted.indexOf('pod-2@h') < sorted.indexOf('pod-10@h') && sorted.indexOf('pod-10@h') < sorted.indexOf('pod-100@h'))
  assert.equal(sorted.at(-1), 'pod-150@h')
  assert.deepEqual(['b1', 'a10', 'a2', 'a02', 'a'].sort(naturalCompare), ['a', 'a02', 'a2', 'a10', 'b1'])
  assert.equal(naturalCompare('x', 'x'), 0)
})

test('type to filter: a part of the name (any case), or a glob; the matches in natural order', () => {
  assert.equal(matchNodes(FLEET, '').length, 150)
  const ones = matchNodes(FLEET, 'POD-1')
  assert.equal(ones.length, 1 + 10 + 51, 'pod-1, pod-10…19, pod-100…150')
  assert.deepEqual(ones.slice(0, 4), ['pod-1@h', 'pod-10@h', 'pod-11@h', 'pod-12@h'])
  assert.equal(ones.at(-1), 'pod-150@h')
  assert.deepEqual(matchNodes(FLEET, 'pod-1?@*'), ['pod-10@h', 'pod-11@h', 'pod-12@h', 'pod-13@h', 'pod-14@h', 'pod-15@h', 'pod-16@h', 'pod-17@h', 'pod-18@h', 'pod-19@h'])
  assert.deepEqual(matchNodes(FLEET, 'pod-150'), ['pod-150@h'])
  assert.deepEqual(matchNodes(FLEET, 'nothing'), [])
  // Regular-expression characters are plain text in a glob.
  assert.deepEqual(matchNodes(['a.b@h', 'axb@h'], 'a.b*'), ['a.b@h'])
})

test('the picker offers all the matches, several of them, or one; a single match is just that node', () => {
  const all = pickerChoices(FLEET, undefined, FLEET)
  assert.equal(all[0].name, 'Select all 150 nodes')
  assert.equal(all[1].value, `${SOME_MATCHING} `)
  assert.deepEqual(all.slice(2, 5).map((c) => c.value), ['pod-1@h', 'pod-2@h', 'pod-3@h'])
  const some = pickerChoices(FLEET, 'pod-1', ['pod-10@h'])
  assert.equal(some[0].name, 'Select all 62 nodes matching "pod-1"')
  assert.equal(some[0].value, `${ALL_MATCHING} pod-1`)
  assert.equal(some.find((c) => c.value === 'pod-10@h')!.description, 'selected now')
  assert.deepEqual(pickerChoices(FLEET, 'pod-17@', []).map((c) => c.value), ['pod-17@h'])
  assert.deepEqual(pickerChoices(FLEET, 'zzz', []), [])
})

test('150 nodes: filter and select all the matches, then several of them, then one', async () => {
  const h = harness(
    [
      'pick',
      async (q: Record<string, unknown>) => {
        assert.equal(q.type, 'search')
        const choices = await source(q, 'pod-1')
        assert.equal(choices.length, 2 + 62)
        return choices[0].value
      },
      'pick',
      async (q: Record<string, unknown>) => (await source(q, 'pod-2'))[1].value,
      (q: Record<string, unknown>) => {
        const values = (q.choices as Choice[]).map((c) => c.value)
        assert.equal(values.length, 1 + 10, 'pod-2, pod-20…29: only the matches')
        assert.deepEqual(values.slice(0, 3), ['pod-2@h', 'pod-20@h', 'pod-21@h'])
        return ['pod-29@h', 'pod-2@h']
      },
      'pick',
      'pod-100@h',
      'quit',
    ],
    {nodes: FLEET},
  )
  await new Explorer(h.ops).run()
  const lines = menus(h).map((q) => String(q.message))
  assert.match(lines[0], /· 150 nodes · selected: all 150 nodes$/)
  assert.match(lines[1], /· selected: 62 nodes: pod-1@h, pod-10@h, pod-11@h and 59 more$/)
  assert.match(lines[2], /· selected: pod-2@h, pod-29@h$/)
  assert.match(lines[3], /· selected: pod-100@h$/)
})

test('after a view or an action the cursor stays on it; a refresh keeps the selection and never widens it', async () => {
  const h = harness(['view:stats', 'action:pool-grow', '2', 'pick', 'b@h', 'refresh', 'quit'])
  await new Explorer(h.ops).run()
  const defaults = menus(h).map((q) => q.default)
  assert.deepEqual(defaults, [undefined, 'view:stats', 'action:pool-grow', 'pick', 'refresh'])
  assert.match(String(menus(h).at(-1)!.message), /selected: b@h$/)
  assert.deepEqual(h.calls.map((c) => [c.method, c.nodes]), [['stats', ['a@h', 'b@h']], ['pool_grow', ['a@h', 'b@h']]])
})

test('a shutdown of the selected nodes leaves nothing selected (never "all" by surprise)', async () => {
  const h = harness(['pick', 'a@h', 'action:shutdown', '', true, 'view:stats', 'quit'])
  await new Explorer(h.ops).run()
  assert.deepEqual(h.shutdowns, [{nodes: ['a@h'], reason: undefined}])
  assert.match(String(menus(h).at(-1)!.message), /· 1 node · selected: none$/)
  assert.deepEqual(h.calls, [], 'the view was not sent: no node selected')
  assert.ok(h.notes.includes('none of the selected nodes answered: pick nodes'))
})

const TASKS = {
  active: {'a@h': [{id: 't1', name: 'tasks.sleepy', args: [60]}], 'b@h': [{id: 't2', name: 'tasks.add'}]},
  reserved: {'a@h': [{id: 't3', name: 'tasks.add'}, {id: 't1', name: 'tasks.sleepy'}]},
  scheduled: {'b@h': [{eta: '2030-01-01T00:00:00Z', priority: 6, request: {id: 't4', name: 'tasks.later'}}]},
}

test('revoke picks the ids the active, reserved and scheduled views showed; other ids can still be typed', async () => {
  const h = harness(
    [
      'view:active', 'view:reserved', 'view:scheduled', 'action:revoke',
      (q: Record<string, unknown>) => {
        assert.equal(q.type, 'checkbox')
        const choices = q.choices as Choice[]
        assert.deepEqual(choices.map((c) => c.value), ['t1', 't2', 't3', 't4', TYPE_IDS])
        assert.equal(choices[0].name, 't1  tasks.sleepy  a@h (active)')
        assert.equal(choices[3].name, 't4  tasks.later  b@h (scheduled)')
        return ['t1', 't4', TYPE_IDS]
      },
      (q: Record<string, unknown>) => {
        assert.equal(q.type, 'input')
        return 'x9, x10'
      },
      '', // do not terminate
      'quit',
    ],
    {payloads: TASKS},
  )
  await new Explorer(h.ops).run()
  assert.deepEqual(h.calls.at(-1), {method: 'revoke', args: {task_id: ['t1', 't4', 'x9', 'x10']}, nodes: ['a@h', 'b@h']})
  assert.deepEqual(confirms(h), [], 'revoke without terminating is not destructive')
})

test('only the selected nodes\' ids are offered; query-task and terminate pick them too; with none seen, ids are typed', async () => {
  const offered: unknown[][] = []
  const pickIds = (answer: string[]) => (q: Record<string, unknown>) => {
    assert.equal(q.type, 'checkbox')
    offered.push((q.choices as Choice[]).map((c) => c.value))
    return answer
  }
  const h = harness(['view:active', 'pick', 'b@h', 'action:query-task', pickIds(['t2']), 'action:terminate', pickIds(['t2']), 'KILL', true, 'quit'], {payloads: TASKS})
  await new Explorer(h.ops).run()
  assert.deepEqual(offered, [['t2', TYPE_IDS], ['t2', TYPE_IDS]], 'b@h\'s active task only')
  assert.deepEqual(h.calls.slice(1), [
    {method: 'query_task', args: {ids: ['t2']}, nodes: ['b@h']},
    {method: 'terminate', args: {signal: 'KILL', task_id: ['t2']}, nodes: ['b@h']},
  ])
  assert.deepEqual(h.viewIds.at(-1), ['t2'], 'query-task is shown as a view that names the unknown ids')
  assert.deepEqual(confirms(h), ['Terminate task t2 with SIGKILL on b@h via redis://localhost:6379/0?'])

  const none = harness(['action:query-task', (q: Record<string, unknown>) => (assert.equal(q.type, 'input'), assert.match(String(q.message), /comma-separated/), 'id-1,id-2'), 'quit'])
  await new Explorer(none.ops).run()
  assert.deepEqual(none.calls, [{method: 'query_task', args: {ids: ['id-1', 'id-2']}, nodes: ['a@h', 'b@h']}])
})

const QUEUES = {
  active_queues: {'a@h': [{name: 'celery'}, {name: 'reports'}], 'b@h': [{name: 'celery'}, {name: 'b-only'}]},
  registered: {'a@h': ['tasks.add [rate_limit=10/m]', 'tasks.sleepy'], 'b@h': ['tasks.add']},
}

test('cancel-consumer picks from the selected nodes\' active queues, and forgets a cancelled one', async () => {
  const h = harness(
    [
      'view:active-queues', 'pick', 'a@h', 'action:cancel-consumer',
      async (q: Record<string, unknown>) => {
        assert.equal(q.type, 'search')
        const all = await source(q)
        assert.deepEqual(all.map((c) => c.value), ['celery', 'reports'], 'a@h\'s queues only')
        assert.equal(all[0].description, 'on a@h')
        assert.deepEqual((await source(q, 'REP')).map((c) => c.value), ['reports', 'REP'], 'the matches first, then what was typed')
        assert.deepEqual((await source(q, 'reports')).map((c) => c.value), ['reports'])
        const typed = await source(q, 'other')
        assert.deepEqual(typed.map((c) => [c.name, c.value, c.disabled]), [['other (as typed)', 'other', undefined]])
        const refused = await source(q, 'x\u0007y')
        assert.match(String(refused[0].disabled), /queue must be a non-empty name/)
        return 'reports'
      },
      'action:cancel-consumer',
      async (q: Record<string, unknown>) => (await source(q)).map((c) => c.value).join(','),
      'quit',
    ],
    {payloads: QUEUES},
  )
  await new Explorer(h.ops).run()
  assert.deepEqual(h.calls.slice(1), [
    {method: 'cancel_consumer', args: {queue: 'reports'}, nodes: ['a@h']},
    {method: 'cancel_consumer', args: {queue: 'celery'}, nodes: ['a@h']},
  ])
})

test('add-consumer offers the queues any node consumes; rate-limit and time-limit the registered task names', async () => {
  const h = harness(
    [
      'view:active-queues', 'view:registered', 'pick', 'a@h', 'action:add-consumer',
      async (q: Record<string, unknown>) => {
        const values = (await source(q)).map((c) => c.value)
        assert.deepEqual(values, ['b-only', 'celery', 'reports'])
        return 'b-only'
      },
      'action:rate-limit',
      async (q: Record<string, unknown>) => {
        const choices = await source(q)
        assert.deepEqual(choices.map((c) => c.value), ['tasks.add', 'tasks.sleepy'], 'names without their [attributes]')
        return 'tasks.sleepy'
      },
      '5/s',
      'quit',
    ],
    {payloads: QUEUES},
  )
  await new Explorer(h.ops).run()
  assert.deepEqual(h.calls.slice(2), [
    {method: 'add_consumer', args: {queue: 'b-only'}, nodes: ['a@h']},
    {method: 'rate_limit', args: {task_name: 'tasks.sleepy', rate_limit: '5/s'}, nodes: ['a@h']},
  ])
})

test('pool-restart asks for modules and reload, and confirms as the command does', async () => {
  const h = harness(['pick', 'a@h', 'action:pool-restart', 'proj.tasks, proj.more', true, true, 'action:pool-restart', '', false, false, 'quit'])
  await new Explorer(h.ops).run()
  assert.deepEqual(h.calls, [{method: 'pool_restart', args: {reload: true, modules: ['proj.tasks', 'proj.more']}, nodes: ['a@h']}])
  assert.deepEqual(confirms(h).filter((c) => c.startsWith('Restart')), [
    'Restart the pool of a@h (running tasks are interrupted) via redis://localhost:6379/0?',
    'Restart the pool of a@h (running tasks are interrupted) via redis://localhost:6379/0?',
  ])
  assert.ok(h.notes.includes('not confirmed: nothing was sent'))
  const modules = ACTIONS.find((a) => a.name === 'pool-restart')!.questions[0]
  assert.match(String(validateWith(modules)('a b')), /module must be a non-empty name/)
})

test('a shutdown reason goes to the shutdown (the worker log and the audit log); one line of text only', async () => {
  const h = harness(['pick', 'b@h', 'action:shutdown', '  deploy 2026-11-21  ', true, 'quit'])
  await new Explorer(h.ops).run()
  assert.deepEqual(h.shutdowns, [{nodes: ['b@h'], reason: 'deploy 2026-11-21'}])
  assert.deepEqual(confirms(h), ['Shut down b@h via redis://localhost:6379/0?'])
  const reason = ACTIONS.find((a) => a.name === 'shutdown')!.questions[0]
  assert.match(String(validateWith(reason)('a\nb')), /one line of text/)
  assert.match(String(validateWith(reason)('x'.repeat(501))), /at most 500 characters/)
  assert.equal(validateWith(reason)(''), true)
})

test('a confirmation names its target once: one node, a few, all (with the scope), many', async () => {
  assert.equal(targetText(['w1@audit'], ['w1@audit']), 'w1@audit')
  assert.equal(targetText(['a@h', 'b@h'], ['a@h', 'b@h', 'c@h']), 'a@h, b@h')
  assert.equal(targetText(['a@h', 'b@h'], ['a@h', 'b@h']), 'all 2 nodes (a@h, b@h)')
  assert.equal(targetText(FLEET.slice(0, 40), FLEET), `40 nodes (${FLEET.slice(0, 3).join(', ')} and 37 more)`)
  assert.equal(targetText(FLEET, FLEET, 'matching glob "pod-*"'), `all 150 nodes matching glob "pod-*" (${FLEET.slice(0, 3).join(', ')} and 147 more)`)
  assert.equal(nodesText(FLEET.slice(0, 4), FLEET), `4 nodes: ${FLEET.slice(0, 4).join(', ')}`)
  assert.equal(nodesText(FLEET.slice(0, 6), FLEET), `6 nodes: ${FLEET.slice(0, 3).join(', ')} and 3 more`)

  // The case the issue quotes: revoke with a signal on one node.
  const h = harness(['pick', 'w1@audit', 'action:revoke', 'id-1', 'TERM', false, 'quit'], {nodes: ['w1@audit', 'w2@audit']})
  await new Explorer(h.ops).run()
  assert.deepEqual(confirms(h), ['Terminate task id-1 with SIGTERM on w1@audit via redis://localhost:6379/0?'])
  const scoped = harness(['action:cancel-consumer', 'q1', false, 'quit'], {scope: 'named with -d'})
  await new Explorer(scoped.ops).run()
  assert.match(String(menus(scoped)[0].message), /· 2 nodes named with -d · selected: all 2 nodes$/)
  assert.deepEqual(confirms(scoped), ['Stop all 2 nodes named with -d (a@h, b@h) consuming from queue q1 via redis://localhost:6379/0?'])
})

test('names, ids and queues from the wire are shown neutralised in every new choice and question', () => {
  const evil = 'ev\u001b]52;c;aGk=\u0007il\u202e@h'
  const clean = (s: string) => assert.doesNotMatch(s, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/, JSON.stringify(s))
  clean(targetText([evil, 'b@h'], [evil, 'b@h']))
  clean(targetText([evil], [evil]))
  clean(nodesText([evil, 'a', 'b', 'c'], [evil, 'a', 'b', 'c', 'd']))
  for (const c of pickerChoices([evil, 'b@h'], 'e', [])) clean(c.name)
  for (const c of pickerChoices([evil, `${evil}2`], '', [])) clean(c.name)
  for (const c of taskChoices([{id: evil, name: evil, node: evil, state: 'active'}], 80)) clean(c.name)
  const q = ACTIONS.find((a) => a.name === 'add-consumer')!.questions[0]
  for (const c of valueChoices([{value: 'ok', nodes: [evil]}], undefined, q, 80)) clean(`${c.name} ${c.description}`)
  for (const c of valueChoices([], 'x\u001b[2J', q, 80)) clean(`${c.name} ${String(c.disabled)}`)
  // A queue name that could never be sent is not offered.
  assert.deepEqual(valueChoices([{value: evil, nodes: ['a']}], undefined, q, 80), [])
  // A long line is cut to the screen.
  assert.ok(taskChoices([{id: 'x'.repeat(36), name: 'y'.repeat(80), node: 'n@h', state: 'active'}], 80)[0].name.length <= 74)
})
