// The decisions of src/fleet/drain.ts that need no broker: how a queue is restored, when a node
// counts as drained, the exit code; and the text src/render/drain.ts makes of a result.
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {consumedQueue, drainExitCode, isDrained, queuesOf, restoreOf, scheduledOf, shellWord, type DrainNode, type DrainResult} from '../../src/fleet/drain.js'
import {drainLine, progressLines, restoreLines, scheduledNotes} from '../../src/render/drain.js'
import type {ShutdownResult} from '../../src/fleet/shutdown.js'

const celeryQueue = (name: string, exchange: string, type: string, routingKey: string) => ({
  name, exchange: {name: exchange, type, arguments: null, durable: true}, routing_key: routingKey, queue_arguments: null, durable: true, exclusive: false,
})

function result(nodes: Record<string, Partial<DrainNode>>, extra: Partial<DrainResult> = {}): DrainResult {
  const full = Object.fromEntries(Object.entries(nodes).map(([n, o]) => [n, {state: 'drained', active: 0, reserved: 0, scheduled: 0, cancelled: [], ...o} as DrainNode]))
  const names = Object.keys(full)
  return {
    method: 'drain', nodes: full, missing: [], restore: [], shutdown: null, shutdownRequested: false, elapsedMs: 1200, waitMs: 600_000, interrupted: null,
    drained: names.filter((n) => full[n].state === 'drained'),
    notDrained: names.filter((n) => full[n].state !== 'drained' && full[n].state !== 'no-answer'),
    ...extra,
  }
}

function shutdown(states: Record<string, 'stopped' | 'stopping' | 'running' | 'unknown'>): ShutdownResult {
  const nodes = Object.fromEntries(Object.entries(states).map(([n, state]) => [n, {state, activeTasks: 0}]))
  const inState = (s: string) => Object.keys(states).filter((n) => states[n] === s)
  return {
    method: 'shutdown', replies: {}, missing: [], errors: {}, duplicates: [], elapsedMs: 5, nodes,
    stopped: inState('stopped'), stopping: inState('stopping'), running: inState('running'),
    verified: true, waited: true, taskEvents: false, taskEventsNotHeard: [],
  }
}

describe('drain: restoring cancelled queues', () => {
  test('a queue bound as add_consumer binds by default needs only its name', () => {
    assert.deepEqual(consumedQueue(celeryQueue('default', 'default', 'direct', 'default')), {queue: 'default'})
    assert.equal(restoreOf('celery@a', {queue: 'default'}).command, 'wfctl control add-consumer default -d celery@a')
  })

  test('exchange, type and routing key are kept where they differ from the defaults, and quoted for a shell', () => {
    const q = consumedQueue(celeryQueue('urgent', 'events', 'topic', 'urgent.#'))
    assert.deepEqual(q, {queue: 'urgent', exchange: 'events', exchangeType: 'topic', routingKey: 'urgent.#'})
    const r = restoreOf('celery@a', q!, ['--control-exchange', 'mine'])
    assert.deepEqual(r.args, {queue: 'urgent', exchange: 'events', exchange_type: 'topic', routing_key: 'urgent.#'})
    assert.equal(r.command, "wfctl control add-consumer urgent -d celery@a --exchange events --exchange-type topic --routing-key 'urgent.#' --control-exchange mine")
  })

  test("shellWord leaves safe words bare and single-quotes the rest, quotes included", () => {
    assert.equal(shellWord('celery@web-1.example:x'), 'celery@web-1.example:x')
    assert.equal(shellWord('a b'), "'a b'")
    assert.equal(shellWord("it's"), "'it'\\''s'")
    assert.equal(shellWord('$(rm -rf /)'), "'$(rm -rf /)'")
  })

  test('an active_queues answer that is not a list of named queues is refused (nothing is cancelled on that node)', () => {
    assert.equal(queuesOf({error: 'no'}), undefined)
    assert.equal(queuesOf([{exchange: {}}]), undefined)
    assert.deepEqual(queuesOf([]), [])
    assert.deepEqual(queuesOf([celeryQueue('a', 'a', 'direct', 'a'), celeryQueue('a', 'a', 'direct', 'a')]), [{queue: 'a'}], 'a queue listed twice is cancelled once')
  })

  test('scheduled entries give the task id, name and ETA', () => {
    assert.deepEqual(scheduledOf([{eta: '2030-01-01T00:00:00+00:00', priority: 6, request: {id: 't1', name: 'x.y'}}]), [{id: 't1', name: 'x.y', eta: '2030-01-01T00:00:00+00:00'}])
    assert.equal(scheduledOf([{eta: 'x', request: {}}]), undefined)
    assert.equal(scheduledOf('nope'), undefined)
  })
})

describe('drain: when a node is drained, and the exit code', () => {
  test('drained only when it answered, its cancelled queues are gone, and it has no active and no reserved task', () => {
    assert.equal(isDrained({answered: true, active: [], reserved: []}, true), true)
    assert.equal(isDrained({answered: true, active: [], reserved: []}, false), false, 'still consuming a cancelled queue')
    assert.equal(isDrained({answered: true, active: [{}], reserved: []}, true), false)
    assert.equal(isDrained({answered: true, active: [], reserved: [{}]}, true), false)
    assert.equal(isDrained({answered: false}, true), false, 'silence is not idleness')
  })

  test('exit 0 only when every node drained — and, with --shutdown, stopped', () => {
    assert.equal(drainExitCode(result({a: {}, b: {}})), 0)
    assert.equal(drainExitCode(result({a: {}, b: {state: 'busy', active: 1}})), 1)
    assert.equal(drainExitCode(result({a: {}, g: {state: 'no-answer'}})), 1, 'a node that did not answer at the start')
    assert.equal(drainExitCode(result({})), 1, 'no node at all')
    assert.equal(drainExitCode(result({a: {}}, {shutdownRequested: true, shutdown: shutdown({a: 'stopped'})})), 0)
    assert.equal(drainExitCode(result({a: {}}, {shutdownRequested: true, shutdown: shutdown({a: 'running'})})), 1)
    assert.equal(drainExitCode(result({a: {}}, {shutdownRequested: true, shutdown: null})), 1)
    assert.equal(drainExitCode(result({a: {}}, {interrupted: 'waiting'})), 130)
  })
})

describe('drain: text', () => {
  test('the summary says how many drained, stopped, and which did not', () => {
    assert.equal(drainLine(result({a: {}, b: {state: 'busy'}})), '1 of 2 nodes drained (1.2s), not drained within --wait 600.0s: b')
    assert.equal(drainLine(result({a: {}}, {shutdownRequested: true, shutdown: shutdown({a: 'stopped'})})), '1 of 1 node drained (1.2s), 1 stopped')
    assert.equal(drainLine(result({})), 'no worker answered: nothing was drained')
  })

  test('restore lines come under a heading, and nothing is printed when no queue was cancelled', () => {
    assert.deepEqual(restoreLines(result({a: {}})), [])
    const r = result({a: {cancelled: ['q']}}, {restore: [restoreOf('a', {queue: 'q'})]})
    assert.deepEqual(restoreLines(r), ['to restore the cancelled queues (with the broker flags of this drain):', '  wfctl control add-consumer q -d a'])
  })

  test('ETA tasks get a note naming them; plain progress lines only when the counts change', () => {
    const notes = scheduledNotes(result({a: {scheduled: 1, scheduledTasks: [{id: 't', name: 'x', eta: 'E'}]}}), 'redis')
    assert.equal(notes.length, 1)
    assert.match(notes[0], /^note: a holds 1 ETA\/countdown task \(scheduled: x\[t\] eta E\): .*visibility timeout/)
    const last = new Map<string, string>()
    const p = {elapsedMs: 0, waitMs: 1000, nodes: [{node: 'a', active: 1, reserved: 0, scheduled: 0, drained: false, answered: true}]}
    assert.equal(progressLines(p, last).length, 1)
    assert.equal(progressLines({...p, elapsedMs: 500}, last).length, 0)
  })
})
