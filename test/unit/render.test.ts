import assert from 'node:assert/strict'
import {test} from 'node:test'

import type {FleetResult} from '../../src/fleet/outcome.ts'
import type {ShutdownResult} from '../../src/fleet/shutdown.ts'
import {payloadText, repliesTable, shorten, shutdownLine, shutdownTable, silenceHint, statusLine, statusTable, summaryLine} from '../../src/render/text.ts'

const view = {color: false, columns: 80}
function result(over: Partial<FleetResult> = {}): FleetResult {
  return {method: 'ping', replies: {}, missing: [], errors: {}, duplicates: [], duplicateReplies: {}, elapsedMs: 12, latencyMs: {}, expected: null, undecodable: [], listeners: null, ...over}
}

test('payloads read as text: ok, error, else compact JSON', () => {
  assert.equal(payloadText({ok: 'pong'}), 'pong')
  assert.equal(payloadText({error: 'unknown task'}), 'unknown task')
  assert.equal(payloadText(null), 'null')
  assert.equal(payloadText([{id: 1}]), '[{"id":1}]')
  assert.equal(shorten('abcdef', 4), 'abc…')
  assert.equal(shorten('abc', 4), 'abc')
})

test('the reply table names each node, its status and latency, fits 80 columns, and lists silent ones', () => {
  const r = result({
    replies: {'w2@h': {ok: 'pong'}, 'w1@h': {error: 'x'.repeat(200)}},
    latencyMs: {'w1@h': 3.4, 'w2@h': 5},
    errors: {'w1@h': 'x'.repeat(200)},
    missing: ['w3@h'],
  })
  const out = repliesTable(r, view)
  const lines = out.split('\n')
  assert.match(lines[0], /NODE\s+STATUS\s+LATENCY\s+REPLY/)
  assert.match(lines[1], /w1@h\s+ERROR\s+3 ms\s+x+…/)
  assert.match(lines[2], /w2@h\s+OK\s+5 ms\s+pong/)
  assert.match(lines[3], /w3@h\s+missing/)
  for (const line of lines) assert.ok(line.length <= 80, `too wide: ${line.length}`)
  assert.ok(!out.includes('\u001b['), 'no colour when disabled')
})

test('summary lines, as the contract shows them', () => {
  assert.equal(summaryLine(result({replies: {a: 1, b: 1, c: 1}, missing: ['w4@host']})), '3 nodes replied, 1 missing: w4@host (12 ms)')
  assert.equal(summaryLine(result({replies: {a: 1}, expected: 3})), '1 of 3 expected nodes replied (12 ms)')
  assert.equal(summaryLine(result({replies: {a: 1}, duplicates: ['a']})), '1 node replied, duplicate node names: a (12 ms)')
  assert.equal(summaryLine(result({undecodable: [{reason: 'x'}, {reason: 'y'}]})), '0 nodes replied, 2 undecodable replies (12 ms)')
  assert.equal(statusLine(result({replies: {a: 1, b: 1}})), '2 nodes online.')
  assert.match(statusTable(result({replies: {'a@h': {ok: 'pong'}}, latencyMs: {'a@h': 2}}), view), /a@h\s+online\s+2 ms/)
})

test('a broadcast heard by more mailboxes than replied says so (Redis); nothing when the count is not known', () => {
  assert.equal(summaryLine(result({replies: {a: 1, b: 1}, listeners: 3, unanswered: 1})), '2 nodes replied, 3 mailboxes heard it, 2 replied (12 ms)')
  assert.equal(summaryLine(result({replies: {a: 1}, listeners: 2, unanswered: 1})), '1 node replied, 2 mailboxes heard it, 1 replied (12 ms)')
  assert.equal(summaryLine(result({replies: {a: 1, b: 1}, listeners: 2, unanswered: 0})), '2 nodes replied (12 ms)')
  assert.equal(summaryLine(result({replies: {a: 1, b: 1}, listeners: null, unanswered: null})), '2 nodes replied (12 ms)')
  assert.equal(statusLine(result({replies: {a: 1, b: 1}, listeners: 3, unanswered: 1})), '2 nodes online, 3 mailboxes heard the ping, 2 replied.')
  assert.equal(statusLine(result({replies: {a: 1}, listeners: 2, unanswered: 0})), '1 node online.')
  assert.match(silenceHint(result({replies: {a: 1}, listeners: 2, unanswered: 1}), 'x')!, /hears the broadcast but does not reply is a worker blocked or busy/)
  assert.equal(silenceHint(result({replies: {a: 1}, listeners: 1, unanswered: 0}), 'x'), undefined)
})

test('a hint when the broker says nobody listens', () => {
  assert.match(silenceHint(result({listeners: 0}), 'channel /5.celery.pidbox')!, /nobody listens on channel \/5\.celery\.pidbox/)
  assert.equal(silenceHint(result({listeners: null}), 'x'), undefined)
  assert.equal(silenceHint(result({listeners: 0, replies: {a: 1}}), 'x'), undefined)
})

test('shutdown: each node stopped, stopping (naming its tasks), still running, or unknown', () => {
  const r: ShutdownResult = {
    method: 'shutdown', replies: {}, missing: ['z@h'], errors: {}, duplicates: [], elapsedMs: 1500,
    stopped: ['a@h', 'e@h'], stopping: ['s@h'], running: ['b@h'],
    nodes: {
      'a@h': {state: 'stopped', activeTasks: 0},
      'e@h': {state: 'stopped', activeTasks: 0, finished: [{id: 'id-2', name: 'proj.done'}]},
      's@h': {state: 'stopping', activeTasks: 1, tasks: [{id: 'id-1', name: 'proj.sleepy'}]},
      'b@h': {state: 'running', activeTasks: 0},
      'z@h': {state: 'unknown', activeTasks: null, reason: 'no answer before the shutdown'},
    },
    verified: false, waited: true, taskEvents: true, taskEventsNotHeard: ['s@h'],
  }
  const out = shutdownTable(r, {...view, columns: 200})
  assert.match(out, /^a@h\s+stopped\s+was idle$/m)
  assert.match(out, /^e@h\s+stopped\s+after 1 task ended: proj\.done\[id-2\]$/m)
  assert.match(out, /^s@h\s+stopping\s+exits when its task ends: proj\.sleepy\[id-1\]$/m)
  assert.match(out, /^b@h\s+still running\s+still answers$/m)
  assert.match(out, /^z@h\s+unknown\s+no answer before the shutdown$/m)
  assert.equal(shutdownLine(r), '2 of 5 nodes stopped (1.5s), stopping, tasks still running: s@h, still running: b@h, unknown: z@h')
  assert.equal(shutdownLine({...r, waited: false}), 'shutdown sent; not verified (--no-wait)')
  assert.equal(shutdownLine({...r, nodes: {}, stopped: [], stopping: [], running: []}), 'no worker answered before the shutdown: nothing was verified')
})

test('a name that replied twice gets a row per reply, each marked, so no worker answer is hidden', () => {
  const r = result({
    method: 'pool_grow',
    replies: {'w1@h': {error: 'busy'}},
    duplicates: ['w1@h'],
    duplicateReplies: {'w1@h': [{ok: 'pool will grow'}, {error: 'busy'}]},
    errors: {'w1@h': 'busy'},
  })
  const rows = repliesTable(r, view).split('\n').slice(1)
  assert.equal(rows.length, 2)
  assert.match(rows[0], /^w1@h\s+OK\s+.*pool will grow \(duplicate name\)$/)
  assert.match(rows[1], /^w1@h\s+ERROR\s+.*busy \(duplicate name\)$/)
})

test('a node whose reply could not be read answered: its error shows in every table, it is not hidden', () => {
  const r = result({replies: {'a@h': {ok: 'pong'}}, errors: {'b@h': 'reply from b@h: unsupported content type application/x-python-serialize'}, latencyMs: {'a@h': 2}})
  const rows = repliesTable(r, view).split('\n')
  assert.equal(rows.length, 3)
  assert.match(rows[2], /^b@h\s+ERROR\s+-\s+reply from b@h: unsupported content type/)
  assert.match(statusTable(r, view), /^b@h\s+error\s+-$/m)
})
