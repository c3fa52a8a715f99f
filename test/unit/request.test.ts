import assert from 'node:assert/strict'
import {test} from 'node:test'

import {assertSafeEnvelope, decodeEnvelope, encodeEnvelope} from '../../src/wire/envelope.ts'
import {assertSafeRequest, buildRequest, encodeRequest, globProblem, pcreProblem} from '../../src/protocol/request.ts'
import {UnsafeMessageError} from '../../src/errors.ts'

test('a call carries the five base keys, a ticket and reply_to, as Python clients send it', () => {
  const body = buildRequest({method: 'ping', controlExchange: 'celery', replyRoutingKey: 'oid-1'})
  assert.deepEqual(Object.keys(body), ['method', 'arguments', 'destination', 'pattern', 'matcher', 'ticket', 'reply_to'])
  assert.equal(body.destination, null)
  assert.equal(body.matcher, null)
  assert.deepEqual(body.reply_to, {exchange: 'reply.celery.pidbox', routing_key: 'oid-1'})
  assert.match(body.ticket!, /^[0-9a-f-]{36}$/)
})

test('a cast has no ticket and no reply_to; destination is always an array', () => {
  const body = buildRequest({method: 'shutdown', args: {msg: 'x'}, destination: ['a@h'], controlExchange: 'ops'})
  assert.equal('ticket' in body, false)
  assert.equal('reply_to' in body, false)
  assert.deepEqual(body.destination, ['a@h'])
})

test('a pattern is sent with its matcher, glob by default', () => {
  const body = buildRequest({method: 'ping', pattern: 'celery@web-*', controlExchange: 'celery'})
  assert.equal(body.pattern, 'celery@web-*')
  assert.equal(body.matcher, 'glob')
})

test('messages that crash or deafen workers are refused (docs/wire-protocol.md#what-wfctl-never-sends)', () => {
  const refuse = (body: unknown) => assert.throws(() => assertSafeRequest(body), UnsafeMessageError)
  refuse([1])
  refuse('ping')
  refuse(null)
  refuse({arguments: {}})
  refuse({method: 42, arguments: {}})
  refuse({method: '', arguments: {}})
  refuse({method: 'election', arguments: {}})
  refuse({method: 'ping', arguments: []})
  refuse({method: 'ping', arguments: {}, matcher: 'regex', pattern: 'a'})
  refuse({method: 'ping', arguments: {}, matcher: 'glob', pattern: ''})
  refuse({method: 'ping', arguments: {}, destination: 'w1@vm'})
  refuse({method: 'ping', arguments: {}, destination: ['']})
  refuse({method: 'ping', arguments: {}, reply_to: {exchange: 'x', routing_key: 'y'}})
  refuse({method: 'ping', arguments: {}, matcher: 'pcre', pattern: '(?P<n>x)'})
  assert.throws(() => buildRequest({method: 'election', controlExchange: 'celery'}), UnsafeMessageError)
  assertSafeRequest({method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null})
})

test('pcre patterns are limited to what Python and JavaScript both compile alike', () => {
  assert.equal(pcreProblem('celery@web[0-9]+'), undefined)
  assert.equal(pcreProblem('r8'), undefined)
  assert.equal(pcreProblem('^(?:a|b)[0-9]+@host\\.example$'), undefined)
  assert.match(pcreProblem('(?<=a)b')!, /groups/)
  assert.match(pcreProblem('(?i)abc')!, /groups/)
  assert.match(pcreProblem('\\p{L}')!, /escape/)
  assert.match(pcreProblem('a(')!, /not a valid regular expression/)
  assert.match(pcreProblem('abc\\')!, /backslash/)
  assert.equal(globProblem('celery@web-[a-c]*'), undefined)
  assert.match(globProblem('celery@[z-a]')!, /reversed/)
})

test('the request message: JSON body, json/utf-8, clock and expires headers, persistent', () => {
  const body = buildRequest({method: 'ping', controlExchange: 'celery', replyRoutingKey: 'k'})
  const before = Date.now() / 1000
  const m = encodeRequest(body, 1.5)
  assert.deepEqual(JSON.parse(m.body.toString()), body)
  assert.equal(m.contentType, 'application/json')
  assert.equal(m.contentEncoding, 'utf-8')
  assert.equal(m.deliveryMode, 2)
  assert.ok(Number.isInteger(m.headers.clock))
  assert.ok((m.headers.expires as number) >= before + 1.5 - 0.01)
  assert.throws(() => encodeRequest({method: 'election', arguments: {}} as never, 1), UnsafeMessageError)
})

test('redis envelope: kombu layout, base64 body, delivery tag; round trip through decode', () => {
  const m = encodeRequest(buildRequest({method: 'ping', controlExchange: 'celery', replyRoutingKey: 'k'}), 1)
  const env = encodeEnvelope(m, 'celery.pidbox', '')
  assert.equal(env.properties.body_encoding, 'base64')
  assert.deepEqual(env.properties.delivery_info, {exchange: 'celery.pidbox', routing_key: ''})
  assert.match(env.properties.delivery_tag, /^[0-9a-f-]{36}$/)
  assertSafeEnvelope(env)
  const back = decodeEnvelope(JSON.stringify(env), 5)
  assert.ok(typeof back !== 'string')
  assert.deepEqual(back.body, m.body)
  assert.equal(back.contentType, 'application/json')
  assert.deepEqual(back.headers, m.headers)
})

test('envelopes that kill Redis workers are refused', () => {
  const m = encodeRequest(buildRequest({method: 'ping', controlExchange: 'celery'}), 1)
  const noTag = encodeEnvelope(m, 'celery.pidbox', '') as any
  delete noTag.properties.delivery_tag
  assert.throws(() => assertSafeEnvelope(noTag), /delivery_tag/)
  const badBody = encodeEnvelope(m, 'celery.pidbox', '') as any
  badBody.body = 'not base64!'
  assert.throws(() => assertSafeEnvelope(badBody), /base64/)
})

test('captured kombu reply envelope decodes (docs/wire-protocol.md#the-reply-route)', () => {
  const captured = '{"body": "eyJ3MUB2bSI6IHsib2siOiAicG9uZyJ9fQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"ticket": "92a6e290-0604-4007-8648-eaf289665f6c", "clock": 37}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "reply.celery.pidbox", "routing_key": "bb505655"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "f26ea2c2"}}'
  const msg = decodeEnvelope(captured, 0)
  assert.ok(typeof msg !== 'string')
  assert.equal(msg.body.toString(), '{"w1@vm": {"ok": "pong"}}')
  assert.equal(msg.headers.ticket, '92a6e290-0604-4007-8648-eaf289665f6c')
  assert.equal(decodeEnvelope('garbage', 0), 'not a JSON envelope')
  assert.equal(decodeEnvelope('[1]', 0), 'envelope is not an object')
  assert.equal(decodeEnvelope('{"body": "###", "properties": {"body_encoding": "base64"}}', 0), 'envelope body is not valid base64')
})
