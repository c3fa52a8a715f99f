// Queue depths: `--max-queued` specs, their evaluation in the check and its outputs, and `wfctl
// queues`' pure parts (names from replies and binding members, exit code, JSON, table).
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {queueOfMember, taskExchangeOf} from '../../src/broker/redis-queues.ts'
import {evaluate, parseMaxQueued, unknown, type HealthOptions} from '../../src/fleet/health.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'
import {consumersOfReplies, naturalCompare, queuesExitCode, queuesJson, type QueueRow, type QueuesResult} from '../../src/fleet/queues.ts'
import {healthText, nagiosLine, prometheusText} from '../../src/render/health.ts'
import {queuesLine, queuesTable} from '../../src/render/queues.ts'
import type {QueueDepth} from '../../src/wire/transport.ts'

const NOW = Date.parse('2026-11-21T06:30:00Z')
const SEP = '\x06\x16'
const q = (name: string) => ({name, exchange: {name, type: 'direct'}, routing_key: name})
const view = {color: false, columns: 120}

function result(replies: Record<string, unknown>, over: Partial<FleetResult> = {}): FleetResult {
  return {method: 'active_queues', replies, missing: [], errors: {}, duplicates: [], duplicateReplies: {}, elapsedMs: 12, latencyMs: {}, expected: null, undecodable: [], listeners: null, ...over}
}
const opts = (over: Partial<HealthOptions> = {}): HealthOptions => ({destination: [], minNodes: 1, queues: [], ...over})
const depth = (name: string, messages: number, over: Partial<QueueDepth> = {}): QueueDepth => ({name, exists: true, messages, consumers: null, ...over})

test('--max-queued takes QUEUE=N and QUEUE=W:C, repeatable and comma-separated; the queue is what comes before the last "="', () => {
  assert.deepEqual(parseMaxQueued(['celery=100', 'reports=10:50,a=b=0']), [
    {queue: 'celery', warning: 100, critical: null},
    {queue: 'reports', warning: 10, critical: 50},
    {queue: 'a=b', warning: 0, critical: null},
  ])
  assert.deepEqual(parseMaxQueued([]), [])
  assert.deepEqual(parseMaxQueued(['x=5:5']), [{queue: 'x', warning: 5, critical: 5}])
})

test('a bad --max-queued spec is a usage error that names it', () => {
  for (const [spec, why] of [
    ['celery', /QUEUE=N or QUEUE=WARN:CRIT.*"celery"/],
    ['=10', /"=10"/],
    ['celery=', /"celery="/],
    ['celery=-1', /"celery=-1"/],
    ['celery=1.5', /"celery=1.5"/],
    ['celery=ten', /"celery=ten"/],
    ['celery=10:', /"celery=10:"/],
    ['celery=:10', /"celery=:10"/],
    ['celery=1:2:3', /"celery=1:2:3"/],
    ['celery=10:5', /critical threshold 5 is below the warning threshold 10/],
    ['bad\u001bname=1', /--max-queued QUEUE must be a non-empty name/],
  ] as const) {
    assert.throws(() => parseMaxQueued([spec]), (error: Error & {exitCode?: number}) => {
      assert.equal(error.exitCode, 2, spec)
      assert.match(error.message, why, spec)
      return true
    })
  }
  assert.throws(() => parseMaxQueued(['celery=1', 'celery=2']), /--max-queued celery is given twice/)
})

test('more than W messages is WARNING, more than C is CRITICAL; at the threshold it is OK', () => {
  const limits = parseMaxQueued(['celery=10:100'])
  const at = (n: number) => evaluate(result({'w1@h': [q('celery')]}), opts({maxQueued: limits, depths: [depth('celery', n)]}), NOW)
  assert.equal(at(10).status, 'OK')
  assert.equal(at(10).summary, '1 worker, every worker consumes a queue, 10 queued in celery')
  assert.equal(at(11).status, 'WARNING')
  assert.deepEqual(at(11).reasons, ['queue celery: 11 messages waiting (warning above 10)'])
  assert.equal(at(100).status, 'WARNING')
  assert.equal(at(101).status, 'CRITICAL')
  assert.equal(at(101).code, 2)
  assert.deepEqual(at(101).reasons, ['queue celery: 101 messages waiting (critical above 100)'])
  assert.deepEqual(at(101).queued, {celery: {messages: 101, exists: true, warning: 10, critical: 100}})
  // Without a critical threshold, any depth is at most WARNING.
  const warnOnly = evaluate(result({'w1@h': [q('celery')]}), opts({maxQueued: parseMaxQueued(['celery=0']), depths: [depth('celery', 1_000_000)]}), NOW)
  assert.equal(warnOnly.status, 'WARNING')
})

test('a deep queue ranks with the other reasons: CRITICAL first, then WARNING', () => {
  const h = evaluate(
    result({'w1@h': []}, {missing: ['w2@h']}),
    opts({maxQueued: parseMaxQueued(['a=1:2', 'b=1']), depths: [depth('a', 3), depth('b', 2)]}),
    NOW,
  )
  assert.equal(h.status, 'CRITICAL')
  assert.deepEqual(h.reasons, ['queue a: 3 messages waiting (critical above 2)', 'missing: w2@h', 'w1@h consumes no queue', 'queue b: 2 messages waiting (warning above 1)'])
})

test('a queue the broker does not have, or whose depth it would not give, is WARNING, never OK', () => {
  const limits = parseMaxQueued(['ghost=5', 'locked=5'])
  const h = evaluate(
    result({'w1@h': [q('celery')]}),
    opts({maxQueued: limits, depths: [depth('ghost', 0, {exists: false, consumers: 0}), depth('locked', 0, {error: 'exclusive to another connection'})]}),
    NOW,
  )
  assert.equal(h.status, 'WARNING')
  assert.deepEqual(h.reasons, ['queue ghost does not exist', 'depth of queue locked unknown: exclusive to another connection'])
  assert.deepEqual(h.queued.locked, {messages: null, exists: true, warning: 5, critical: null, error: 'exclusive to another connection'})
  // No depth read at all (the caller did not give one) is unknown too, not zero.
  const unread = evaluate(result({'w1@h': [q('celery')]}), opts({maxQueued: parseMaxQueued(['celery=5'])}), NOW)
  assert.deepEqual(unread.reasons, ['depth of queue celery unknown'])
})

test('Nagios perfdata carry each queue depth with its thresholds (U when unknown); labels cannot break the line', () => {
  const h = evaluate(
    result({'w1@h': [q('celery')]}),
    opts({maxQueued: parseMaxQueued(["celery=10:100", "we'ird|q=5", 'locked=1']), depths: [depth('celery', 3), depth("we'ird|q", 0), depth('locked', 0, {error: 'no'})]}),
    NOW,
  )
  const line = nagiosLine(h)
  assert.equal(line.split('\n').length, 1)
  const perf = line.split(' | ')[1]
  assert.equal(perf, "workers=1;;1:;0 missing=0;;;0 idle=0;0;;0 queued_celery=3;10;100;0 queued_we_ird_q=0;5;;0 queued_locked=U;1;;0 time=0.012s")
  // Without --max-queued nothing changes.
  const plain = evaluate(result({'w1@h': [q('celery')]}), opts(), NOW)
  assert.equal(nagiosLine(plain), 'WFCTL OK - 1 worker, every worker consumes a queue | workers=1;;1:;0 missing=0;;;0 idle=0;0;;0 time=0.012s')
  assert.deepEqual(plain.queued, {})
})

test('Prometheus carries wfctl_queue_messages per queue read, label values escaped; nothing for an unknown depth', () => {
  const odd = 'q"\\\n\u001b[31m'
  const h = evaluate(
    result({'w1@h': [q('celery')]}),
    opts({maxQueued: parseMaxQueued(['b=1', 'a=1', 'locked=1']).concat({queue: odd, warning: 1, critical: null}), depths: [depth('a', 7), depth('b', 0), depth('locked', 0, {error: 'no'}), depth(odd, 2)]}),
    NOW,
  )
  const prom = prometheusText(h)
  assert.match(prom, /^# TYPE wfctl_queue_messages gauge$/m)
  const samples = prom.split('\n').filter((l) => l.startsWith('wfctl_queue_messages{'))
  assert.deepEqual(samples.slice(0, 2), ['wfctl_queue_messages{queue="a"} 7', 'wfctl_queue_messages{queue="b"} 0'])
  assert.equal(samples.length, 3)
  const oddSample = samples[2]
  // Neutralised (the newline and the escape made visible), then the quote and the backslash escaped: one line, one sample.
  assert.ok(oddSample.startsWith('wfctl_queue_messages{queue="q\\"\\\\'), oddSample)
  assert.match(oddSample, /"\} 2$/)
  assert.doesNotMatch(oddSample, /\u001b/)
  assert.doesNotMatch(prom, /queue="locked"\} /)
  // No --max-queued, no such metric.
  assert.doesNotMatch(prometheusText(evaluate(result({'w1@h': [q('celery')]}), opts(), NOW)), /wfctl_queue_messages/)
})

test('the text report lists each --max-queued queue; UNKNOWN keeps the queues with no depth', () => {
  const h = evaluate(result({'w1@h': [q('celery')]}), opts({maxQueued: parseMaxQueued(['celery=10:100', 'ghost=1']), depths: [depth('celery', 3), depth('ghost', 0, {exists: false})]}), NOW)
  const text = healthText(h)
  assert.match(text, /^ {2}queue celery: 3 waiting \(warning above 10, critical above 100\)$/m)
  assert.match(text, /^ {2}queue ghost: no such queue \(warning above 1\)$/m)
  const u = unknown('cannot connect', {minNodes: 1, queues: [], maxQueued: parseMaxQueued(['celery=10'])}, 3, NOW)
  assert.deepEqual(u.queued, {celery: {messages: null, exists: true, warning: 10, critical: null}})
  assert.match(nagiosLine(u), / queued_celery=U;10;;0 /)
  assert.doesNotMatch(prometheusText(u), /wfctl_queue_messages/)
})

test('binding sets: only task exchanges of this key prefix; members give their queue, never a pidbox or event queue', () => {
  assert.equal(taskExchangeOf('_kombu.binding.celery', ''), 'celery')
  assert.equal(taskExchangeOf('p:_kombu.binding.reports', 'p:'), 'reports')
  assert.equal(taskExchangeOf('_kombu.binding.celery', 'p:'), undefined)
  for (const key of ['_kombu.binding.celery.pidbox', '_kombu.binding.reply.celery.pidbox', '_kombu.binding.celeryev', '_kombu.binding.']) assert.equal(taskExchangeOf(key, ''), undefined, key)
  assert.equal(queueOfMember(`celery${SEP}${SEP}celery`), 'celery')
  assert.equal(queueOfMember(`rk${SEP}pat${SEP}q1`), 'q1')
  for (const member of [`${SEP}${SEP}w1@h.celery.pidbox`, `${SEP}${SEP}celeryev.1234`, 'celery', `a${SEP}b`, `a${SEP}b${SEP}`, 7, null]) assert.equal(queueOfMember(member as string), undefined, String(member))
})

test('consumers from the replies: each node once per queue, duplicated names and odd payloads too', () => {
  const r = result(
    {'w1@h': [q('celery'), q('reports')], 'w2@h': [q('celery')], 'w3@h': {error: 'nope'}, 'w4@h': [q('other')], 'w10@h': [q('celery'), 'junk', {name: 5}]},
    {duplicates: ['w4@h'], duplicateReplies: {'w4@h': [[q('other')], [q('extra')]]}},
  )
  assert.deepEqual(consumersOfReplies(r), {celery: ['w1@h', 'w2@h', 'w10@h'], reports: ['w1@h'], other: ['w4@h'], extra: ['w4@h']})
  // Names from the wire are own keys, whatever they are called.
  const proto = consumersOfReplies(result(JSON.parse('{"__proto__": [{"name": "__proto__"}]}')))
  assert.ok(Object.hasOwn(proto, '__proto__'))
  assert.deepEqual(proto.__proto__, ['__proto__'])
})

test('names sort naturally: q2 before q10', () => {
  assert.deepEqual(['q10', 'q2', 'celery', 'Q1'].sort(naturalCompare), ['celery', 'Q1', 'q2', 'q10'])
})

const row = (name: string, messages: number | null, consumers: number | null, over: Partial<QueueRow> = {}): QueueRow => ({name, messages, consumers, exists: true, ...over})
const queues = (rows: QueueRow[], over: Partial<QueuesResult> = {}): QueuesResult => ({queues: rows, consumersFrom: 'workers', consumedBy: {}, elapsedMs: 5, ...over})

test("wfctl queues' exit code: 0 when the depths were read, even if no worker answered; 1 for an unreadable depth or a short roster; 69 when nothing was found", () => {
  const answered = result({'w1@h': [q('celery')]})
  const silent = result({}, {listeners: 0})
  assert.equal(queuesExitCode(queues([row('celery', 3, 1)], {asked: answered})), 0)
  assert.equal(queuesExitCode(queues([row('celery', 3, 0)], {asked: silent})), 0)
  assert.equal(queuesExitCode(queues([row('celery', 3, null)], {consumersFrom: null})), 0)
  assert.equal(queuesExitCode(queues([], {consumersFrom: null})), 0)
  assert.equal(queuesExitCode(queues([row('x', null, null, {error: 'locked'})], {asked: answered})), 1)
  assert.equal(queuesExitCode(queues([row('celery', 3, 1)], {asked: result({'w1@h': [q('celery')]}, {missing: ['w2@h'], expected: 2})})), 1)
  assert.equal(queuesExitCode(queues([], {asked: silent})), 69)
})

test('the --json shape: queues, where consumers come from, the workers that answered, the missing ones', () => {
  const asked = result({'w2@h': [q('celery')], 'w10@h': [q('celery')]}, {errors: {'w3@h': 'unreadable'}, missing: ['w4@h']})
  const out = queuesJson(queues([row('celery', 3, 2), row('ghost', 0, 0, {exists: false})], {asked, consumersFrom: 'broker'}))
  assert.deepEqual(out, {
    queues: [{name: 'celery', messages: 3, consumers: 2, exists: true}, {name: 'ghost', messages: 0, consumers: 0, exists: false}],
    consumersFrom: 'broker',
    workers: ['w2@h', 'w3@h', 'w10@h'],
    missing: ['w4@h'],
    elapsedMs: 5,
  })
  assert.equal(queuesJson(queues([], {consumersFrom: null})).workers, null)
})

test('the table: NAME MESSAGES CONSUMERS, per priority list on request, a NOTE only when a queue needs one; the summary says where consumers come from', () => {
  const r = queues([row('celery', 3, 2), row('reports', 0, 0)], {asked: result({'w1@h': [q('celery')], 'w2@h': [q('celery')]})})
  assert.equal(queuesTable(r, view), 'NAME     MESSAGES  CONSUMERS\ncelery   3         2\nreports  0         0')
  assert.equal(queuesLine(r), '2 queues, 3 messages waiting (consumers: of the 2 workers that answered)')
  const pri = queues([row('celery', 5, null, {byPriority: {'0': 1, '3': 0, '6': 4, '9': 0}})], {consumersFrom: null})
  assert.equal(queuesTable(pri, view, {priorities: true}), 'NAME    MESSAGES  P0-2  P3-5  P6-8  P9  CONSUMERS\ncelery  5         1     0     4     0   -')
  assert.equal(queuesLine(pri), '1 queue, 5 messages waiting (consumers unknown: the workers were not asked)')
  const amqp = queues([row('celery', 1, 1), row('ghost', 0, 0, {exists: false}), row('locked', null, null, {error: 'exclusive to another connection'})], {consumersFrom: 'broker'})
  assert.equal(
    queuesTable(amqp, view),
    'NAME    MESSAGES  CONSUMERS  NOTE\ncelery  1         1\nghost   -         -          no such queue\nlocked  -         -          exclusive to another connection',
  )
  assert.equal(queuesLine(amqp), '3 queues, 1 message waiting, 1 not found, 1 not readable (consumers as the broker counts them)')
  assert.equal(queuesTable(queues([]), view), '')
})

test('queue names from the wire are neutralised in the table and the summary', () => {
  const r = queues([row('evil\u001b]52;c;eA==\u0007q', 1, 0)], {consumersFrom: 'broker', asked: result({}, {missing: ['w\u001b[2Jx@h']})})
  assert.doesNotMatch(queuesTable(r, view), /\u001b|\u0007/)
  assert.doesNotMatch(queuesLine(r), /\u001b/)
})
