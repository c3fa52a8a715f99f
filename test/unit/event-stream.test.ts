import assert from 'node:assert/strict'
import {test} from 'node:test'

import {decodeEventMessage, EVENT_LIMITS, EventStream, type CeleryEvent} from '../../src/protocol/event-stream.ts'
import {eventGlobs, eventMatcher, nodeGlobs, onlyTaskEvents, routingKeysFor, unknownTypes} from '../../src/fleet/events.ts'
import {eventJson, eventObject, EventLines, eventTime, hintLine, undecodableLine} from '../../src/render/events.ts'
import type {ReceivedMessage} from '../../src/wire/message.ts'
import type {EventWatch, Transport} from '../../src/wire/transport.ts'
import {mulberry32} from '../helpers/python-oracle.ts'

function msg(body: string | Buffer, over: Partial<ReceivedMessage> = {}): ReceivedMessage {
  return {body: Buffer.isBuffer(body) ? body : Buffer.from(body), contentType: 'application/json', contentEncoding: 'utf-8', headers: {hostname: 'w1@h'}, receivedAt: 42, ...over}
}

const HEARTBEAT = {hostname: 'w1@h', utcoffset: -1, pid: 3037, clock: 157, freq: 2.0, active: 1, processed: 12, loadavg: [0.73, 0.24, 0.09], sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux', timestamp: 1795236794.3996217, type: 'worker-heartbeat'}
const MULTI = [
  {hostname: 'r8@vm', utcoffset: 0, pid: 13245, clock: 6, uuid: 'fe11-492c', name: 'tasks.add', args: '(2, 3)', kwargs: '{}', root_id: 'fe11-492c', parent_id: null, retries: 0, eta: null, expires: null, timestamp: 1795237094.4749591, type: 'task-received'},
  {hostname: 'r8@vm', utcoffset: 0, pid: 13245, clock: 7, uuid: 'fe11-492c', timestamp: 1795237094.4750836, type: 'task-started'},
  {hostname: 'r8@vm', utcoffset: 0, pid: 13245, clock: 8, uuid: 'fe11-492c', result: '5', runtime: 7.19e-05, timestamp: 1795237094.4752328, type: 'task-succeeded'},
]

function decode(m: ReceivedMessage) {
  return decodeEventMessage(m)
}

test('a worker event: the common fields typed, the rest kept as sent, the arrival time carried', () => {
  const {events, undecodable} = decode(msg(JSON.stringify(HEARTBEAT)))
  assert.deepEqual(undecodable, [])
  assert.deepEqual(events, [{
    type: 'worker-heartbeat', hostname: 'w1@h', timestamp: 1795236794.3996217, clock: 157, utcoffset: -1, receivedAt: 42,
    fields: {pid: 3037, freq: 2, active: 1, processed: 12, loadavg: [0.73, 0.24, 0.09], sw_ident: 'py-celery', sw_ver: '5.2.6', sw_sys: 'Linux'},
  }])
  // --json prints the event as Celery sent it.
  assert.deepEqual(JSON.parse(eventJson(events[0])), HEARTBEAT)
})

test('task.multi: a list body is a batch of events, in order', () => {
  const {events, undecodable} = decode(msg(JSON.stringify(MULTI)))
  assert.deepEqual(undecodable, [])
  assert.deepEqual(events.map((e) => e.type), ['task-received', 'task-started', 'task-succeeded'])
  assert.deepEqual(events.map((e) => e.fields.uuid), ['fe11-492c', 'fe11-492c', 'fe11-492c'])
  assert.equal(events[2].fields.runtime, 7.19e-05)
  // One bad item in a batch costs that item only.
  const mixed = decode(msg(JSON.stringify([MULTI[0], 7, {type: 'task-started'}, MULTI[2]])))
  assert.deepEqual(mixed.events.map((e) => e.type), ['task-received', 'task-succeeded'])
  assert.deepEqual(mixed.undecodable.map((u) => u.reason), ['an event is not an object', 'task-started event has no hostname'])
})

test('Python\'s NaN and Infinity are read as JSON numbers would be (NaN in a field, never a timestamp)', () => {
  const {events, undecodable} = decode(msg('{"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1.5, "loadavg": [NaN, Infinity, 0]}'))
  assert.equal(undecodable.length, 0)
  assert.equal(events[0].fields.loadavg instanceof Array, true)
  assert.equal(decode(msg('{"type": "worker-heartbeat", "hostname": "w@h", "timestamp": NaN}')).undecodable[0].reason, 'worker-heartbeat event has no timestamp')
})

test('hostile bodies never throw: each is counted as undecodable with its reason, and the sender when the headers name it', () => {
  const cases: [ReceivedMessage, RegExp][] = [
    [msg('{not json'), /not JSON/],
    [msg('"a string"'), /not an object or a list/],
    [msg('null'), /not an object or a list/],
    [msg('42'), /not an object or a list/],
    [msg(Buffer.from([0x80, 0x04, 0x95]), {contentType: 'application/x-python-serialize', contentEncoding: 'binary'}), /x-python-serialize is not JSON/],
    [msg(Buffer.from([0x81, 0xa1]), {contentType: 'application/x-msgpack'}), /not JSON/],
    [msg('{"type":"x"}', {contentEncoding: 'latin-1'}), /not UTF-8/],
    [msg('{}'), /has no type/],
    [msg('{"type": 7, "hostname": "w@h", "timestamp": 1}'), /has no type/],
    [msg('{"type": "", "hostname": "w@h", "timestamp": 1}'), /has no type/],
    [msg(JSON.stringify({type: 'x'.repeat(EVENT_LIMITS.typeLength + 1), hostname: 'w@h', timestamp: 1})), /event type of 129 characters/],
    [msg('{"type": "worker-heartbeat", "hostname": 7, "timestamp": 1}'), /has no hostname/],
    [msg('{"type": "worker-heartbeat", "hostname": "", "timestamp": 1}'), /has no hostname/],
    [msg(JSON.stringify({type: 'worker-heartbeat', hostname: 'h'.repeat(EVENT_LIMITS.hostnameLength + 1), timestamp: 1})), /hostname of 1025 characters/],
    [msg('{"type": "worker-heartbeat", "hostname": "w@h", "timestamp": "yesterday"}'), /has no timestamp/],
    [msg('{"type": "worker-heartbeat", "hostname": "w@h"}'), /has no timestamp/],
    [msg(`{"type": "x", "hostname": "w@h", "timestamp": 1, "deep": ${'['.repeat(100)}${']'.repeat(100)}}`), /nests deeper than 64/],
    [msg(`{"type": "x", "hostname": "w@h", "timestamp": 1, "deep": ${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`), /nests deeper than 64/],
    [msg(Buffer.alloc(EVENT_LIMITS.messageBytes + 1, 0x20)), /larger than the 8388608 wfctl reads/],
    [msg('', {unreadable: 'reply of 90.0 MiB is larger than the 64.0 MiB wfctl holds'}), /90.0 MiB/],
  ]
  for (const [m, reason] of cases) {
    const {events, undecodable} = decode(m)
    assert.equal(events.length, 0, `${m.body.subarray(0, 80)} decoded as an event`)
    assert.equal(undecodable.length, 1, String(m.body.subarray(0, 80)))
    assert.match(undecodable[0].reason, reason)
    // The sender: as the event names itself where it does, else as the message's headers do.
    assert.ok(['w1@h', 'w@h'].includes(undecodable[0].node!), JSON.stringify(undecodable[0]))
  }
  assert.deepEqual(decode(msg('{"type": "x", "hostname": "w9@h"}')).undecodable, [{reason: 'x event has no timestamp', node: 'w9@h'}])
  // A sender the headers do not name (or name with junk) stays unnamed.
  assert.deepEqual(decode(msg('{', {headers: {hostname: 5}})).undecodable, [{reason: 'event body is not JSON'}])
})

test('a list longer than wfctl reads: the first ones are events, the rest one undecodable entry', () => {
  const many = Array.from({length: EVENT_LIMITS.eventsPerMessage + 5}, (_, i) => ({...MULTI[1], clock: i}))
  const {events, undecodable} = decode(msg(JSON.stringify(many)))
  assert.equal(events.length, EVENT_LIMITS.eventsPerMessage)
  assert.equal(undecodable.length, 1)
  assert.match(undecodable[0].reason, /the 5 after the first 1000 were not read/)
})

test('wrong types in the optional fields are left out; a "__proto__" field is a field, never a prototype', () => {
  const {events} = decode(msg('{"type": "worker-heartbeat", "hostname": "w@h", "timestamp": 1, "clock": "7", "utcoffset": null, "__proto__": {"polluted": true}}'))
  assert.equal(events.length, 1)
  assert.equal(events[0].clock, undefined)
  assert.equal(events[0].utcoffset, undefined)
  assert.equal(Object.getPrototypeOf(events[0].fields), Object.prototype)
  assert.deepEqual(Object.getOwnPropertyDescriptor(events[0].fields, '__proto__')?.value, {polluted: true})
  const printed = eventObject(events[0])
  assert.equal(({} as {polluted?: boolean}).polluted, undefined)
  assert.equal((printed as {polluted?: boolean}).polluted, undefined)
  assert.match(eventJson(events[0]), /"__proto__":\{"polluted":true\}/)
})

test('fuzz: mutated event bodies always decode to events or undecodable entries, nothing thrown', () => {
  const random = mulberry32(0xe7e7)
  const seeds = [JSON.stringify(HEARTBEAT), JSON.stringify(MULTI), '{"type": "task-failed", "hostname": "w@h", "timestamp": 1, "exception": "ValueError()"}']
  let events = 0
  let undecodable = 0
  for (let i = 0; i < 3000; i++) {
    const body = Buffer.from(seeds[i % seeds.length])
    for (let k = Math.floor(random() * 6); k > 0; k--) body[Math.floor(random() * body.length)] = Math.floor(random() * 256)
    const out = decode(msg(body, i % 7 === 0 ? {contentType: undefined} : {}))
    events += out.events.length
    undecodable += out.undecodable.length
    for (const e of out.events) {
      assert.equal(typeof e.type, 'string')
      assert.equal(typeof e.hostname, 'string')
      assert.ok(Number.isFinite(e.timestamp))
      new EventLines({color: false}).line(e)
      eventJson(e)
    }
  }
  assert.ok(events > 100 && undecodable > 100, `the fuzz reached both outcomes (${events} events, ${undecodable} undecodable)`)
})

/** A transport whose only ability is to hand over event messages: for the stream's own batching and closing. */
function eventSource(): {transport: Transport; push: (...m: ReceivedMessage[]) => void; fail: (e: Error) => void; closed: () => number; keys: () => string[]} {
  let deliver: (m: ReceivedMessage[]) => void = () => {}
  let failure: (e: Error) => void = () => {}
  let closes = 0
  let keys: string[] = []
  const transport = {
    kind: 'redis',
    requestAddress: 'test',
    watchEvents: async (routingKeys: string[], onMessages: (m: ReceivedMessage[]) => void, onFailure?: (e: Error) => void): Promise<EventWatch> => {
      keys = routingKeys
      deliver = onMessages
      failure = onFailure ?? (() => {})
      return {available: true, close: async () => void (closes += 1)}
    },
  } as unknown as Transport
  return {transport, push: (...m) => deliver(m), fail: (e) => failure(e), closed: () => closes, keys: () => keys}
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

test('EventStream: what arrives in one turn is one batch; undecodable ones are reported apart; close() stops delivery and unsubscribes', async () => {
  const source = eventSource()
  const batches: CeleryEvent[][] = []
  const bad: string[] = []
  const stream = await EventStream.open(source.transport, {routingKeys: ['worker.#'], onEvents: (e) => batches.push(e), onUndecodable: (u) => bad.push(...u.map((x) => x.reason))})
  assert.equal(stream.available, true)
  assert.deepEqual(source.keys(), ['worker.#'])
  source.push(msg(JSON.stringify(HEARTBEAT)))
  source.push(msg(JSON.stringify(MULTI)), msg('junk'))
  await tick()
  assert.equal(batches.length, 1)
  assert.deepEqual(batches[0].map((e) => e.type), ['worker-heartbeat', 'task-received', 'task-started', 'task-succeeded'])
  assert.deepEqual(bad, ['event body is not JSON'])
  source.push(msg(JSON.stringify(HEARTBEAT)))
  await stream.close()
  await tick()
  assert.equal(batches.length, 1, 'nothing delivered after close()')
  assert.equal(source.closed(), 1)
  await stream.close()
})

test('EventStream: a lost subscription, or a consumer that throws, is reported once through onFailure', async () => {
  const source = eventSource()
  const failures: string[] = []
  let delivered = 0
  const stream = await EventStream.open(source.transport, {
    routingKeys: ['#'],
    onEvents: () => {
      delivered += 1
      throw new Error('consumer bug')
    },
    onFailure: (e) => failures.push(e.message),
  })
  source.push(msg(JSON.stringify(HEARTBEAT)))
  await tick()
  source.fail(new Error('lost'))
  source.push(msg(JSON.stringify(HEARTBEAT)))
  await tick()
  assert.equal(delivered, 1)
  assert.deepEqual(failures, ['consumer bug'])
  await stream.close()
})

test('--type and --node: globs checked, comma lists split; routing keys as narrow as the types allow', () => {
  assert.deepEqual(eventGlobs(['worker-*,task-failed', 'task-failed'], '--type'), ['worker-*', 'task-failed'])
  assert.throws(() => eventGlobs([''], '--type'), /--type must not be empty/)
  assert.throws(() => eventGlobs(['a,,b'], '--node'), /--node must not be empty/)
  assert.throws(() => eventGlobs(['w[1'], '--node'), /invalid --node "w\[1"/)
  assert.throws(() => eventGlobs(['w\u001b1'], '--node'), /control/)
  assert.deepEqual(routingKeysFor([]), ['#'])
  assert.deepEqual(routingKeysFor(['task-*', 'task-failed']), ['task.#'])
  assert.deepEqual(routingKeysFor(['worker-heartbeat']), ['worker.#'])
  assert.deepEqual(routingKeysFor(['worker-*', 'task-*']), ['#'])
  assert.deepEqual(routingKeysFor(['*-failed']), ['#'])
  assert.equal(onlyTaskEvents({types: ['task-*'], nodes: []}), true)
  assert.equal(onlyTaskEvents({types: [], nodes: []}), false)
  assert.deepEqual(unknownTypes(['task-faild', 'task-*', 'worker-heartbeat', 'custom']), ['task-faild', 'custom'])
})

test('--node: a plain name without @ is celery@NAME, as for -d; a glob is matched as given', () => {
  assert.deepEqual(nodeGlobs(['airhost,w1@h', '*web*', 'celery@airhost']), {globs: ['celery@airhost', 'w1@h', '*web*'], assumed: [{given: 'airhost', node: 'celery@airhost'}]})
  assert.deepEqual(nodeGlobs(undefined), {globs: [], assumed: []})
})

test('the selection matches types and nodes by glob (fnmatch: case-sensitive, * across everything)', () => {
  const e = (type: string, hostname: string) => ({type, hostname, timestamp: 1, fields: {}, receivedAt: 0})
  const match = eventMatcher({types: ['worker-*', 'task-failed'], nodes: ['celery@web-*', 'w1@h']})
  assert.equal(match(e('worker-heartbeat', 'celery@web-1.example')), true)
  assert.equal(match(e('task-failed', 'w1@h')), true)
  assert.equal(match(e('task-succeeded', 'w1@h')), false)
  assert.equal(match(e('worker-online', 'W1@h')), false)
  assert.equal(match(e('worker-online', 'w1@h2')), false)
  assert.equal(eventMatcher({types: [], nodes: []})(e('anything', 'any@one')), true)
})

test('lines: time, node, type and the fields that matter; the task name remembered for later events', () => {
  const lines = new EventLines({color: false})
  const hb = decode(msg(JSON.stringify(HEARTBEAT))).events[0]
  assert.equal(lines.line(hb), '04:53:14.399Z  w1@h  worker-heartbeat  active=1 processed=12 load=0.73,0.24,0.09')
  const online = decode(msg(JSON.stringify({...HEARTBEAT, type: 'worker-online'}))).events[0]
  assert.match(lines.line(online), /worker-online {5}active=1 processed=12 load=0\.73,0\.24,0\.09 py-celery 5\.2\.6$/)
  const [received, started, succeeded] = decode(msg(JSON.stringify(MULTI))).events
  assert.equal(lines.line(received), '04:58:14.474Z  r8@vm  task-received     fe11-492c tasks.add args=(2, 3) kwargs={}')
  assert.equal(lines.line(started), '04:58:14.475Z  r8@vm  task-started      fe11-492c tasks.add')
  assert.equal(lines.line(succeeded), '04:58:14.475Z  r8@vm  task-succeeded    fe11-492c tasks.add runtime=0.072ms result=5')
  const failed = decode(msg(JSON.stringify({...MULTI[1], type: 'task-failed', exception: "ValueError('boom')", traceback: 'Traceback...'}))).events[0]
  assert.equal(lines.line(failed), "04:58:14.475Z  r8@vm  task-failed       fe11-492c tasks.add exception=ValueError('boom')")
  assert.equal(eventTime(1e300), '??:??:??.???Z')
  // A terminal's width cuts the details, never the time, node or type.
  const narrow = new EventLines({color: false, columns: 50})
  assert.equal(narrow.line(received), '04:58:14.474Z  r8@vm  task-received     fe11-492c…')
})

test('hostile strings in any field never reach the terminal as controls, in lines, JSON, warnings or hints', () => {
  const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u
  const evil = ['\u001b]52;c;ZXZpbA==\u0007', '\u001b[2J', '\u009b2J', '\u202eevil', 'a\nb\rc\td', '\u2028', '\ud800', '\ufeff']
  for (const s of evil) {
    const body = {type: `task-failed${s}`, hostname: `w${s}@h`, timestamp: 1, uuid: `id${s}`, name: `n${s}`, exception: `E${s}`, [`k${s}`]: s}
    for (const type of [body.type, 'task-failed', 'worker-online', 'custom']) {
      const [event] = decode(msg(JSON.stringify({...body, type, loadavg: [s], active: s, sw_ver: s}))).events
      for (const view of [{color: false}, {color: false, columns: 60}]) {
        const line = new EventLines(view).line(event)
        assert.equal(FORBIDDEN.exec(line), null, `${JSON.stringify(line)}`)
      }
      const json = eventJson(event)
      assert.equal(/[\u007f-\u009f\u2028\u2029\u202e\ufeff\n]/.test(json), false, json)
      assert.deepEqual(JSON.parse(json).hostname, event.hostname)
    }
    assert.equal(FORBIDDEN.exec(undecodableLine({reason: `r${s}`, node: `w${s}`})), null)
    assert.equal(FORBIDDEN.exec(hintLine({kind: 'no-match', afterMs: 5000, heard: 3, nodes: [`w${s}`]}, 'redis://h/0', false)), null)
  }
  // With colour, the only escapes are the renderer's own colour codes.
  const [failed] = decode(msg(JSON.stringify({type: 'task-failed', hostname: 'w\u001b[31m@h', timestamp: 1, uuid: 'x'}))).events
  const coloured = new EventLines({color: true}).line(failed)
  assert.equal(FORBIDDEN.exec(coloured.replace(/\u001b\[[0-9;]*m/g, '')), null)
})
