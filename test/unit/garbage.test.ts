import assert from 'node:assert/strict'
import {test} from 'node:test'

import {ExitCode} from '../../src/errors.ts'
import {exitCodeOf, summarize, type FleetResult} from '../../src/fleet/outcome.ts'
import type {Roster} from '../../src/fleet/roster.ts'
import {ReplyCollector, decodeReply, type Collected} from '../../src/protocol/collector.ts'
import type {CallResult} from '../../src/protocol/mailbox.ts'
import type {ReceivedMessage} from '../../src/wire/message.ts'

/*
 * A test that feeds garbage replies to the collector: whatever lands in the reply queue, nothing
 * throws, valid replies are kept as sent, the rest is reported, and the exit code follows the
 * contract (0 complete, 1 partial / errors / undecodable, 69 nobody).
 */

const TICKET = '7d3f1c2e-9a4b-4c5d-8e6f-0a1b2c3d4e5f'
const PUBLISHED_AT = 1000

function msg(body: string | Buffer, over: Partial<ReceivedMessage> = {}): ReceivedMessage {
  return {body: Buffer.isBuffer(body) ? body : Buffer.from(body), contentType: 'application/json', contentEncoding: 'utf-8', headers: {ticket: TICKET, clock: 12}, receivedAt: PUBLISHED_AT + 5, ...over}
}

function reply(node: string, payload: unknown, over: Partial<ReceivedMessage> = {}): ReceivedMessage {
  return msg(JSON.stringify({[node]: payload}), over)
}

/** A CallResult built from the collector as Mailbox.call builds it. */
function callOf(collected: Collected, over: Partial<CallResult> = {}): CallResult {
  return {...collected, request: {method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null, ticket: TICKET}, listeners: 3, elapsedMs: 1000, complete: false, ...over}
}

function collect(messages: ReceivedMessage[]): {collector: ReplyCollector; accepted: boolean[]} {
  const collector = new ReplyCollector(TICKET, () => PUBLISHED_AT)
  return {collector, accepted: messages.map((m) => collector.accept(m))}
}

function outcome(messages: ReceivedMessage[], destination: string[] = [], roster?: Roster, method = 'ping'): FleetResult {
  return summarize(method, callOf(collect(messages).collector.collected), destination, roster)
}

// Real payloads (Celery 5.2.6).
const PONG = {ok: 'pong'}
const ACTIVE = [{id: '66356522-936d-4b75-9507-70fa9e51e314', name: 'wfctl_tasks.sleepy', args: [120], kwargs: {}, type: 'wfctl_tasks.sleepy', hostname: 'alpha@vm', time_start: 1795242471.77, acknowledged: true, delivery_info: {exchange: '', routing_key: 'celery', priority: 0, redelivered: null}, worker_pid: 5904}]
const STATS = {total: {'wfctl_tasks.sleepy': 3}, pid: 5900, clock: '1', uptime: 5, pool: {'max-concurrency': 2, processes: [5903, 5904], 'max-tasks-per-child': 'N/A', 'put-guarded-by-semaphore': false, timeouts: [0, 0], writes: {total: 0, avg: '0.00', all: '', raw: '', strategy: 'fair', inqueues: {total: 2, active: 0}}}, broker: {hostname: '127.0.0.1', transport: 'redis'}, prefetch_count: 8, rusage: 'N/A'}
const KEY_ERROR = {error: "KeyError('nosuchcmd')"}

/** Pickle protocol 4 of {'w@h': {'ok': 'pong'}}: never to be deserialized. */
const PICKLE = Buffer.from('80049519000000000000007d948c03774068947d948c026f6b948c04706f6e679473732e', 'hex')
/** msgpack of {"w@h": {"ok": "pong"}}. */
const MSGPACK = Buffer.from('81a3774068' + '81a26f6ba4706f6e67', 'hex')

// ─── decodeReply ────────────────────────────────────────────────────────────────────────────────

test('decodeReply: JSON content types in any case, utf-8 or no encoding; the node is the single key', () => {
  for (const contentType of ['application/json', 'Application/JSON', 'application/x-json', 'text/json']) {
    assert.deepEqual(decodeReply(reply('w1@vm', PONG, {contentType})), {node: 'w1@vm', payload: PONG}, contentType)
  }
  for (const contentEncoding of ['utf-8', 'UTF-8', 'utf8', undefined, '']) {
    assert.deepEqual(decodeReply(reply('w1@vm', STATS, {contentEncoding})), {node: 'w1@vm', payload: STATS}, String(contentEncoding))
  }
})

test('decodeReply: pickle, msgpack, yaml and binary encodings are refused, not read, with the reason and content type', () => {
  assert.deepEqual(decodeReply(msg(PICKLE, {contentType: 'application/x-python-serialize', contentEncoding: 'binary'})), {
    reason: 'undecodable reply: content type application/x-python-serialize is not JSON', contentType: 'application/x-python-serialize',
  })
  // Even a pickle-labelled body that happens to be JSON is never read: the label decides.
  assert.deepEqual(decodeReply(msg('{"evil@h": {"ok": "pong"}}', {contentType: 'application/x-python-serialize'})), {
    reason: 'undecodable reply: content type application/x-python-serialize is not JSON', contentType: 'application/x-python-serialize',
  })
  assert.deepEqual(decodeReply(msg(MSGPACK, {contentType: 'application/x-msgpack', contentEncoding: 'binary'})), {
    reason: 'undecodable reply: content type application/x-msgpack is not JSON', contentType: 'application/x-msgpack',
  })
  assert.deepEqual(decodeReply(msg('w@h:\n  ok: pong\n', {contentType: 'application/x-yaml'})), {
    reason: 'undecodable reply: content type application/x-yaml is not JSON', contentType: 'application/x-yaml',
  })
  assert.deepEqual(decodeReply(msg('{"w@h": {"ok": "pong"}}', {contentEncoding: 'binary'})), {
    reason: 'undecodable reply: content encoding binary is not utf-8', contentType: 'application/json',
  })
  assert.deepEqual(decodeReply(msg('{"w@h": {"ok": "pong"}}', {contentType: undefined})), {reason: 'undecodable reply: content type (none) is not JSON', contentType: undefined})
  assert.deepEqual(decodeReply(msg('{"w@h": {"ok": "pong"}}', {contentType: ''})), {reason: 'undecodable reply: content type  is not JSON', contentType: ''})
})

test('decodeReply: bodies that are not one {node: payload} object are undecodable, each with its reason', () => {
  const reason = (body: string | Buffer) => (decodeReply(msg(body)) as {reason: string}).reason
  for (const body of ['{not json', '', '   ', '{"w@h": {"ok": "pong"}', "{'w@h': 'pong'}", 'NaN x', Buffer.from([0xff, 0xfe, 0x00])]) {
    assert.equal(reason(body), 'undecodable reply: body is not valid JSON', JSON.stringify(String(body)))
  }
  for (const body of ['[{"w@h": {"ok": "pong"}}]', '[]', '"pong"', 'null', '42', 'true']) {
    assert.equal(reason(body), 'foreign reply: body is not a {node: payload} object', body)
  }
  assert.equal(reason('{}'), 'foreign reply: body has 0 keys, a reply names exactly one node')
  assert.equal(reason('{"a@h": {"ok": "pong"}, "b@h": {"ok": "pong"}}'), 'foreign reply: body has 2 keys, a reply names exactly one node')
})

test('decodeReply: payloads of every shape are returned as sent', () => {
  const payloads: unknown[] = [null, [], ACTIVE, 'pong', "KeyError('x')", 0, false, KEY_ERROR, STATS, {clock: '33', __type__: 'datetime'}, {'': {'': [null]}}, 'x'.repeat(100_000)]
  for (const payload of payloads) {
    const decoded = decodeReply(reply('w1@vm', payload))
    assert.deepEqual(decoded, {node: 'w1@vm', payload}, JSON.stringify(payload).slice(0, 40))
  }
})

// ─── the collector, fed a stream of garbage with valid replies in between ───────────────────────

test('a stream of garbage: valid replies kept untouched, undecodable ones reported, foreign tickets counted and dropped', () => {
  const stream: ReceivedMessage[] = [
    reply('alpha@vm', PONG, {receivedAt: PUBLISHED_AT + 3.04}),
    reply('spy@vm', PONG, {headers: {ticket: 'another-ticket'}}),
    reply('spy@vm', PONG, {headers: {}}),
    reply('spy@vm', PONG, {headers: {ticket: null}}),
    reply('spy@vm', PONG, {headers: {ticket: [TICKET]}}),
    reply('spy@vm', PONG, {headers: {ticket: TICKET.toUpperCase()}}),
    msg(PICKLE, {contentType: 'application/x-python-serialize', contentEncoding: 'binary'}),
    reply('beta@vm', null, {receivedAt: PUBLISHED_AT + 7.25}),
    msg(MSGPACK, {contentType: 'application/x-msgpack', contentEncoding: 'binary'}),
    msg('w@h: {ok: pong}', {contentType: 'application/x-yaml'}),
    reply('gamma@vm', ACTIVE),
    msg('{"w@h": {"ok": "pong"}}', {contentEncoding: 'binary'}),
    msg('{"w@h": {"ok": '),
    msg('[{"w@h": {"ok": "pong"}}]'),
    msg('"pong"'),
    msg('null'),
    msg('{}'),
    msg('{"a@h": {"ok": "pong"}, "b@h": {"ok": "pong"}}'),
    reply('delta@vm', KEY_ERROR),
    reply('epsilon@vm', "KeyError('x')"),
    reply('alpha@vm', {ok: 'pong', second: true}, {receivedAt: PUBLISHED_AT + 9}),
    reply('zeta@vm', STATS, {receivedAt: PUBLISHED_AT - 50}),
    reply('eta@vm', []),
  ]
  let collected!: Collected
  let accepted!: boolean[]
  assert.doesNotThrow(() => ({collector: {collected}, accepted} = collect(stream)))

  assert.deepEqual(accepted, [true, false, false, false, false, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true])
  assert.equal(collected.foreign, 5)
  assert.deepEqual(collected.replies, [
    {node: 'alpha@vm', payload: PONG, latencyMs: 3},
    {node: 'beta@vm', payload: null, latencyMs: 7.3},
    {node: 'gamma@vm', payload: ACTIVE, latencyMs: 5},
    {node: 'delta@vm', payload: KEY_ERROR, latencyMs: 5},
    {node: 'epsilon@vm', payload: "KeyError('x')", latencyMs: 5},
    {node: 'alpha@vm', payload: {ok: 'pong', second: true}, latencyMs: 9},
    {node: 'zeta@vm', payload: STATS, latencyMs: 0},
    {node: 'eta@vm', payload: [], latencyMs: 5},
  ])
  assert.deepEqual(collected.undecodable.map((u) => [u.contentType, u.reason]), [
    ['application/x-python-serialize', 'undecodable reply: content type application/x-python-serialize is not JSON'],
    ['application/x-msgpack', 'undecodable reply: content type application/x-msgpack is not JSON'],
    ['application/x-yaml', 'undecodable reply: content type application/x-yaml is not JSON'],
    ['application/json', 'undecodable reply: content encoding binary is not utf-8'],
    ['application/json', 'undecodable reply: body is not valid JSON'],
    ['application/json', 'foreign reply: body is not a {node: payload} object'],
    ['application/json', 'foreign reply: body is not a {node: payload} object'],
    ['application/json', 'foreign reply: body is not a {node: payload} object'],
    ['application/json', 'foreign reply: body has 0 keys, a reply names exactly one node'],
    ['application/json', 'foreign reply: body has 2 keys, a reply names exactly one node'],
  ])
  assert.ok(collected.undecodable.every((u) => u.latencyMs === 5))

  const r = summarize('ping', callOf(collected), ['alpha@vm', 'beta@vm', 'omega@vm'], undefined)
  assert.deepEqual(Object.keys(r.replies).sort(), ['alpha@vm', 'beta@vm', 'delta@vm', 'epsilon@vm', 'eta@vm', 'gamma@vm', 'zeta@vm'])
  assert.deepEqual(r.replies['alpha@vm'], {ok: 'pong', second: true}, 'the last reply of a duplicated name')
  assert.equal(r.replies['beta@vm'], null)
  assert.deepEqual(r.replies['gamma@vm'], ACTIVE)
  assert.deepEqual(r.replies['zeta@vm'], STATS)
  assert.equal(r.replies['epsilon@vm'], "KeyError('x')", 'a bare string is a payload, not an error reply')
  // A node whose reply could not be read (w@h's was cut short) answered: its error, not a silence.
  assert.deepEqual(r.errors, {'delta@vm': "KeyError('nosuchcmd')", 'w@h': 'undecodable reply: body is not valid JSON'})
  assert.deepEqual(r.duplicates, ['alpha@vm'])
  assert.deepEqual(r.duplicateReplies, {'alpha@vm': [PONG, {ok: 'pong', second: true}]})
  assert.deepEqual(r.latencyMs['alpha@vm'], 3, 'latency of the first reply')
  assert.deepEqual(r.missing, ['omega@vm'])
  assert.equal(r.expected, 3)
  assert.equal(r.undecodable.length, 10)
  assert.deepEqual(r.undecodable[0], {reason: 'undecodable reply: content type application/x-python-serialize is not JSON', contentType: 'application/x-python-serialize'})
  assert.equal(r.listeners, 3)
  assert.equal(exitCodeOf(r), ExitCode.partial)
})

test('payloads come out of the collector exactly as the bytes said, nested and odd values included', () => {
  const odd = {s: 'ünï©ødé ✓ \u0000 \u2028', n: -0.5, big: 1e300, nested: {a: [[], {}, [null, {b: ''}]]}, __proto__x: 1, constructor: 'c'}
  const body = JSON.stringify({'w1@vm': odd})
  const {collector} = collect([msg(body)])
  const [only] = collector.collected.replies
  assert.equal(JSON.stringify({[only.node]: only.payload}), body)
  assert.deepEqual(only.payload, odd)
})

test('a seeded flood of random bytes and random JSON: nothing throws and every message is accounted for', () => {
  let seed = 0x5eed
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]
  const types = ['application/json', 'application/x-python-serialize', 'application/x-msgpack', 'application/x-yaml', 'text/plain', undefined]
  const encodings = ['utf-8', 'binary', undefined]
  const values: unknown[] = [null, 1, 'x', [], {}, [1, 2], {ok: 'pong'}, KEY_ERROR, ACTIVE, {a: 1, b: 2}]
  const stream: ReceivedMessage[] = []
  const valid: {node: string; payload: unknown}[] = []
  let foreign = 0
  for (let i = 0; i < 2000; i++) {
    const ticket = pick([TICKET, TICKET, TICKET, 'other', undefined])
    const headers = ticket === undefined ? {} : {ticket}
    if (ticket !== TICKET) foreign++
    const kind = random()
    if (kind < 0.3) {
      const bytes = Buffer.from(Array.from({length: Math.floor(random() * 64)}, () => Math.floor(random() * 256)))
      stream.push(msg(bytes, {headers, contentType: pick(types), contentEncoding: pick(encodings)}))
    } else if (kind < 0.6) {
      stream.push(msg(JSON.stringify(pick(values)), {headers}))
    } else {
      const node = `w${i}@vm`
      const payload = pick(values)
      stream.push(reply(node, payload, {headers}))
      if (ticket === TICKET) valid.push({node, payload})
    }
  }
  let collected!: Collected
  assert.doesNotThrow(() => ({collector: {collected}} = collect(stream)))
  assert.equal(collected.foreign, foreign)
  assert.equal(collected.replies.length + collected.undecodable.length + collected.foreign, stream.length)
  // Random bytes can, rarely, spell a one-key JSON object: every valid reply is there, in order.
  const kept = collected.replies.filter((r) => /^w\d+@vm$/.test(r.node)).map(({node, payload}) => ({node, payload}))
  assert.deepEqual(kept, valid)
  assert.ok(collected.undecodable.every((u) => /^(undecodable|foreign) reply: /.test(u.reason)))
  const r = summarize('ping', callOf(collected), [], undefined)
  assert.equal(exitCodeOf(r), ExitCode.partial, 'undecodable replies make the answer partial')
})

// ─── exit codes (README.md#exit-codes) ────────────────────────────────────────────────────────────────────

test('exit 0: every reply valid, and every targeted or expected node answered', () => {
  assert.equal(exitCodeOf(outcome([reply('a@h', PONG), reply('b@h', PONG)])), ExitCode.ok)
  assert.equal(exitCodeOf(outcome([reply('a@h', PONG), reply('b@h', PONG)], ['a@h', 'b@h'])), ExitCode.ok)
  assert.equal(exitCodeOf(outcome([reply('a@h', PONG), reply('b@h', PONG), reply('c@h', PONG)], [], {count: 3})), ExitCode.ok)
  assert.equal(exitCodeOf(outcome([reply('a@h', null), reply('b@h', []), reply('c@h', "KeyError('x')")], [], undefined, 'memsample')), ExitCode.ok, 'odd payloads are not errors')
  const garbageAround = [reply('x@h', PONG, {headers: {ticket: 'old'}}), reply('a@h', PONG), reply('y@h', PONG, {headers: {}})]
  const r = outcome(garbageAround, ['a@h'])
  assert.deepEqual(Object.keys(r.replies), ['a@h'])
  assert.equal(exitCodeOf(r), ExitCode.ok, 'foreign tickets are dropped, not counted against the answer')
})

test('exit 0 with duplicate names whose replies are all valid; both payloads kept', () => {
  const r = outcome([reply('a@h', PONG), reply('a@h', PONG), reply('b@h', PONG)], ['a@h', 'b@h'])
  assert.deepEqual(r.duplicates, ['a@h'])
  assert.deepEqual(r.duplicateReplies, {'a@h': [PONG, PONG]})
  assert.equal(exitCodeOf(r), ExitCode.ok)
})

test('exit 1: a silent target, an expected count not reached, an error reply, or an undecodable reply', () => {
  const silent = outcome([reply('a@h', PONG)], ['a@h', 'b@h'])
  assert.deepEqual(silent.missing, ['b@h'])
  assert.equal(exitCodeOf(silent), ExitCode.partial)

  const named = outcome([reply('a@h', PONG)], [], {names: ['a@h', 'c@h']})
  assert.deepEqual(named.missing, ['c@h'])
  assert.equal(exitCodeOf(named), ExitCode.partial)

  const short = outcome([reply('a@h', PONG), reply('a@h', PONG)], [], {count: 2})
  assert.equal(short.expected, 2)
  assert.equal(exitCodeOf(short), ExitCode.partial, 'two replies from one name are one node')

  const error = outcome([reply('a@h', PONG), reply('b@h', KEY_ERROR)])
  assert.deepEqual(error.errors, {'b@h': "KeyError('nosuchcmd')"})
  assert.equal(exitCodeOf(error), ExitCode.partial)

  const objgraph = outcome([reply('a@h', {error: "ImportError('Requires the objgraph library')"})], [], undefined, 'objgraph')
  assert.equal(exitCodeOf(objgraph), ExitCode.partial)

  const pickled = outcome([reply('a@h', PONG), msg(PICKLE, {contentType: 'application/x-python-serialize', contentEncoding: 'binary'})])
  assert.equal(exitCodeOf(pickled), ExitCode.partial)

  const onlyGarbage = outcome([msg('{not json'), msg('[]')])
  assert.deepEqual(onlyGarbage.replies, {})
  assert.equal(onlyGarbage.undecodable.length, 2)
  assert.equal(exitCodeOf(onlyGarbage), ExitCode.partial, 'something answered the ticket, unreadably: not "nobody"')
})

test('exit 69: nobody answered this ticket, whatever else was in the queue', () => {
  assert.equal(exitCodeOf(outcome([])), ExitCode.noReply)
  const foreignOnly = outcome([reply('a@h', PONG, {headers: {ticket: 'yesterday'}}), reply('b@h', PONG, {headers: {}}), msg(PICKLE, {headers: {ticket: 'x'}, contentType: 'application/x-python-serialize'})], ['a@h'])
  assert.deepEqual(foreignOnly.replies, {})
  assert.deepEqual(foreignOnly.undecodable, [])
  assert.deepEqual(foreignOnly.missing, ['a@h'])
  assert.equal(exitCodeOf(foreignOnly), ExitCode.noReply)
  assert.equal(exitCodeOf(outcome([], [], {count: 2})), ExitCode.noReply)
})

test('undecodable entries in the result keep their content type only when there was one', () => {
  const r = outcome([msg('{}', {contentType: undefined}), msg('{}', {contentType: 'application/x-msgpack'})])
  assert.deepEqual(r.undecodable, [
    {reason: 'undecodable reply: content type (none) is not JSON'},
    {reason: 'undecodable reply: content type application/x-msgpack is not JSON', contentType: 'application/x-msgpack'},
  ])
  assert.equal('contentType' in r.undecodable[0], false)
})

// Found by these tests and fixed: kept so they stay fixed.

test('duplicate name: an error from one of the workers is not hidden by a later valid reply', () => {
  const r = outcome([reply('a@h', KEY_ERROR), reply('a@h', PONG)], ['a@h'])
  assert.deepEqual(r.duplicateReplies, {'a@h': [KEY_ERROR, PONG]})
  assert.equal(exitCodeOf(r), ExitCode.partial, 'README.md#exit-codes: 0 only when no reply was an error')
})

test('a reply naming the node "__proto__" neither vanishes nor hides a silent node', () => {
  const r = outcome([reply('w1@h', PONG), reply('__proto__', {'w2@h': PONG})], ['w1@h', 'w2@h'])
  assert.deepEqual(r.missing, ['w2@h'], 'w2@h never replied')
  assert.equal(Object.keys(r.replies).length + r.undecodable.length, 2, 'the reply is kept or reported')
})
