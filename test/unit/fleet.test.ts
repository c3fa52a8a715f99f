import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {test} from 'node:test'

import {UsageError} from '../../src/errors.ts'
import {exitCodeOf, summarize} from '../../src/fleet/outcome.ts'
import {awaitedNodes, completionOf, parseDestinations, parseExpect} from '../../src/fleet/roster.ts'
import type {Collected} from '../../src/protocol/collector.ts'
import type {CallResult} from '../../src/protocol/mailbox.ts'

function collected(...nodes: string[]): Collected {
  return {replies: nodes.map((node) => ({node, payload: {ok: 'pong'}, latencyMs: 1})), undecodable: [], foreign: 0}
}
function call(c: Collected, over: Partial<CallResult> = {}): CallResult {
  return {...c, request: {method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null}, elapsedMs: 5, complete: false, ...over}
}

test('destinations: repeatable, comma lists, trimmed, deduplicated', () => {
  assert.deepEqual(parseDestinations(['a@h,b@h', ' c@h ', 'a@h']), ['a@h', 'b@h', 'c@h'])
  assert.deepEqual(parseDestinations(undefined), [])
  assert.throws(() => parseDestinations(['a@h,,b@h']), UsageError)
  assert.throws(() => parseDestinations(['a b@h']), UsageError)
})

test('--expect: a count, names, or @file with comments', () => {
  assert.deepEqual(parseExpect('3'), {count: 3})
  assert.deepEqual(parseExpect('a@h,b@h'), {names: ['a@h', 'b@h']})
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-'))
  writeFileSync(join(dir, 'roster'), '# fleet\na@h\n\nb@h  # batch\n')
  assert.deepEqual(parseExpect(`@${join(dir, 'roster')}`), {names: ['a@h', 'b@h']})
  writeFileSync(join(dir, 'empty'), '# nobody\n')
  assert.throws(() => parseExpect(`@${join(dir, 'empty')}`), /names no node/)
  assert.throws(() => parseExpect('@/nonexistent/file'), /cannot read roster file/)
  assert.throws(() => parseExpect('0'), UsageError)
  assert.equal(parseExpect(undefined), undefined)
})

test('completion: every destination or expected node, or the count; a broadcast never', () => {
  assert.equal(completionOf([], undefined), undefined)
  const byDest = completionOf(['a@h', 'b@h'], undefined)!
  assert.equal(byDest(collected('a@h')), false)
  assert.equal(byDest(collected('b@h', 'a@h')), true)
  const byCount = completionOf([], {count: 2})!
  assert.equal(byCount(collected('a@h', 'a@h')), false, 'a duplicate name is one node')
  assert.equal(byCount(collected('a@h', 'b@h')), true)
  const byNames = completionOf(['a@h'], {names: ['b@h']})!
  assert.equal(byNames(collected('b@h')), false)
  assert.equal(byNames(collected('b@h', 'a@h')), true)
  assert.deepEqual(awaitedNodes(['a@h'], {names: ['a@h', 'b@h']}), ['a@h', 'b@h'])
})

test('summary: payloads untouched, missing, errors, duplicates kept visible', () => {
  const c = collected('a@h', 'b@h', 'a@h')
  c.replies.push({node: 'e@h', payload: {error: "KeyError('x')"}, latencyMs: 3})
  const r = summarize('ping', call(c), [], {names: ['a@h', 'b@h', 'e@h', 'z@h']})
  assert.deepEqual(r.replies, {'a@h': {ok: 'pong'}, 'b@h': {ok: 'pong'}, 'e@h': {error: "KeyError('x')"}})
  assert.deepEqual(r.missing, ['z@h'])
  assert.deepEqual(r.errors, {'e@h': "KeyError('x')"})
  assert.deepEqual(r.duplicates, ['a@h'])
  assert.equal(r.expected, 4)
  assert.equal(exitCodeOf(r), 1)
})

test('exit codes: 0 complete, 1 partial or error, 69 nobody', () => {
  assert.equal(exitCodeOf(summarize('ping', call(collected('a@h')), [], undefined)), 0)
  assert.equal(exitCodeOf(summarize('ping', call(collected()), [], undefined)), 69)
  assert.equal(exitCodeOf(summarize('ping', call(collected()), ['a@h'], undefined)), 69)
  assert.equal(exitCodeOf(summarize('ping', call(collected('a@h')), ['a@h', 'b@h'], undefined)), 1)
  assert.equal(exitCodeOf(summarize('ping', call(collected('a@h')), [], {count: 2})), 1)
  assert.equal(exitCodeOf(summarize('ping', call(collected('a@h', 'b@h')), [], {count: 2})), 0)
  const err = collected()
  err.replies.push({node: 'a@h', payload: {error: 'unknown task'}, latencyMs: 1})
  assert.equal(exitCodeOf(summarize('rate_limit', call(err), [], undefined)), 1)
  const undecodable: Collected = {replies: [], undecodable: [{reason: 'pickle', latencyMs: 1}], foreign: 0}
  assert.equal(exitCodeOf(summarize('ping', call(undecodable), [], undefined)), 1)
})
