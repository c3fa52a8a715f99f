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

test('a hint when the broker says nobody listens', () => {
  assert.match(silenceHint(result({listeners: 0}), 'channel /5.celery.pidbox')!, /nobody listens on channel \/5\.celery\.pidbox/)
  assert.equal(silenceHint(result({listeners: null}), 'x'), undefined)
  assert.equal(silenceHint(result({listeners: 0, replies: {a: 1}}), 'x'), undefined)
})

test('shutdown: each node stopped, still running, or unverifiable', () => {
  const r: ShutdownResult = {method: 'shutdown', replies: {}, missing: ['z@h'], errors: {}, duplicates: [], elapsedMs: 1500, stopped: ['a@h'], running: ['b@h'], verified: true}
  const out = shutdownTable(r, view)
  assert.match(out, /a@h\s+stopped/)
  assert.match(out, /b@h\s+still running/)
  assert.match(out, /z@h\s+no answer before shutdown \(not running, or busy\)/)
  assert.equal(shutdownLine(r), '1 of 2 nodes stopped (1.5s), still running: b@h, not verified, no answer before shutdown: z@h')
  assert.equal(shutdownLine({...r, verified: false}), 'shutdown sent; not verified (--no-wait)')
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
