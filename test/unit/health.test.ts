import assert from 'node:assert/strict'
import {test} from 'node:test'

import {evaluate, unknown, type HealthOptions} from '../../src/fleet/health.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'
import {healthText, nagiosLine, prometheusText} from '../../src/render/health.ts'

const NOW = Date.parse('2026-11-21T06:30:00Z')
const q = (name: string) => ({name, exchange: {name, type: 'direct'}, routing_key: name})

function result(replies: Record<string, unknown>, over: Partial<FleetResult> = {}): FleetResult {
  return {method: 'active_queues', replies, missing: [], errors: {}, duplicates: [], duplicateReplies: {}, elapsedMs: 12, latencyMs: {}, expected: null, undecodable: [], listeners: null, ...over}
}
const opts = (over: Partial<HealthOptions> = {}): HealthOptions => ({destination: [], minNodes: 1, queues: [], ...over})

test('a healthy fleet is OK: every expected node replied and each required queue has a consumer', () => {
  const h = evaluate(result({'w1@h': [q('celery')], 'w2@h': [q('celery'), q('reports')]}, {expected: 2}), opts({roster: {names: ['w1@h', 'w2@h']}, queues: ['celery', 'reports']}), NOW)
  assert.equal(h.status, 'OK')
  assert.equal(h.code, 0)
  assert.deepEqual(h.queues, {celery: ['w1@h', 'w2@h'], reports: ['w2@h']})
  assert.equal(h.summary, '2/2 workers, queues celery,reports consumed')
  assert.equal(nagiosLine(h), 'WFCTL OK - 2/2 workers, queues celery,reports consumed | workers=2;2:;1:;0 missing=0;;;0 idle=0;;;0 time=0.012s')
})

test('a silent expected worker is WARNING when --min-nodes and the queues still hold', () => {
  const h = evaluate(result({'w1@h': [q('celery')]}, {missing: ['w2@h'], expected: 2}), opts({roster: {names: ['w1@h', 'w2@h']}, queues: ['celery']}), NOW)
  assert.equal(h.status, 'WARNING')
  assert.equal(h.code, 1)
  assert.deepEqual(h.reasons, ['missing: w2@h'])
})

test('an expected count not reached is WARNING', () => {
  const h = evaluate(result({'w1@h': [q('celery')]}), opts({roster: {count: 3}}), NOW)
  assert.equal(h.status, 'WARNING')
  assert.deepEqual(h.reasons, ['1 of 3 expected workers replied'])
  assert.equal(h.expected, 3)
})

test('a worker that answers but consumes no queue is flagged (WARNING), even though ping would pass', () => {
  const h = evaluate(result({'w1@h': [q('celery')], 'w2@h': []}), opts(), NOW)
  assert.equal(h.status, 'WARNING')
  assert.deepEqual(h.idle, ['w2@h'])
  assert.deepEqual(h.reasons, ['w2@h consumes no queue'])
  assert.match(healthText(h), /w2@h\s+\(consumes no queue\)/)
  assert.match(prometheusText(h), /^wfctl_worker_idle\{node="w2@h"\} 1$/m)
})

test('a required queue without a consumer is CRITICAL, and so is fewer than --min-nodes (none counts)', () => {
  const noConsumer = evaluate(result({'w1@h': [q('celery')]}), opts({queues: ['reports']}), NOW)
  assert.equal(noConsumer.status, 'CRITICAL')
  assert.equal(noConsumer.code, 2)
  assert.deepEqual(noConsumer.reasons, ['queue reports has no consumer'])
  const none = evaluate(result({}), opts(), NOW)
  assert.equal(none.status, 'CRITICAL')
  assert.deepEqual(none.reasons, ['no worker replied'])
  const few = evaluate(result({'w1@h': [q('celery')]}), opts({minNodes: 2}), NOW)
  assert.equal(few.status, 'CRITICAL')
  assert.deepEqual(few.reasons, ['only 1 of at least 2 workers replied'])
})

test('CRITICAL reasons come before WARNING ones', () => {
  const h = evaluate(result({'w1@h': []}, {missing: ['w2@h']}), opts({queues: ['celery']}), NOW)
  assert.equal(h.status, 'CRITICAL')
  assert.deepEqual(h.reasons, ['queue celery has no consumer', 'missing: w2@h', 'w1@h consumes no queue'])
})

test('error replies, payloads of another shape, unreadable replies and duplicate names are WARNING, never a crash', () => {
  const h = evaluate(
    result(
      {'w1@h': [q('celery')], 'w2@h': {error: "KeyError('active_queues')"}, 'w3@h': 'what', 'w4@h': [q('celery')]},
      {undecodable: [{reason: 'pickle'}], duplicates: ['w4@h'], duplicateReplies: {'w4@h': [[q('celery')], [q('other')]]}},
    ),
    opts(),
    NOW,
  )
  assert.equal(h.status, 'WARNING')
  assert.deepEqual(h.errors, {'w2@h': "KeyError('active_queues')", 'w3@h': 'unexpected reply: "what"'})
  assert.deepEqual(h.nodes['w4@h'], ['celery', 'other'])
  assert.ok(h.reasons.includes('1 unreadable reply'))
  assert.ok(h.reasons.includes('duplicate node names: w4@h'))
})

test('UNKNOWN carries why the check could not be made', () => {
  const h = unknown('cannot connect to redis://localhost:6379/0: connection refused', {minNodes: 2, queues: ['celery']}, 80, NOW)
  assert.equal(h.code, 3)
  assert.equal(nagiosLine(h), 'WFCTL UNKNOWN - cannot connect to redis://localhost:6379/0: connection refused | workers=0;;2:;0 missing=0;;;0 idle=0;;;0 time=0.080s')
  assert.match(prometheusText(h), /^wfctl_check_status 3$/m)
  assert.match(prometheusText(h), /^wfctl_queue_consumers\{queue="celery"\} 0$/m)
})

test('the Nagios line stays one line with no stray "|", whatever a worker sent', () => {
  const h = evaluate(result({'w1@h': {error: 'bad | thing\nsecond line'}}), opts(), NOW)
  const line = nagiosLine(h)
  assert.equal(line.split('\n').length, 1)
  assert.equal(line.split('|').length, 2, line)
})

test('prometheus output is the text exposition format: HELP and TYPE per metric, escaped labels, every metric of the contract', () => {
  const h = evaluate(result({'w"1\\@h': [q('cel"ery')]}, {missing: ['w2@h'], expected: 2}), opts({roster: {names: ['w"1\\@h', 'w2@h']}}), NOW)
  const text = prometheusText(h)
  for (const name of ['wfctl_check_status', 'wfctl_workers_replied', 'wfctl_workers_expected', 'wfctl_worker_up', 'wfctl_queue_consumers', 'wfctl_check_duration_seconds', 'wfctl_check_timestamp_seconds']) {
    assert.match(text, new RegExp(`^# HELP ${name} .+\\n# TYPE ${name} gauge$`, 'm'), name)
  }
  assert.match(text, /^wfctl_worker_up\{node="w\\"1\\\\@h"\} 1$/m)
  assert.match(text, /^wfctl_worker_up\{node="w2@h"\} 0$/m)
  assert.match(text, /^wfctl_queue_consumers\{queue="cel\\"ery"\} 1$/m)
  assert.match(text, /^wfctl_check_timestamp_seconds 1795242600$/m)
  assert.match(text, /^wfctl_check_duration_seconds 0\.012$/m)
  assert.ok(text.endsWith('\n'))
  for (const line of text.trimEnd().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="(?:[^"\\]|\\.)*"\})? -?[\d.]+)$/, line)
})
