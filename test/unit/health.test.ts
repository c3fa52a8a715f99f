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
  assert.equal(nagiosLine(h), 'WFCTL OK - 2/2 workers, queues celery,reports consumed | workers=2;2:;1:;0;2 missing=0;0;;0;2 idle=0;0;;0 others=0;;;0 time=0.012s')
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
  assert.equal(nagiosLine(h), 'WFCTL UNKNOWN - cannot connect to redis://localhost:6379/0: connection refused | workers=0;;2:;0 missing=0;;;0 idle=0;0;;0 time=0.080s')
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

// Counts are of the roster, and the performance data agree with the state.

/** Whether a perfdata range alerts for a value, as the plugin guidelines define ranges. */
function alerts(range: string, value: number): boolean {
  if (range === '') return false
  const inside = range.startsWith('@')
  const r = inside ? range.slice(1) : range
  const [lo, hi] = r.includes(':') ? r.split(':') : ['0', r]
  const low = lo === '~' ? -Infinity : Number(lo || 0)
  const high = hi === '' || hi === undefined ? Infinity : Number(hi)
  const outside = value < low || value > high
  return inside ? !outside : outside
}
/** label → {value, warn, crit, min, max} of a Nagios line. */
function perfdata(line: string): Record<string, {value: number; warn: string; crit: string; min?: number; max?: number}> {
  const out: Record<string, {value: number; warn: string; crit: string; min?: number; max?: number}> = {}
  for (const item of line.split(' | ')[1].split(' ')) {
    const [label, rest] = item.split('=')
    const [value, warn = '', crit = '', min = '', max = ''] = rest.split(';')
    out[label] = {value: Number.parseFloat(value), warn, crit, ...(min ? {min: Number(min)} : {}), ...(max ? {max: Number(max)} : {})}
  }
  return out
}
/** Every value within its own min and max, and the state the thresholds give is the state reported. */
function consistent(line: string, status: string): void {
  let worst = 0
  for (const [label, p] of Object.entries(perfdata(line))) {
    if (p.min !== undefined) assert.ok(p.value >= p.min, `${label} below its min: ${line}`)
    if (p.max !== undefined) assert.ok(p.value <= p.max, `${label} above its max: ${line}`)
    if (alerts(p.crit, p.value)) worst = Math.max(worst, 2)
    else if (alerts(p.warn, p.value)) worst = Math.max(worst, 1)
  }
  // A state may be worse than the numbers say (a queue without consumer), never better.
  assert.ok(worst <= {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}[status]!, `perfdata says ${worst}, state ${status}: ${line}`)
}

test('alerts(): the range semantics of the plugin guidelines', () => {
  assert.equal(alerts('10', 11), true)
  assert.equal(alerts('10', -1), true)
  assert.equal(alerts('10', 5), false)
  assert.equal(alerts('10:', 9), true)
  assert.equal(alerts('10:', 10), false)
  assert.equal(alerts('~:10', 11), true)
  assert.equal(alerts('10:20', 21), true)
  assert.equal(alerts('@10:20', 15), true)
  assert.equal(alerts('0', 1), true)
  assert.equal(alerts('0', 0), false)
})

test('--expect 5 with 4 workers up: missing=1, WARNING, "4/5 workers"', () => {
  const up = Object.fromEntries(['w1@h', 'w2@h', 'w3@h', 'w4@h'].map((n) => [n, [q('celery')]]))
  const h = evaluate(result(up, {expected: 5}), opts({roster: {count: 5}}), NOW)
  assert.equal(h.status, 'WARNING')
  assert.equal(h.missingCount, 1)
  assert.equal(h.roster, 'count')
  assert.match(h.summary, /^4\/5 workers, 4 of 5 expected workers replied$/)
  const line = nagiosLine(h)
  assert.match(line, / workers=4;5:;1:;0 missing=1;0;;0;5 idle=0;0;;0 time=/)
  consistent(line, h.status)
  assert.match(prometheusText(h), /^wfctl_workers_missing 1$/m)
})

test('--expect w1,ghost with 4 workers up: only the roster counts ("1/2 workers (+3 not expected)"), the rest are reported apart', () => {
  const up = Object.fromEntries(['w1@h', 'w2@h', 'w3@h', 'w4@h'].map((n) => [n, [q('celery')]]))
  const h = evaluate(result(up, {expected: 2, missing: ['ghost@h']}), opts({roster: {names: ['w1@h', 'ghost@h']}}), NOW)
  assert.equal(h.status, 'WARNING')
  assert.equal(h.replied, 1)
  assert.equal(h.expected, 2)
  assert.deepEqual(h.others, ['w2@h', 'w3@h', 'w4@h'])
  assert.equal(h.summary, '1/2 workers (+3 not expected), missing: ghost@h')
  const line = nagiosLine(h)
  assert.match(line, / workers=1;2:;1:;0;2 missing=1;0;;0;2 idle=0;0;;0 others=3;;;0 time=/)
  consistent(line, h.status)
  assert.match(healthText(h), /w2@h\s+celery \(not expected\)/)
  assert.match(prometheusText(h), /^wfctl_workers_unexpected 3$/m)
})

test('with a roster of names, --min-nodes counts the roster: only strangers answering is CRITICAL', () => {
  const h = evaluate(result({'w9@h': [q('celery')]}, {expected: 2, missing: ['w1@h', 'w2@h']}), opts({roster: {names: ['w1@h', 'w2@h']}}), NOW)
  assert.equal(h.status, 'CRITICAL')
  assert.equal(h.reasons[0], 'no expected worker replied')
  consistent(nagiosLine(h), h.status)
})

test('-d alone is a roster of names', () => {
  const h = evaluate(result({'w1@h': [q('celery')]}, {expected: 1}), opts({destination: ['w1@h']}), NOW)
  assert.equal(h.status, 'OK')
  assert.equal(h.roster, 'names')
  assert.match(nagiosLine(h), / workers=1;1:;1:;0;1 /)
})

test('the perfdata agree with the state in every state', () => {
  const cases = [
    evaluate(result({'w1@h': [q('celery')], 'w2@h': []}), opts(), NOW),
    evaluate(result({}), opts({roster: {count: 2}}), NOW),
    evaluate(result({'w1@h': [q('celery')]}, {missing: ['w2@h'], expected: 2}), opts({roster: {names: ['w1@h', 'w2@h']}, minNodes: 2}), NOW),
    evaluate(result({'w1@h': [q('celery')], 'w2@h': [q('celery')], 'w3@h': [q('celery')]}, {expected: 2}), opts({roster: {count: 2}}), NOW),
    unknown('misused', {minNodes: 1, queues: []}, 3, NOW),
  ]
  for (const h of cases) consistent(nagiosLine(h), h.status)
})

test('without a roster, on Redis: more mailboxes heard it than replied is WARNING, naming both counts', () => {
  const up = {'w1@h': [q('celery')], 'w2@h': [q('celery')]}
  const h = evaluate(result(up, {listeners: 3, unanswered: 1}), opts(), NOW)
  assert.equal(h.status, 'WARNING')
  assert.deepEqual(h.reasons, ['3 mailboxes heard it, 2 replied'])
  assert.equal(h.summary, '2 workers, 3 mailboxes heard it, 2 replied')
  assert.equal(h.unanswered, 1)
  // Every mailbox replied: OK.
  assert.equal(evaluate(result(up, {listeners: 2, unanswered: 0}), opts(), NOW).status, 'OK')
  // RabbitMQ: the count is not known, nothing is said.
  assert.equal(evaluate(result(up, {listeners: null, unanswered: null}), opts(), NOW).status, 'OK')
  // A roster decides instead of the count of mailboxes.
  const rostered = evaluate(result(up, {listeners: 3, unanswered: 1, expected: 2}), opts({roster: {names: ['w1@h', 'w2@h']}}), NOW)
  assert.equal(rostered.status, 'OK')
  assert.equal(rostered.unanswered, null)
})
