import assert from 'node:assert/strict'
import {test} from 'node:test'

import {ExitCode, UsageError} from '../../src/errors.ts'
import {
  argsObject,
  attributeNames,
  autoscaleBounds,
  durationMs,
  keyValues,
  looseValue,
  nonNegativeInteger,
  positiveInteger,
  rateLimit,
  parseSeconds,
  signalName,
  stampedHeaders,
  taskIds,
  terminateArguments,
  timeLimits,
  word,
} from '../../src/fleet/arguments.ts'
import {isDestructive, reachesMany, whom} from '../../src/fleet/methods.ts'

/** Asserts a usage error: exit code 2, one line, naming what was wrong (`names`, as it appears in the message). */
function rejects(fn: () => unknown, ...names: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`)
    assert.equal(error.exitCode, ExitCode.usage)
    assert.equal(error.exitCode, 2)
    assert.equal(error.name, 'UsageError')
    assert.ok(!error.message.includes('\n'), `message is more than one line: ${JSON.stringify(error.message)}`)
    assert.ok(error.message.length > 0)
    for (const name of names) assert.ok(error.message.includes(name), `${JSON.stringify(error.message)} does not name ${JSON.stringify(name)}`)
    return true
  })
}

test('positiveInteger: digits of 1 or more, trimmed, sent as a number', () => {
  assert.equal(positiveInteger('1', 'N'), 1)
  assert.equal(positiveInteger('8', 'N'), 8)
  assert.equal(positiveInteger(' 3 ', 'N'), 3)
  assert.equal(positiveInteger('007', 'N'), 7)
  assert.equal(positiveInteger('9007199254740991', 'N'), Number.MAX_SAFE_INTEGER)
  assert.equal(typeof positiveInteger('2', 'N'), 'number')
})

test('positiveInteger: zero, negatives, fractions, words, empty and unsafe numbers are usage errors naming the value', () => {
  assert.throws(() => positiveInteger('0', 'N'), {message: 'N must be a positive integer, got "0"'})
  for (const bad of ['0', '-1', '1.5', 'abc', '+1', '1e3', '0x10', '1 2', '00', '9007199254740992']) rejects(() => positiveInteger(bad, '--samples'), '--samples', `"${bad}"`)
  rejects(() => positiveInteger('', 'N'), 'N must be a positive integer', '""')
  rejects(() => positiveInteger('   ', 'N'), '"   "')
})

test('nonNegativeInteger: 0 is allowed (autoscale MIN), anything else but digits is not', () => {
  assert.equal(nonNegativeInteger('0', 'MIN'), 0)
  assert.equal(nonNegativeInteger(' 4 ', 'MIN'), 4)
  assert.equal(nonNegativeInteger('00', 'MIN'), 0)
  for (const bad of ['-1', '1.5', 'abc', '', ' ', '1e2', '99999999999999999999']) rejects(() => nonNegativeInteger(bad, 'MIN'), 'MIN must be a whole number', `"${bad}"`)
})

test('autoscaleBounds: MAX at least 1, MIN at least 0, MIN not above MAX', () => {
  assert.deepEqual(autoscaleBounds('10', '3'), {max: 10, min: 3})
  assert.deepEqual(autoscaleBounds('4', '0'), {max: 4, min: 0})
  assert.deepEqual(autoscaleBounds('3', '3'), {max: 3, min: 3})
  assert.deepEqual(autoscaleBounds(' 5 ', ' 1 '), {max: 5, min: 1})
  rejects(() => autoscaleBounds('3', '5'), 'MIN (5)', 'MAX (3)')
  assert.throws(() => autoscaleBounds('3', '5'), {message: 'MIN (5) must not be greater than MAX (3)'})
  rejects(() => autoscaleBounds('0', '0'), 'MAX must be a positive integer', '"0"')
  rejects(() => autoscaleBounds('x', '1'), 'MAX', '"x"')
  rejects(() => autoscaleBounds('5', '-1'), 'MIN', '"-1"')
  rejects(() => autoscaleBounds('5', ''), 'MIN', '""')
})

test('seconds: whole or fractional, zero allowed, sent as a number', () => {
  assert.equal(parseSeconds('0', 'SOFT', {allowZero: true}), 0)
  assert.equal(parseSeconds('30', 'SOFT'), 30)
  assert.equal(parseSeconds('1.5', 'SOFT'), 1.5)
  assert.equal(parseSeconds('.5', 'SOFT'), 0.5)
  assert.equal(parseSeconds(' 2 ', 'SOFT'), 2)
  assert.equal(parseSeconds('1e3', 'SOFT'), 1000)
  for (const bad of ['-1', 'abc', '', '.', 'Infinity', 'NaN', '1,5', '1s', '--1', '0x10']) rejects(() => parseSeconds(bad, 'HARD', {allowZero: true}), 'HARD must be a number of seconds', `"${bad}"`)
  // Zero is no duration: only a time limit (where it means "none") accepts it.
  rejects(() => parseSeconds('0', '--wait'), '--wait must be a positive number of seconds', '"0"')
})

test('timeLimits: SOFT alone, SOFT with HARD, HARD 0 means none; a soft limit above the hard one is refused', () => {
  assert.deepEqual(timeLimits('10', undefined), {soft: 10, hard: null})
  assert.deepEqual(timeLimits('10', '20'), {soft: 10, hard: 20})
  assert.deepEqual(timeLimits('10', '10'), {soft: 10, hard: 10})
  assert.deepEqual(timeLimits('10', '0'), {soft: 10, hard: 0})
  assert.deepEqual(timeLimits('0', '5.5'), {soft: 0, hard: 5.5})
  rejects(() => timeLimits('30', '10'), 'SOFT (30s)', 'HARD (10s)')
  rejects(() => timeLimits('x', '10'), 'SOFT', '"x"')
  rejects(() => timeLimits('10', 'y'), 'HARD', '"y"')
  rejects(() => timeLimits('10', '-5'), 'HARD', '"-5"')
})

test('rateLimit: per second, /s, /m, /h as typed; 0 in any unit disables and is sent as null', () => {
  assert.equal(rateLimit('0'), null)
  assert.equal(rateLimit('0/m'), null)
  assert.equal(rateLimit('0/h'), null)
  assert.equal(rateLimit('0.0/s'), null)
  assert.equal(rateLimit('10/m'), '10/m')
  assert.equal(rateLimit('5'), '5')
  assert.equal(rateLimit('5/s'), '5/s')
  assert.equal(rateLimit('100/h'), '100/h')
  assert.equal(rateLimit('1.5/m'), '1.5/m')
  assert.equal(rateLimit('.5'), '.5')
  assert.equal(rateLimit(' 10/m '), '10/m')
})

test('rateLimit: unknown units, words, negatives and half-typed rates are usage errors naming the value', () => {
  for (const bad of ['5/d', 'abc', '-1', '1/', '', '/m', '10/M', '10/min', '10 /m', '1e3', '10/m/s', 'null']) {
    rejects(() => rateLimit(bad), 'RATE must look like 10/m', `"${bad}"`)
  }
})

test('signalName: any case, with or without SIG, sent upper-case as typed', () => {
  assert.equal(signalName('kill'), 'KILL')
  assert.equal(signalName('SIGTERM'), 'SIGTERM')
  assert.equal(signalName('sigusr1'), 'SIGUSR1')
  assert.equal(signalName('Hup'), 'HUP')
  assert.equal(signalName(' term '), 'TERM')
  assert.equal(signalName('rtmin'), 'RTMIN')
  assert.equal(signalName('SIGCHLD'), 'SIGCHLD')
})

test('signalName: unknown names, numbers and empty input are usage errors naming the value', () => {
  for (const bad of ['FOO', '', '9', 'SIG', 'SIGFOO', 'SIGSIGTERM', 'TERM KILL', '-9', 'SIGKILL9']) {
    rejects(() => signalName(bad), `"${bad}" is not a signal name`)
  }
})

test('taskIds: repeatable, comma lists, trimmed, deduplicated in order; custom ids allowed', () => {
  assert.deepEqual(taskIds(['66356522-936d-4b75-9507-70fa9e51e314']), ['66356522-936d-4b75-9507-70fa9e51e314'])
  assert.deepEqual(taskIds(['b,a', ' c ', 'a']), ['b', 'a', 'c'])
  assert.deepEqual(taskIds(['my:custom/id#1']), ['my:custom/id#1'])
})

test('taskIds: none, empty items and ids with whitespace are usage errors naming the item', () => {
  rejects(() => taskIds([]), 'at least one task id')
  rejects(() => taskIds([], 'revoked id'), 'at least one revoked id')
  rejects(() => taskIds(['a,,b']), 'invalid task id ""')
  rejects(() => taskIds(['']), 'invalid task id ""')
  rejects(() => taskIds(['ok', 'a b']), 'invalid task id "a b"')
  rejects(() => taskIds(['x\u00a0y']), 'invalid task id', 'x\u00a0y')
})

test('word: one non-empty name, trimmed', () => {
  assert.equal(word(' celery ', 'QUEUE'), 'celery')
  assert.equal(word('wfctl_tasks.add', 'TASK'), 'wfctl_tasks.add')
  rejects(() => word('', 'QUEUE'), 'QUEUE must be a non-empty name', '""')
  rejects(() => word('   ', 'QUEUE'), 'QUEUE', '"   "')
  rejects(() => word('two words', 'TASK'), 'TASK', '"two words"')
  rejects(() => word('tab\there', 'TASK'), 'TASK', '"tab\\there"')
})

test('attributeNames: Python identifiers, none at all allowed', () => {
  assert.deepEqual(attributeNames(['rate_limit', 'time_limit', 'queue', '_private']), ['rate_limit', 'time_limit', 'queue', '_private'])
  assert.deepEqual(attributeNames([]), [])
  for (const bad of ['rate-limit', '1x', '', 'a b', 'queue.name']) rejects(() => attributeNames(['queue', bad]), `invalid task attribute ${JSON.stringify(bad)}`)
})

test('looseValue: JSON where it parses, else the text itself', () => {
  assert.equal(looseValue('1'), 1)
  assert.equal(looseValue('2.5'), 2.5)
  assert.equal(looseValue('true'), true)
  assert.equal(looseValue('null'), null)
  assert.equal(looseValue('"x"'), 'x')
  assert.deepEqual(looseValue('[1,"a"]'), [1, 'a'])
  assert.deepEqual(looseValue('{"a":{"b":1}}'), {a: {b: 1}})
  assert.equal(looseValue('abc'), 'abc')
  assert.equal(looseValue(''), '')
  assert.equal(looseValue('01'), '01')
  assert.equal(looseValue('celery@h'), 'celery@h')
  assert.equal(looseValue('{bad'), '{bad')
})

test('keyValues: KEY=VALUE pairs with JSON values; the first = splits', () => {
  assert.deepEqual(keyValues(['n=2', 'queue=celery', 'flag=true', 'obj={"a":[1]}', 'empty=', 'eq=a=b', ' k =v'], 'an argument'), {
    n: 2, queue: 'celery', flag: true, obj: {a: [1]}, empty: '', eq: 'a=b', k: 'v',
  })
  assert.deepEqual(keyValues([], 'an argument'), {})
  assert.deepEqual(keyValues(['n=1', 'n=2'], 'an argument'), {n: 2})
  for (const bad of ['=1', 'novalue', 'a b=1', '', ' =1']) rejects(() => keyValues(['ok=1', bad], 'an argument'), 'an argument must look like KEY=VALUE', JSON.stringify(bad))
})

test('stampedHeaders: K=V pairs kept as text, a repeated key collects a list', () => {
  assert.deepEqual(stampedHeaders(['mystamp=abc']), {mystamp: 'abc'})
  assert.deepEqual(stampedHeaders(['k=1', 'k=2', 'j=x', 'k=3']), {k: ['1', '2', '3'], j: 'x'})
  assert.deepEqual(stampedHeaders(['k=a=b']), {k: 'a=b'})
  assert.equal(typeof stampedHeaders(['n=1']).n, 'string')
  rejects(() => stampedHeaders([]), 'at least one stamped header')
  for (const bad of ['k=', '=v', 'k', 'a b=1']) rejects(() => stampedHeaders(['ok=1', bad]), 'stamped header must look like KEY=VALUE', JSON.stringify(bad))
})

test('argsObject: a JSON object; anything else is a usage error', () => {
  assert.deepEqual(argsObject('{"n": 2}'), {n: 2})
  assert.deepEqual(argsObject('{}'), {})
  assert.deepEqual(argsObject(' {"a": {"b": [1, null]}} '), {a: {b: [1, null]}})
  for (const bad of ['[1]', 'null', '"x"', '2', 'true']) rejects(() => argsObject(bad), '--args must be a JSON object')
  rejects(() => argsObject('{bad'), '--args is not valid JSON')
  rejects(() => argsObject(''), '--args is not valid JSON')
})

test('reachesMany: a broadcast, a pattern, or any number of destinations but one', () => {
  assert.equal(reachesMany({}), true)
  assert.equal(reachesMany({destination: ['a@h']}), false)
  assert.equal(reachesMany({destination: ['a@h', 'b@h']}), true)
  assert.equal(reachesMany({destination: []}), true)
  assert.equal(reachesMany({pattern: 'celery@web-*'}), true)
  assert.equal(reachesMany({destination: ['a@h'], pattern: 'a@*', matcher: 'glob'}), true)
})

test('isDestructive: shutdown, restarts and terminations always; shrinking many pools or cancelling consumers on many nodes; nothing else', () => {
  const one = {destination: ['a@h']}
  const all = {}
  for (const method of ['shutdown', 'pool_restart', 'terminate']) {
    assert.equal(isDestructive(method, {}, one), true, method)
    assert.equal(isDestructive(method, {}, all), true, method)
  }
  assert.equal(isDestructive('revoke', {task_id: ['x'], terminate: true}, one), true)
  assert.equal(isDestructive('revoke', {task_id: ['x'], terminate: false}, all), false)
  assert.equal(isDestructive('revoke', {task_id: ['x']}, all), false)
  assert.equal(isDestructive('revoke_by_stamped_headers', {headers: {a: 'b'}, terminate: true}, one), true)
  assert.equal(isDestructive('revoke_by_stamped_headers', {headers: {a: 'b'}}, all), false)
  for (const method of ['autoscale', 'pool_shrink', 'cancel_consumer']) {
    assert.equal(isDestructive(method, {n: 1}, all), true, `${method} broadcast`)
    assert.equal(isDestructive(method, {n: 1}, {pattern: 'w*'}), true, `${method} pattern`)
    assert.equal(isDestructive(method, {n: 1}, {destination: ['a@h', 'b@h']}), true, `${method} two nodes`)
    assert.equal(isDestructive(method, {n: 1}, one), false, `${method} one node`)
  }
  for (const method of ['ping', 'pool_grow', 'rate_limit', 'time_limit', 'add_consumer', 'enable_events', 'active', 'stats']) {
    assert.equal(isDestructive(method, {terminate: true}, all), false, method)
  }
})

test('whom: the destinations, the pattern with its matcher, or ALL workers', () => {
  assert.equal(whom({destination: ['a@h']}), 'a@h')
  assert.equal(whom({destination: ['a@h', 'b@h']}), 'a@h, b@h')
  assert.equal(whom({pattern: 'celery@web-*'}), 'every worker matching glob "celery@web-*"')
  assert.equal(whom({pattern: 'web[0-9]+', matcher: 'pcre'}), 'every worker matching pcre "web[0-9]+"')
  assert.equal(whom({}), 'ALL workers')
  assert.equal(whom({destination: []}), 'ALL workers')
})

// Found by these tests and fixed: kept so they stay fixed.

test('usage errors stay one line when the value typed contains a newline', () => {
  rejects(() => positiveInteger('1\n2', 'N'), 'N must be a positive integer')
  rejects(() => nonNegativeInteger('1\n2', 'MIN'), 'MIN must be a whole number')
  rejects(() => parseSeconds('1\n2', 'SOFT', {allowZero: true}), 'SOFT must be a number of seconds')
  rejects(() => rateLimit('5/d\nx'), 'RATE must look like')
  rejects(() => signalName('FOO\nBAR'), 'is not a signal name')
  rejects(() => argsObject('{"a":\n}'), '--args is not valid JSON')
})

test('keyValues keeps a key named __proto__ as an argument, or refuses it', () => {
  let out: Record<string, unknown>
  try {
    out = keyValues(['__proto__={"x":1}', 'a=1'], 'an argument')
  } catch (error) {
    assert.ok(error instanceof UsageError)
    return
  }
  assert.deepEqual(Object.keys(out), ['__proto__', 'a'])
})

test('terminateArguments: nothing without --terminate, TERM by default, --signal only with --terminate', () => {
  assert.deepEqual(terminateArguments(false, undefined), {})
  assert.deepEqual(terminateArguments(true, undefined), {terminate: true, signal: 'TERM'})
  assert.deepEqual(terminateArguments(true, 'kill'), {terminate: true, signal: 'KILL'})
  assert.throws(() => terminateArguments(false, 'KILL'), /--signal applies only with --terminate/)
  assert.throws(() => terminateArguments(true, 'NOPE'), /not a signal name/)
})

test('waits: positive seconds that a timer can hold, refused beyond', () => {
  assert.equal(durationMs('1', '--timeout'), 1000)
  assert.equal(durationMs('0.5', '--timeout'), 500)
  assert.equal(durationMs('.25', '--timeout'), 250)
  assert.equal(durationMs('2147483', '--timeout'), 2_147_483_000)
  assert.equal(durationMs('1e3', '--timeout'), 1_000_000)
  assert.throws(() => durationMs('1e10', '--timeout'), /at most 2147483 seconds/)
  for (const bad of ['1e10', '2592000', '2147484', '0', '-1', '', ' ', 'NaN', 'Infinity', '1e400', '0x10', '0.0001', '1s']) {
    assert.throws(() => durationMs(bad, '--timeout'), (e: Error) => e instanceof UsageError && /^--timeout must be/.test(e.message), JSON.stringify(bad))
  }
})

test('names sent to workers hold no control or bidi characters', () => {
  for (const bad of ['q\x1b[2J', 'q\x00', 'q\u009b', 'q\u202e', 'q\u2066x']) {
    assert.throws(() => word(bad, 'QUEUE'), UsageError, JSON.stringify(bad))
    assert.throws(() => taskIds([bad]), UsageError, JSON.stringify(bad))
    assert.throws(() => stampedHeaders([`k=${bad}`]), UsageError, JSON.stringify(bad))
  }
})
