import assert from 'node:assert/strict'
import {test} from 'node:test'

import {InterruptedError} from '../../src/errors.ts'
import {Explorer, type ExplorerOps} from '../../src/explorer/explorer.ts'
import {ACTIONS, crossCheck, nodesText, validateWith, VIEWS} from '../../src/explorer/menu.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'

function result(method: string, replies: Record<string, unknown>): FleetResult {
  return {method, replies, missing: [], errors: {}, duplicates: [], duplicateReplies: {}, elapsedMs: 3, latencyMs: {}, expected: null, undecodable: [], listeners: null}
}

class AbortPromptError extends Error {
  override name = 'AbortPromptError'
}
class ExitPromptError extends Error {
  override name = 'ExitPromptError'
}

/** A fake fleet and a scripted operator: each answer is a value, or an error the prompt throws. */
function harness(answers: unknown[]) {
  const calls: {method: string; args: Record<string, unknown>; nodes: string[]}[] = []
  const shown: string[] = []
  const notes: string[] = []
  const questions: Record<string, unknown>[] = []
  const interrupt = new AbortController()
  const ops: ExplorerOps = {
    broker: 'redis://localhost:6379/0',
    discover: async () => result('ping', {'b@h': {ok: 'pong'}, 'a@h': {ok: 'pong'}}),
    call: async (method, args, nodes) => {
      calls.push({method, args, nodes})
      return result(method, Object.fromEntries(nodes.map((n) => [n, {ok: 'done'}])))
    },
    shutdown: async (nodes) => ({method: 'shutdown', replies: {}, missing: [], errors: {}, duplicates: [], elapsedMs: 1, stopped: nodes, stopping: [], running: [], nodes: Object.fromEntries(nodes.map((n) => [n, {state: 'stopped' as const, activeTasks: 0}])), verified: true, waited: true, taskEvents: false, taskEventsNotHeard: []}),
    show: (text) => shown.push(text),
    note: (text) => notes.push(text),
    render: {status: (r) => `status ${Object.keys(r.replies).join(',')}`, view: (r) => `view ${r.method}`, replies: (r) => `replies ${r.method}`, shutdown: (r) => `stopped ${r.stopped.join(',')}`},
    signal: interrupt.signal,
    prompt: async (question) => {
      questions.push(question)
      const next = answers.shift()
      if (next instanceof Error) throw next
      if (next === undefined) throw new Error(`no scripted answer for ${JSON.stringify(question.message)}`)
      if (question.type === 'input' && typeof question.validate === 'function') {
        const verdict = (question.validate as (v: string) => true | string)(next as string)
        if (verdict !== true) throw new Error(`scripted answer ${JSON.stringify(next)} refused: ${verdict}`)
      }
      return next
    },
  }
  return {ops, calls, shown, notes, questions, interrupt}
}

test('discovers, picks a node, reads a view, runs an action, and quits', async () => {
  const h = harness(['pick', 'a@h', 'view:active-queues', 'action:add-consumer', 'reports', 'view:active-queues', 'quit'])
  await new Explorer(h.ops).run()
  assert.deepEqual(h.shown[0], 'status b@h,a@h')
  assert.deepEqual(h.calls, [
    {method: 'active_queues', args: {}, nodes: ['a@h']},
    {method: 'add_consumer', args: {queue: 'reports'}, nodes: ['a@h']},
    {method: 'active_queues', args: {}, nodes: ['a@h']},
  ])
  assert.deepEqual(h.shown.slice(1), ['view active_queues', 'replies add_consumer', 'view active_queues'])
  assert.match(String(h.questions[0].message), /redis:\/\/localhost:6379\/0 · 2 nodes · selected: all 2 nodes/)
  assert.match(String(h.questions[2].message), /selected: a@h$/)
})

test('every view and action of the contract is on the menu', () => {
  assert.deepEqual(VIEWS.map((v) => v.method), ['active', 'reserved', 'scheduled', 'stats', 'active_queues', 'registered', 'revoked', 'conf'])
  assert.deepEqual(ACTIONS.map((a) => a.method), ['add_consumer', 'cancel_consumer', 'pool_grow', 'pool_shrink', 'pool_restart', 'autoscale', 'rate_limit', 'time_limit', 'query_task', 'revoke', 'terminate', 'shutdown'])
})

test('answers are validated in the prompt with the command-line validators', () => {
  const rate = ACTIONS.find((a) => a.name === 'rate-limit')!
  assert.equal(validateWith(rate.questions[1])('10/m'), true)
  assert.match(String(validateWith(rate.questions[1])('5/d')), /RATE must look like/)
  const grow = ACTIONS.find((a) => a.name === 'pool-grow')!
  assert.match(String(validateWith(grow.questions[0])('0')), /positive integer/)
  const revoke = ACTIONS.find((a) => a.name === 'revoke')!
  assert.match(String(validateWith(revoke.questions[1])('FOO')), /not a signal name/)
  assert.equal(validateWith(revoke.questions[1])(''), true, 'empty: revoke without terminating')
  const autoscale = ACTIONS.find((a) => a.name === 'autoscale')!
  assert.match(String(crossCheck(autoscale, {max: '2', min: '5'})), /MIN \(5\) must not be greater than MAX \(2\)/)
  assert.deepEqual(ACTIONS.find((a) => a.name === 'time-limit')!.args({task: 't', soft: '10', hard: ''}), {task_name: 't', soft: 10, hard: null})
  assert.deepEqual(revoke.args({ids: 'x, y', signal: 'kill'}), {task_id: ['x', 'y'], terminate: true, signal: 'KILL'})
  assert.equal(nodesText(['a@h', 'b@h'], ['a@h', 'b@h']), 'all 2 nodes')
  assert.equal(nodesText(['a@h'], ['a@h', 'b@h']), 'a@h')
})

test('destructive actions confirm naming the nodes; "no" sends nothing', async () => {
  const h = harness(['action:shutdown', '', false, 'action:revoke', 'id-1', 'TERM', false, 'action:pool-shrink', '1', false, 'quit'])
  await new Explorer(h.ops).run()
  assert.deepEqual(h.calls, [])
  const confirms = h.questions.filter((q) => q.type === 'confirm').map((q) => String(q.message))
  assert.equal(confirms.length, 3)
  assert.match(confirms[0], /^Shut down all 2 nodes \(a@h, b@h\) via redis:\/\/localhost:6379\/0\?$/)
  assert.match(confirms[1], /^Terminate task id-1 with SIGTERM on all 2 nodes \(a@h, b@h\) via /)
  assert.match(confirms[2], /^Shrink the pool of all 2 nodes \(a@h, b@h\) by 1 via /)
  assert.deepEqual(h.notes, ['not confirmed: nothing was sent', 'not confirmed: nothing was sent', 'not confirmed: nothing was sent'])
})

test('a confirmed shutdown stops the nodes and rediscovers; pool-shrink of one node asks nothing', async () => {
  const h = harness(['pick', 'b@h', 'action:pool-shrink', '1', 'action:shutdown', '', true, 'quit'])
  await new Explorer(h.ops).run()
  assert.deepEqual(h.calls, [{method: 'pool_shrink', args: {n: 1}, nodes: ['b@h']}])
  assert.ok(h.shown.includes('stopped b@h'))
  assert.equal(h.shown.filter((s) => s.startsWith('status')).length, 2, 'discovered again after the shutdown')
})

test('Escape goes back from a question and quits from the menu; Ctrl-C and signals leave with an interrupt', async () => {
  const back = harness(['action:add-consumer', new AbortPromptError('escape'), new AbortPromptError('escape')])
  await new Explorer(back.ops).run()
  assert.deepEqual(back.calls, [])
  const ctrlC = harness(['view:stats', new ExitPromptError('ctrl-c')])
  await assert.rejects(new Explorer(ctrlC.ops).run(), (e) => e instanceof InterruptedError)
  const signalled = harness([])
  signalled.ops.prompt = async () => {
    signalled.interrupt.abort('SIGTERM')
    throw new AbortPromptError('aborted')
  }
  await assert.rejects(new Explorer(signalled.ops).run(), (e) => e instanceof InterruptedError && /SIGTERM/.test(e.message))
})

test('an action with an invalid combination is not sent', async () => {
  const h = harness(['action:autoscale', '2', '5', 'quit'])
  await new Explorer(h.ops).run()
  assert.deepEqual(h.calls, [])
  assert.match(h.notes[0], /not sent: MIN \(5\) must not be greater than MAX \(2\)/)
})

test('the status line counts nodes in words: "1 node", "2 nodes"', async () => {
  const h = harness(['quit'])
  h.ops.discover = async () => result('ping', {'a@h': {ok: 'pong'}})
  await new Explorer(h.ops).run()
  assert.match(String(h.questions[0].message), /· 1 node · selected: a@h$/)
})
