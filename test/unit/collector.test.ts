import assert from 'node:assert/strict'
import {test} from 'node:test'

import {ReplyCollector, decodeReply, errorOf} from '../../src/protocol/collector.ts'
import type {ReceivedMessage} from '../../src/wire/message.ts'

const TICKET = 't-1'
function msg(body: string | Buffer, over: Partial<ReceivedMessage> = {}): ReceivedMessage {
  return {body: Buffer.isBuffer(body) ? body : Buffer.from(body), contentType: 'application/json', contentEncoding: 'utf-8', headers: {ticket: TICKET}, receivedAt: 120, ...over}
}

test('replies are matched by ticket; others and ticketless ones are dropped and counted', () => {
  const c = new ReplyCollector(TICKET, () => 100)
  assert.equal(c.accept(msg('{"a@h": {"ok": "pong"}}')), true)
  assert.equal(c.accept(msg('{"b@h": {"ok": "pong"}}', {headers: {ticket: 'other'}})), false)
  assert.equal(c.accept(msg('{"c@h": {"ok": "pong"}}', {headers: {}})), false)
  assert.equal(c.accept(msg('{"d@h": {"ok": "pong"}}', {headers: {ticket: null}})), false)
  assert.deepEqual(c.collected.replies, [{node: 'a@h', payload: {ok: 'pong'}, latencyMs: 20}])
  assert.equal(c.collected.foreign, 3)
})

test('garbage in the reply queue is reported per message and never stops the collection', () => {
  const c = new ReplyCollector(TICKET, () => 100)
  const garbage: ReceivedMessage[] = [
    msg(Buffer.from([0x80, 0x04, 0x95]), {contentType: 'application/x-python-serialize', contentEncoding: 'binary'}),
    msg(Buffer.from([0x81, 0xa1]), {contentType: 'application/x-msgpack', contentEncoding: 'binary'}),
    msg('a: 1', {contentType: 'application/x-yaml'}),
    msg('{not json'),
    msg('[1, 2]'),
    msg('"pong"'),
    msg('null'),
    msg('{}'),
    msg('{"a@h": 1, "b@h": 2}'),
    msg('{"x": 1}', {contentType: undefined}),
    msg('{"x": 1}', {contentEncoding: 'latin-1'}),
  ]
  for (const g of garbage) c.accept(g)
  c.accept(msg('{"ok@h": {"ok": "pong"}}'))
  assert.equal(c.collected.undecodable.length, garbage.length)
  assert.match(c.collected.undecodable[0].reason, /x-python-serialize is not JSON/)
  assert.match(c.collected.undecodable[3].reason, /not valid JSON/)
  assert.match(c.collected.undecodable[4].reason, /not a \{node: payload\} object/)
  assert.match(c.collected.undecodable[8].reason, /2 keys/)
  assert.deepEqual(c.collected.replies.map((r) => r.node), ['ok@h'])
})

test('payloads of every shape are kept as sent: null, arrays, strings, Python error reprs', () => {
  const c = new ReplyCollector(TICKET, () => 100)
  c.accept(msg('{"a@h": null}'))
  c.accept(msg('{"b@h": [{"id": "x"}]}'))
  c.accept(msg('{"c@h": "45.2MB"}'))
  c.accept(msg('{"d@h": {"error": "KeyError(\'nosuchcmd\')"}}'))
  c.accept(msg('{"e@h": {"clock": "33", "__type__": "datetime"}}'))
  assert.deepEqual(c.collected.replies.map((r) => r.payload), [null, [{id: 'x'}], '45.2MB', {error: "KeyError('nosuchcmd')"}, {clock: '33', __type__: 'datetime'}])
})

test('decodeReply takes the node from the single key', () => {
  assert.deepEqual(decodeReply(msg('{"w1@vm": {"ok": "pong"}}')), {node: 'w1@vm', payload: {ok: 'pong'}})
})

test('error replies are objects with error and without ok, as the celery CLI classifies them', () => {
  assert.equal(errorOf({error: 'unknown task'}), 'unknown task')
  assert.equal(errorOf({error: {code: 1}}), '{"code":1}')
  assert.equal(errorOf({ok: 'x', error: 'y'}), undefined)
  assert.equal(errorOf({ok: 'pong'}), undefined)
  assert.equal(errorOf(null), undefined)
  assert.equal(errorOf(['error']), undefined)
})

test('a reply nested deeper than any worker writes is that node\'s error; the next reply is kept', () => {
  const c = new ReplyCollector(TICKET, () => 100)
  const deep = `{"deep@h": ${'['.repeat(6000)}1${']'.repeat(6000)}}`
  c.accept(msg(deep))
  c.accept(msg('{"ok@h": {"ok": "pong"}}'))
  assert.deepEqual(c.collected.replies.map((r) => r.node), ['ok@h'])
  assert.equal(c.collected.undecodable.length, 1)
  assert.equal(c.collected.undecodable[0].node, 'deep@h')
  assert.match(c.collected.undecodable[0].reason, /nests deeper than 512 levels/)
  assert.deepEqual([...c.collected.nodes].sort(), ['deep@h', 'ok@h'])
  // Brackets inside strings are text, not nesting.
  const brackets = `{"s@h": ${JSON.stringify('['.repeat(6000))}}`
  assert.deepEqual(decodeReply(msg(brackets)), {node: 's@h', payload: '['.repeat(6000)})
})

test('a reply the transport could not hold is reported with its node, and a body over the limit is refused unread', () => {
  const c = new ReplyCollector(TICKET, () => 100)
  c.accept(msg('{"big@h": {"ok": "xxxx', {unreadable: 'reply of 70.0 MiB is larger than the 64.0 MiB wfctl holds'}))
  assert.deepEqual(c.collected.undecodable[0], {reason: 'reply of 70.0 MiB is larger than the 64.0 MiB wfctl holds', contentType: 'application/json', node: 'big@h', latencyMs: 20})
  const huge = Buffer.alloc(64 * 1024 * 1024 + 10, 0x20)
  huge.write('{"huge@h": "', 0)
  const decoded = decodeReply(msg(huge))
  assert.ok('reason' in decoded && /larger than the 64 MiB/.test(decoded.reason) && decoded.node === 'huge@h')
})

test('a message whose fields are of the wrong types is that message\'s problem, not an exception', () => {
  const c = new ReplyCollector(TICKET, () => 100)
  const hostile = msg('{"a@h": 1}', {contentType: {toLowerCase: () => { throw new Error('boom') }} as unknown as string})
  assert.doesNotThrow(() => c.accept(hostile))
  assert.match(c.collected.undecodable[0].reason, /could not read reply: boom/)
})
