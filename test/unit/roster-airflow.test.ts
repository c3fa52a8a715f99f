import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {test} from 'node:test'

import {UsageError} from '../../src/errors.ts'
import {assumedNotice, awaitedNodes, checkRoster, nodeNameOf, parseDestinations, parseExpect, readDestinations, readExpect} from '../../src/fleet/roster.ts'

// Node names as Airflow operators type them: Airflow's workers (and any worker started with
// `celery worker -n NAME`) are named celery@NAME, so a name without @ means celery@NAME.

test('a name without @ is celery@NAME; a name with @ anywhere is left as it is', () => {
  assert.equal(nodeNameOf('airhost'), 'celery@airhost')
  assert.equal(nodeNameOf('airflow-worker-0.airflow-worker.airflow.svc.cluster.local'), 'celery@airflow-worker-0.airflow-worker.airflow.svc.cluster.local')
  for (const name of ['celery@airhost', 'w1@h', '@h', 'w1@', 'a@b@c']) assert.equal(nodeNameOf(name), name)
})

test('-d: names without @ taken as celery@NAME, in order, without duplicates, and said which', () => {
  assert.deepEqual(readDestinations(['airhost']), {names: ['celery@airhost'], assumed: [{given: 'airhost', node: 'celery@airhost'}]})
  assert.deepEqual(readDestinations(['w1@h,airhost', 'celery@airhost', ' web2 ', 'airhost']), {
    names: ['w1@h', 'celery@airhost', 'celery@web2'],
    assumed: [{given: 'airhost', node: 'celery@airhost'}, {given: 'web2', node: 'celery@web2'}],
  })
  // Names with @ are not "assumed": nothing to say.
  assert.deepEqual(readDestinations(['w1@h', 'celery@x']), {names: ['w1@h', 'celery@x'], assumed: []})
  assert.deepEqual(readDestinations(undefined), {names: [], assumed: []})
  assert.deepEqual(parseDestinations(['airhost', 'w1@h']), ['celery@airhost', 'w1@h'])
})

test('a bad name is refused as it was typed, before any default applies', () => {
  for (const bad of ['air host', 'air\x1bhost', '-airhost', 'air,']) {
    assert.throws(() => readDestinations([bad]), UsageError, JSON.stringify(bad))
    assert.throws(() => readExpect(bad), UsageError, JSON.stringify(bad))
  }
  assert.throws(() => readDestinations(['-x']), /invalid node name "-x"/)
})

test('--expect: a count stays a count; names without @ are celery@NAME', () => {
  assert.deepEqual(readExpect('3'), {roster: {count: 3}, assumed: [], source: '--expect'})
  assert.deepEqual(readExpect('airhost,w2@h'), {roster: {names: ['celery@airhost', 'w2@h']}, assumed: [{given: 'airhost', node: 'celery@airhost'}], source: '--expect'})
  assert.deepEqual(parseExpect('airhost'), {names: ['celery@airhost']})
  assert.deepEqual(readExpect(undefined), {roster: undefined, assumed: [], source: '--expect'})
})

test('roster files: names without @ are celery@NAME too, and the notice names the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-roster-airflow-'))
  try {
    const file = join(dir, 'workers.txt')
    writeFileSync(file, '# Airflow workers\nairflow-worker-0\nairflow-worker-1   # second\n\ncelery@airflow-worker-0\nw9@elsewhere\n')
    const read = readExpect(`@${file}`)
    assert.deepEqual(read.roster, {names: ['celery@airflow-worker-0', 'celery@airflow-worker-1', 'w9@elsewhere']})
    assert.deepEqual(read.assumed.map((a) => a.given), ['airflow-worker-0', 'airflow-worker-1'])
    assert.equal(read.source, `roster file ${file}`)
    assert.equal(assumedNotice(read.source, read.assumed), `roster file ${file} airflow-worker-0, airflow-worker-1: taken as celery@airflow-worker-0, celery@airflow-worker-1`)
    // A line that is no node name is still refused by its number, its content never echoed.
    writeFileSync(file, 'airhost\nnot a name\n')
    assert.throws(() => readExpect(`@${file}`), (e: Error) => /line 2: not a node name/.test(e.message) && !e.message.includes('not a name'))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('the notice: "-d airhost: taken as celery@airhost"; up to three names listed, more summed up; none, no notice', () => {
  assert.equal(assumedNotice('-d', [{given: 'airhost', node: 'celery@airhost'}]), '-d airhost: taken as celery@airhost')
  const three = ['a', 'b', 'c'].map((g) => ({given: g, node: `celery@${g}`}))
  assert.equal(assumedNotice('--expect', three), '--expect a, b, c: taken as celery@a, celery@b, celery@c')
  const many = Array.from({length: 40}, (_, i) => ({given: `w${i}`, node: `celery@w${i}`}))
  assert.equal(assumedNotice('-d', many), '-d: 40 names without @ taken as celery@NAME (w0: celery@w0, ...)')
  assert.equal(assumedNotice('-d', []), undefined)
})

test('the roster checks see the full names: -d airhost --expect airhost agree, --expect names -d misses are refused', () => {
  const destination = parseDestinations(['airhost'])
  const roster = parseExpect('airhost')
  assert.doesNotThrow(() => checkRoster({destination}, roster))
  assert.deepEqual(awaitedNodes(destination, roster), ['celery@airhost'])
  assert.doesNotThrow(() => checkRoster({destination: parseDestinations(['celery@airhost'])}, roster))
  assert.throws(() => checkRoster({destination}, parseExpect('airhost,web2')), /--expect names celery@web2, which -d does not address/)
  // --pattern is a pattern, never a name: a bare --expect name must match it as celery@NAME.
  assert.doesNotThrow(() => checkRoster({destination: [], pattern: 'celery@air*', matcher: 'glob'}, parseExpect('airhost')))
  assert.throws(() => checkRoster({destination: [], pattern: 'air*', matcher: 'glob'}, parseExpect('airhost')), /celery@airhost, which --pattern "air\*" \(glob\) does not match/)
})
