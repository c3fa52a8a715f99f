import assert from 'node:assert/strict'
import {test} from 'node:test'

import {evaluate} from '../../src/fleet/health.ts'
import {naturalCompare} from '../../src/fleet/live.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'
import {healthText, prometheusText} from '../../src/render/health.ts'
import {inspectView} from '../../src/render/inspect.ts'
import {safe} from '../../src/render/safe.ts'
import {clip, displayWidth, shortenAt} from '../../src/render/table.ts'
import {repliesTable, statusTable, summaryLine} from '../../src/render/text.ts'

/*
 * Rendering is linear in the rows and in the size of the values. No time is asserted here (the
 * benchmark measures it): these are the sizes that used to never finish (100,000 rows: the table
 * layout was quadratic) or to exhaust memory (a payload string spread into an array of characters
 * to cut it to 80 columns), checked for exact, correct output.
 */

const view = {color: false, columns: 80}
const N = 100_000
const NOW = Date.parse('2026-11-21T06:30:00Z')

function result(method: string, replies: Record<string, unknown>, over: Partial<FleetResult> = {}): FleetResult {
  return {method, replies, missing: [], errors: {}, duplicates: [], duplicateReplies: {}, elapsedMs: 12, latencyMs: {}, expected: null, undecodable: [], listeners: null, ...over}
}

const name = (i: number) => `celery@worker-${String(i).padStart(6, '0')}.example.com`

/** The nodes in an order that is not the sorted one, so that the tables must sort them. */
function shuffledNames(n: number): string[] {
  const names = Array.from({length: n}, (_, i) => name(i))
  let seed = 7
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    const j = seed % (i + 1)
    ;[names[i], names[j]] = [names[j], names[i]]
  }
  return names
}

function assertFits(out: string, columns: number): void {
  for (const line of out.split('\n')) assert.ok(displayWidth(line) <= columns - 1, `${displayWidth(line)} > ${columns - 1}: ${JSON.stringify(line.slice(0, 100))}`)
}

test('100,000 replies: one line per node, sorted, each with its status, latency and reply', () => {
  const replies: Record<string, unknown> = {}
  const latencyMs: Record<string, number> = {}
  for (const n of shuffledNames(N)) {
    const i = Number(n.slice(14, 20))
    replies[n] = i % 1000 === 0 ? {error: `no such task ${i}`} : {ok: `pong ${i}`}
    latencyMs[n] = i % 97
  }
  const errors = Object.fromEntries(Array.from({length: N / 1000}, (_, k) => [name(k * 1000), `no such task ${k * 1000}`]))
  const r = result('rate_limit', replies, {latencyMs, errors, missing: ['gone@h']})
  const lines = repliesTable(r, view).split('\n')
  assert.equal(lines.length, 1 + N + 1)
  assert.equal(lines[0], `NODE${' '.repeat(name(0).length - 4)}  STATUS   LATENCY  REPLY`)
  for (let i = 0; i < N; i++) {
    const status = i % 1000 === 0 ? 'ERROR  ' : 'OK     '
    const reply = i % 1000 === 0 ? `no such task ${i}` : `pong ${i}`
    const expected = `${name(i)}  ${status}  ${`${i % 97} ms`.padEnd(7)}  ${reply}`
    if (lines[i + 1] !== expected) assert.equal(lines[i + 1], expected, `row ${i}`)
  }
  assert.equal(lines[N + 1], `gone@h${' '.repeat(name(0).length - 6)}  missing  -        -`)
  assert.equal(summaryLine(r), `${N} nodes replied, 1 missing: gone@h, 100 errors: ${Array.from({length: 100}, (_, k) => name(k * 1000)).join(', ')} (12 ms)`)
})

test('100,000 nodes online, and 100,000 active tasks', () => {
  const replies: Record<string, unknown> = {}
  for (const n of shuffledNames(N)) replies[n] = {ok: 'pong'}
  const status = statusTable(result('ping', replies), view).split('\n')
  assert.equal(status.length, 1 + N)
  for (let i = 0; i < N; i++) if (!status[i + 1].startsWith(`${name(i)}  online  0 ms`)) assert.fail(`row ${i}: ${status[i + 1]}`)

  const active: Record<string, unknown> = {}
  for (const n of shuffledNames(N)) active[n] = [{id: `id-${n.slice(14, 20)}`, name: 'tasks.work', args: [Number(n.slice(14, 20))], kwargs: {}, time_start: NOW / 1000 - 12}]
  const out = inspectView(result('active', active), {color: false, columns: 120}, {now: NOW})
  const lines = out.split('\n')
  assert.equal(lines.length, 1 + N)
  assert.match(lines[0], /^NODE\s+ID\s+TASK\s+ARGS\s+STARTED$/)
  for (let i = 0; i < N; i++) {
    const cells = lines[i + 1].split(/ {2,}/)
    if (cells.join('|') !== `${name(i)}|id-${String(i).padStart(6, '0')}|tasks.work|${i}|12s ago`) assert.fail(`row ${i}: ${lines[i + 1]}`)
  }
  assertFits(out, 120)
})

test('100,000 Airflow task instances on 50,000 nodes with long names, at 80 columns: each node above its tasks, in natural order; id, DAG, task and STARTED whole', () => {
  // celery@ip-10-0-…-….ec2.internal: too long for a NODE column beside a 36-character id at 80 columns.
  const ec2 = (i: number) => `celery@ip-10-0-${Math.floor(i / 250)}-${i % 250}.eu-west-1.compute.internal`
  const M = 50_000
  const active: Record<string, unknown> = {}
  const id = (i: number, k: number) => `${String(i).padStart(8, '0')}-0000-4000-8000-${String(k).padStart(12, '0')}`
  for (let i = 0; i < M; i++) {
    active[ec2(i)] = [0, 1].map((k) => ({
      id: id(i, k),
      name: 'airflow.providers.celery.executors.celery_executor_utils.execute_command',
      args: [['airflow', 'tasks', 'run', `dag_${i}`, `task_${k}`, `scheduled__2026-11-21T06:00:00+00:00`, '--local', '--subdir', `DAGS_FOLDER/dag_${i}.py`]],
      kwargs: {},
      time_start: NOW / 1000 - 12,
    }))
  }
  const out = inspectView(result('active', active), view, {now: NOW})
  assertFits(out, 80)
  const lines = out.split('\n')
  assert.equal(lines.length, 1 + 3 * M)
  // No room for the run beside them: it gives way first.
  assert.match(lines[0], /^ID\s+DAG\s+TASK\s+STARTED$/)
  const index = new Map(Array.from({length: M}, (_, i) => [ec2(i), i]))
  // ip-10-0-2-… before ip-10-0-10-…, as the numbers read.
  const nodes = [...index.keys()].sort(naturalCompare)
  assert.ok(nodes.indexOf(ec2(2 * 250)) < nodes.indexOf(ec2(10 * 250)))
  for (let g = 0; g < M; g++) {
    const node = nodes[g]
    const i = index.get(node)!
    if (lines[1 + 3 * g] !== `── ${node}`) assert.fail(`heading ${g}: ${lines[1 + 3 * g]}`)
    for (const k of [0, 1]) {
      const cells = lines[2 + 3 * g + k].split(/ {2,}/)
      if (cells.length !== 4 || cells[0] !== id(i, k) || cells[1] !== `dag_${i}` || cells[2] !== `task_${k}` || cells[3] !== '12s ago') assert.fail(`row ${g}/${k}: ${lines[2 + 3 * g + k]}`)
    }
  }
})

test('100,000 nodes that share their registered tasks and settings: one row per task, "all N"', () => {
  const registered: Record<string, unknown> = {}
  const conf: Record<string, unknown> = {}
  for (let i = 0; i < N; i++) {
    registered[name(i)] = ['tasks.a [rate_limit=10/m]', 'tasks.b', ...(i === 5 ? ['tasks.only5'] : [])]
    conf[name(i)] = {broker_url: 'redis://r:6379/0', worker_concurrency: i % 2 === 0 ? 4 : 8}
  }
  const reg = inspectView(result('registered', registered), view, {now: NOW}).split('\n').map((l) => l.split(/ {2,}/))
  assert.deepEqual(reg, [['TASK', 'ATTRIBUTES', 'NODES'], ['tasks.a', 'rate_limit=10/m', `all ${N}`], ['tasks.b', '-', `all ${N}`], ['tasks.only5', '-', name(5)]])
  const settings = inspectView(result('conf', conf), view, {now: NOW}).split('\n')
  assert.equal(settings.length, 4)
  assert.match(settings[1], new RegExp(`^broker_url\\s+redis://r:6379/0\\s+all ${N}$`))
  assert.match(settings[2], /^worker_concurrency\s+4\s+celery@worker-000000\.example\.com, celery\S*…$/)
  assert.match(settings[3], /^worker_concurrency\s+8\s+celery@worker-000001\.example\.com, celery\S*…$/)
  assertFits(settings.join('\n'), 80)
})

test('health of 100,000 workers: one line each, in the text and in the exposition format', () => {
  const replies: Record<string, unknown> = {}
  // Every other worker consumes no queue: idle.
  for (let i = 0; i < N; i++) replies[name(i)] = i % 2 === 0 ? [{name: `q${i % 3}`}] : []
  const h = evaluate(result('active_queues', replies), {destination: [], minNodes: 1, queues: ['q0']}, NOW)
  assert.equal(h.idle.length, N / 2)
  const lines = healthText(h).split('\n')
  assert.equal(lines.length, 1 + N)
  assert.equal(lines[1], `  ${name(0)}  q0`)
  assert.equal(lines[2], `  ${name(1)}  (consumes no queue)`)
  const prom = prometheusText(h)
  assert.equal(prom.match(/^wfctl_worker_up\{node="celery@worker-\d{6}\.example\.com"\} 1$/gm)?.length, N)
  assert.equal(prom.match(/^wfctl_worker_idle\{node="celery@worker-\d{6}\.example\.com"\} 1$/gm)?.length, N / 2)
  assert.equal(prom.match(/^wfctl_worker_idle\{node="celery@worker-\d{6}\.example\.com"\} 0$/gm)?.length, N / 2)
})

test('a 20 MB payload string renders to one line no wider than the terminal', () => {
  const huge = 'x'.repeat(20 * 1024 * 1024)
  for (const payload of [huge, `${huge}\n${huge}`, ' '.repeat(20 * 1024 * 1024) + 'end', '\u001b[2J'.repeat(4 * 1024 * 1024), '日本'.repeat(5 * 1024 * 1024), '\u0301'.repeat(20 * 1024 * 1024)]) {
    for (const columns of [40, 80, 200]) {
      const out = repliesTable(result('ping', {'w1@h': {ok: payload}, 'w2@h': {ok: 'pong'}}), {color: false, columns})
      const lines = out.split('\n')
      assert.equal(lines.length, 3)
      assertFits(out, columns)
      // Even characters that take no column (a flood of combining marks) are not sent by the million.
      assert.ok(lines[1].length < 8 * columns + 512, `${lines[1].length} UTF-16 units`)
      assert.ok(lines[1].endsWith('…'), JSON.stringify(lines[1].slice(-20)))
      assert.doesNotMatch(out, /\u001b/)
    }
  }
})

test('20 MB names, task names and values in every inspect table and the reply table fit the terminal', () => {
  const big = (c: string) => c.repeat(20 * 1024 * 1024 / c.length)
  const node = big('n')
  const cases: [string, Record<string, unknown>][] = [
    ['ping', {[node]: {ok: big('p')}}],
    ['active', {[node]: [{id: big('i'), name: big('t.'), args: [big('a')], kwargs: {}, time_start: 1}]}],
    ['query_task', {'a@h': {[big('i')]: [big('s'), {name: big('t.')}]}}],
    ['clock', {'a@h': {clock: big('c')}}],
    ['memsample', {'a@h': big('m')}],
    ['registered', {'a@h': [`${big('t.')} [${big('k=v ')}]`]}],
    ['conf', {'a@h': {[big('k')]: big('v')}}],
    ['stats', {[node]: {pid: big('1'), uptime: big('u'), pool: {'max-concurrency': big('9')}}}],
    ['active_queues', {'a@h': [{name: big('q'), exchange: {name: big('e'), type: big('t')}, routing_key: big('r')}]}],
    ['rate_limit', {[node]: {ok: big('r')}}],
  ]
  for (const [method, replies] of cases) {
    const out = inspectView(result(method, replies, {missing: [big('g')]}), view, {now: NOW, ids: [big('u')]})
    assertFits(out, 80)
    assert.ok(out.length < 4096, `${method}: ${out.length} UTF-16 units`)
  }
})

test('a long value read from its ends shows exactly what the whole of it, made safe, would', () => {
  // Random long strings of printable text, white space runs with and without line breaks, control
  // and bidi characters, wide and zero-width characters and surrogates, cut at the end, the start
  // and the middle, at every width: the bounded reading must agree with safe() then shortenAt().
  const alphabet = ['a', 'b', ' ', '  ', '\n', '\t', '\r\n', '\u3000', '\u2028', '\ufeff', '\u202e', '\u200b', '\u0301', '日', '😀', '\ud800', '\udc00', '\u001b', '\u009b', '\u00a0', '\u000b', 'é', '\u2066']
  let seed = 42
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed % n
  }
  for (let t = 0; t < 600; t++) {
    const length = 2500 + random(3000)
    const style = random(3)
    let s = ''
    while (s.length < length) {
      if (style === 0) s += alphabet[random(alphabet.length)]
      else if (style === 1) s += random(5) > 0 ? 'x' : alphabet[random(alphabet.length)]
      else s += random(2) > 0 ? ' '.repeat(random(60)) : alphabet[random(alphabet.length)]
    }
    const max = random(90)
    for (const where of [undefined, 'start', 'middle'] as const) {
      const expected = shortenAt(safe(s), max, where)
      const actual = clip(s, max, where)
      if (actual !== expected) assert.equal(actual, expected, `${t}: ${max} ${where}`)
    }
  }
})
