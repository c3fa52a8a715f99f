// The reply path fed what a hostile worker or broker could send, from a fixed seed: byte streams
// mutated from real RESP replies, envelopes and bodies with bytes flipped, cut, repeated and
// spliced. Whatever arrives, the reader either yields replies or refuses the stream with an Error,
// and the decoder and collector never throw: every message ends as a reply, an undecodable
// report or a foreign one, and the result prints as valid JSON.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {RespReader, RespError, type Reply} from '../../src/broker/resp.ts'
import {summarize} from '../../src/fleet/outcome.ts'
import {ReplyCollector} from '../../src/protocol/collector.ts'
import {decodeEnvelope, encodeEnvelope} from '../../src/wire/envelope.ts'
import type {ReceivedMessage} from '../../src/wire/message.ts'
import {safeJson} from '../../src/render/safe.ts'
import {mulberry32} from '../helpers/python-oracle.ts'

const TICKET = 'fuzz-ticket'
const random = mulberry32(0x5eed)
const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]
const int = (n: number) => Math.floor(random() * n)

const PAYLOADS: unknown[] = [
  {ok: 'pong'}, {error: "KeyError('x')"}, null, [], 'pong', 1.5, {ok: {a: [1, 2, {b: 'é😀\u202e\u009b'}]}},
  [{id: 't1', name: 'wfctl_tasks.add', args: [1, 2], kwargs: {}, time_start: 1.0}], {'__proto__': {polluted: true}},
]
const SEEDS = ['{"w@h": {"ok": "pong"}}', '{"w@h": Infinity}', '{"w@h": NaN, "x": 1}', '[1', '{"w', '"\\ud800"', '{"a@h": [[[[[]]]]]}']

function mutate(bytes: Buffer): Buffer {
  const out = [...bytes]
  for (let n = int(4); n >= 0; n--) {
    const at = int(out.length + 1)
    switch (int(6)) {
      case 0:
        out[at] = int(256)
        break
      case 1:
        out.splice(at, int(8))
        break
      case 2:
        out.splice(at, 0, ...Buffer.from(pick(['"', '\\', '{', '[', ']', '}', ',', ':', '\r\n', '$-1', '*2', '\x1b]0;t\x07', 'NaN', '\u0085'])))
        break
      case 3:
        out.splice(at, 0, ...out.slice(int(out.length), int(out.length) + int(16)))
        break
      case 4:
        out.length = Math.min(out.length, at)
        break
      default:
        out.splice(at, 0, ...Buffer.from('['.repeat(int(2000))))
    }
  }
  return Buffer.from(out.map((b) => (b ?? 0) & 0xff))
}

function envelope(body: Buffer, over: Record<string, unknown> = {}): string {
  const wire = encodeEnvelope({body, contentType: 'application/json', contentEncoding: 'utf-8', headers: {ticket: TICKET}, deliveryMode: 1}, 'reply.celery.pidbox', 'oid')
  return JSON.stringify({...wire, ...over})
}

function bulk(text: string): Buffer {
  const value = Buffer.from(text)
  return Buffer.concat([Buffer.from(`*2\r\n$3\r\nkey\r\n$${value.length}\r\n`), value, Buffer.from('\r\n')])
}

test('the RESP reader, fed mutated streams in random chunks, yields replies or refuses with an Error, nothing else', () => {
  let refused = 0
  let yielded = 0
  for (let i = 0; i < 1500; i++) {
    const stream = mutate(Buffer.concat([bulk(envelope(Buffer.from(pick(SEEDS)))), Buffer.from(pick(['+OK\r\n', ':3\r\n', '-ERR x\r\n', '*-1\r\n', '$0\r\n\r\n']))]))
    const out: (Reply | RespError)[] = []
    const reader = new RespReader((v) => out.push(v), 4096)
    try {
      for (let at = 0; at < stream.length; ) {
        const n = 1 + int(64)
        reader.feed(stream.subarray(at, at + n))
        at += n
      }
    } catch (error) {
      assert.ok(error instanceof Error, `a non-Error was thrown: ${String(error)}`)
      refused++
    }
    yielded += out.length
  }
  assert.ok(refused > 50 && yielded > 100, `the fuzz reached both outcomes (refused ${refused}, yielded ${yielded})`)
})

test('the decoder and collector take any mutated envelope or body without throwing, and the result prints as JSON', () => {
  const collector = new ReplyCollector(TICKET, () => 0)
  const messages: ReceivedMessage[] = []
  for (let i = 0; i < 3000; i++) {
    const body = random() < 0.5 ? Buffer.from(JSON.stringify({[`n${int(50)}@h`]: pick(PAYLOADS)})) : Buffer.from(pick(SEEDS))
    const raw = random() < 0.5 ? envelope(mutate(body)) : mutate(Buffer.from(envelope(body, random() < 0.2 ? {'content-type': pick(['application/x-python-serialize', '\x1b]0;x\x07', 7, null])} : {}))).toString('latin1')
    // A throw fails the test by itself.
    const decoded = decodeEnvelope(raw, i)
    if (typeof decoded === 'string') continue
    messages.push(decoded)
    assert.doesNotThrow(() => collector.accept(decoded))
  }
  const c = collector.collected
  assert.ok(c.replies.length > 100 && c.undecodable.length > 300, `both outcomes reached (${c.replies.length} replies, ${c.undecodable.length} undecodable)`)
  const result = summarize('ping', {...c, request: {method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null}, elapsedMs: 1, complete: false}, [], undefined)
  const printed = safeJson(result, 2)
  assert.deepEqual(Object.keys(JSON.parse(printed)).sort(), Object.keys(result).sort())
  assert.doesNotMatch(printed, /[\u0080-\u009f\u202a-\u202e]/)
  assert.ok(messages.length > 1000)
})
