import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {test} from 'node:test'

import {UsageError} from '../../src/errors.ts'
import {exitCodeOf, summarize} from '../../src/fleet/outcome.ts'
import {awaitedNodes, checkRoster, completionOf, parseDestinations, parseExpect} from '../../src/fleet/roster.ts'
import type {Collected} from '../../src/protocol/collector.ts'
import type {CallResult} from '../../src/protocol/mailbox.ts'

function collected(...nodes: string[]): Collected {
  return {replies: nodes.map((node) => ({node, payload: {ok: 'pong'}, latencyMs: 1})), nodes: new Set(nodes), undecodable: [], foreign: 0}
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
  rmSync(dir, {recursive: true, force: true})
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
  err.nodes.add('a@h')
  assert.equal(exitCodeOf(summarize('rate_limit', call(err), [], undefined)), 1)
  const undecodable: Collected = {replies: [], nodes: new Set(), undecodable: [{reason: 'pickle', latencyMs: 1}], foreign: 0}
  assert.equal(exitCodeOf(summarize('ping', call(undecodable), [], undefined)), 1)
})

test('a node whose reply could not be read answered: an error, not missing, and the exit code is 1', () => {
  const c = collected('b@h')
  c.undecodable.push({reason: 'reply nests deeper than 512 levels', node: 'a@h', latencyMs: 2})
  c.nodes.add('a@h')
  const result = summarize('ping', call(c), ['a@h', 'b@h'], undefined)
  assert.deepEqual(result.missing, [])
  assert.deepEqual(result.errors, {'a@h': 'reply nests deeper than 512 levels'})
  assert.deepEqual(result.undecodable, [{reason: 'reply nests deeper than 512 levels', node: 'a@h'}])
  assert.equal(exitCodeOf(result), 1)
})

test('rosters: counts are positive, names are node names, files are small regular files whose content is never echoed', () => {
  for (const bad of ['-1', '0', '+0', '1.5', '99999999999999999999']) assert.throws(() => parseExpect(bad), /positive count/, bad)
  assert.throws(() => parseExpect('@/dev/zero'), /not a regular file/)
  assert.throws(() => parseExpect('@/proc/self'), /not a regular file/)
  assert.throws(() => parseExpect('@'), /needs a file name/)
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-roster-'))
  try {
    writeFileSync(join(dir, 'shadow'), 'root:$y$j9T$abcdefgh$secrethash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n')
    assert.throws(() => parseExpect(`@${join(dir, 'shadow')}`), (e: Error) => /line 1: not a node name/.test(e.message) && !e.message.includes('secrethash') && !e.message.includes('root'))
    writeFileSync(join(dir, 'big'), 'a@h\n'.repeat(300_000))
    assert.throws(() => parseExpect(`@${join(dir, 'big')}`), /larger than 1024 KiB/)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  for (const bad of ['w1\x01@h', 'w1\x1b[2J@h', 'w\u202e1@h', '-x@h']) {
    assert.throws(() => parseDestinations([bad]), UsageError, JSON.stringify(bad))
    assert.throws(() => parseExpect(bad), UsageError, JSON.stringify(bad))
  }
  assert.deepEqual(parseDestinations(['celery@airflow-worker-0.airflow.svc:1', 'w_1+x=y~%@h']), ['celery@airflow-worker-0.airflow.svc:1', 'w_1+x=y~%@h'])
})

test('unanswered: the mailboxes that heard a plain broadcast and sent no reply, known only when the broker counts them', () => {
  const two = collected('a@h', 'b@h')
  assert.equal(summarize('ping', call(two, {listeners: 3}), [], undefined).unanswered, 1)
  assert.equal(summarize('ping', call(two, {listeners: 2}), [], undefined).unanswered, 0)
  // RabbitMQ: not known.
  assert.equal(summarize('ping', call(two), [], undefined).unanswered, null)
  // Addressed: every mailbox hears it, only some are meant to answer.
  const addressed = call(two, {listeners: 5, request: {method: 'ping', arguments: {}, destination: ['a@h', 'b@h'], pattern: null, matcher: null}})
  assert.equal(summarize('ping', addressed, ['a@h', 'b@h'], undefined).unanswered, null)
  const pattern = call(two, {listeners: 5, request: {method: 'ping', arguments: {}, destination: null, pattern: '*', matcher: 'glob'}})
  assert.equal(summarize('ping', pattern, [], undefined).unanswered, null)
  // An early exit (--expect reached) has not waited for the others.
  assert.equal(summarize('ping', call(two, {listeners: 3, complete: true}), [], {count: 2}).unanswered, null)
  // Same-named workers are mailboxes of their own: their replies count, not their names.
  assert.equal(summarize('ping', call(collected('a@h', 'a@h'), {listeners: 2}), [], undefined).unanswered, 0)
  // One subscription serving many simulated workers never goes below 0.
  assert.equal(summarize('ping', call(collected('a@h', 'b@h', 'c@h'), {listeners: 1}), [], undefined).unanswered, 0)
})

test('checkRoster: a roster the request can never satisfy is refused', () => {
  const ok = (target: Parameters<typeof checkRoster>[0], roster: Parameters<typeof checkRoster>[1]) => assert.doesNotThrow(() => checkRoster(target, roster))
  const bad = (target: Parameters<typeof checkRoster>[0], roster: Parameters<typeof checkRoster>[1], message: RegExp) =>
    assert.throws(() => checkRoster(target, roster), (e: Error) => e instanceof UsageError && message.test(e.message))
  ok({destination: ['a@h']}, undefined)
  ok({destination: []}, {count: 5})
  ok({destination: ['a@h', 'b@h']}, {count: 2})
  ok({destination: ['a@h', 'b@h']}, {names: ['a@h']})
  ok({pattern: 'w*@h', matcher: 'glob'}, {names: ['w1@h', 'w2@h']})
  ok({pattern: 'w', matcher: 'pcre'}, {names: ['w1@h']})
  bad({destination: ['w1@h']}, {count: 2}, /--expect 2 cannot be met by 1 -d node/)
  bad({destination: ['a@h', 'b@h', 'c@h']}, {count: 2}, /--expect 2 cannot be met by 3 -d nodes/)
  bad({destination: ['a@h']}, {names: ['a@h', 'ghost@h']}, /--expect names ghost@h, which -d does not address/)
  bad({pattern: 'w*@h', matcher: 'glob'}, {names: ['w1@h', 'x1@h']}, /x1@h, which --pattern "w\*@h" \(glob\) does not match/)
  bad({pattern: 'w1$', matcher: 'pcre'}, {names: ['w1@h']}, /does not match/)
})
