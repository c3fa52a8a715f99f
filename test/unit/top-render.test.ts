// The frames of `wfctl top` (src/render/top.ts): exactly the terminal's height, no line reaching
// its last column, at 80x24 and 200x50; no escape sequence at all without colour; node, queue and
// task names from the wire neutralised; the detail pane, the help and the footer's modes; and the
// --once text.
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {arrange, LiveFleet, type LiveEvent, type WorkerRow} from '../../src/fleet/live.js'
import {displayWidth} from '../../src/render/table.js'
import {actionLine, ageText, countText, onceText, rateText, renderTop, type Detail, type QueueLine, type TopScreen} from '../../src/render/top.js'
import type {FleetResult} from '../../src/fleet/outcome.js'

const T0 = 5_000_000
const SGR = /\u001B\[[0-9;]*m/g
const strip = (line: string) => line.replace(SGR, '')

function beat(node: string, fields: Record<string, unknown> = {}, at = T0): LiveEvent {
  return {type: 'worker-heartbeat', hostname: node, timestamp: at / 1000, receivedAt: at, fields: {freq: 2, active: 0, processed: 0, loadavg: [0.52, 0.41, 0.3], sw_ver: '5.2.6', ...fields}}
}

function fleetOf(n: number): WorkerRow[] {
  const live = new LiveFleet({startedAtMs: T0, graceMs: 0})
  for (let i = 1; i <= n; i++) {
    live.apply(beat(`celery@airflow-worker-7d9f8-${i}`, {active: i % 3, processed: i * 1000}, T0 - 2000))
    live.apply(beat(`celery@airflow-worker-7d9f8-${i}`, {active: i % 3, processed: i * 1000 + i}, T0))
  }
  live.apply(beat('celery@old-1', {}, T0 - 60_000))
  live.pinged(['celery@quiet-1'])
  live.mailboxes(['celery@ghost-1'])
  return live.snapshot(T0 + 500).rows
}

function screen(rows: WorkerRow[], extra: Partial<TopScreen> = {}): TopScreen {
  const queues: QueueLine[] = [
    {name: 'celery', messages: 3, consumers: 40},
    {name: 'reports', messages: 302, consumers: 0},
    {name: 'missing', messages: 0, consumers: 0, exists: false},
  ]
  return {
    broker: 'redis://:****@redis.example:6379/0',
    rows,
    total: rows.length,
    counts: {online: rows.filter((r) => r.state === 'online').length, offline: 1, noHeartbeat: 1, possiblyDead: 1, active: 40, rate: 20.5},
    cursor: 0,
    scroll: 0,
    selected: new Set(),
    sort: 'node',
    descending: false,
    filter: '',
    queues: {lines: queues, ageSeconds: 1.2},
    footer: {kind: 'keys'},
    nowS: 1_800_000_000,
    ...extra,
  }
}

function fits(lines: string[], width: number, height: number): void {
  assert.equal(lines.length, height, 'exactly the height')
  for (const line of lines) assert.ok(displayWidth(strip(line)) <= width - 1, `wider than ${width - 1}: ${JSON.stringify(strip(line))} (${displayWidth(strip(line))})`)
}

describe('the frame', () => {
  test('80x24: title, heading, rows, "more", the queues deepest first, the keys; nothing wider than 79 columns', () => {
    const rows = fleetOf(150)
    const frame = renderTop(screen(rows), {width: 80, height: 24, color: false})
    fits(frame.lines, 80, 24)
    const text = frame.lines.join('\n')
    assert.match(frame.lines[0], /^150 online, 1 offline, 1 no heartbeat, 1 possibly dead · 40 active · 21\/s · wf…$/)
    assert.match(frame.lines[1], /^ {3}NODE↑\s+STATE\s+ACTIVE\s+PROCESSED\s+RATE\/S\s+LOAD\s+AGE$/)
    assert.match(frame.lines[2], /^> {2}celery@airflow-worker-7d9f8-1\s+online\s+1\s+1001\s+0\.50\s+0\.52\s+0\.5s$/)
    assert.match(text, /… \d+ more workers \(PgDn\)/)
    assert.match(text, /QUEUE\s+MESSAGES\s+CONSUMERS\s+1\.2s ago\nreports\s+302\s+0\ncelery\s+3\s+40\nmissing\s+-\s+0\s+no such queue/)
    assert.match(frame.lines[23], /^\? help · sort node↑ · q quit {2}m menu {2}\/ filter/)
    assert.ok(frame.pageRows >= 10, `${frame.pageRows} rows of workers at 80x24`)
  })

  test('200x50: more columns (full load, freq, version), more rows, still fitted', () => {
    const rows = fleetOf(150)
    const frame = renderTop(screen(rows), {width: 200, height: 50, color: false})
    fits(frame.lines, 200, 50)
    assert.match(frame.lines[1], /NODE↑\s+STATE\s+ACTIVE\s+PROCESSED\s+RATE\/S\s+LOAD 1\/5\/15\s+FREQ\s+VERSION\s+AGE/)
    assert.match(frame.lines.join('\n'), /celery@airflow-worker-7d9f8-2\s+online\s+2\s+2002\s+1\.0\s+0\.52 0\.41 0\.30\s+2s\s+5\.2\.6\s+0\.5s/)
    assert.ok(frame.pageRows > 24)
  })

  test('the rows the states give: offline, no heartbeat, possibly dead', () => {
    const rows = arrange(fleetOf(3), {sort: 'state'})
    const text = renderTop(screen(rows), {width: 100, height: 30, color: false}).lines.join('\n')
    assert.match(text, /celery@ghost-1\s+possibly dead\s+-\s+-\s+-\s+-/)
    assert.match(text, /celery@old-1\s+offline\s+0\s+0\s+-/)
    assert.match(text, /celery@quiet-1\s+no heartbeat\s+-/)
  })

  test('the cursor stays in view: the frame scrolls to it and says where it starts', () => {
    const rows = fleetOf(150)
    const frame = renderTop(screen(rows, {cursor: 100}), {width: 80, height: 24, color: false})
    assert.ok(frame.scroll > 0 && frame.scroll <= 100 && frame.scroll + frame.pageRows > 100)
    assert.equal(rows[100].node, 'celery@airflow-worker-7d9f8-101')
    assert.ok(frame.lines.some((l) => l.startsWith('>  celery@airflow-…rker-7d9f8-101 online')), frame.lines.join('\n'))
    const back = renderTop(screen(rows, {cursor: 100, scroll: frame.scroll}), {width: 80, height: 24, color: false})
    assert.equal(back.scroll, frame.scroll, 'kept while the cursor stays in view')
  })

  test('selected rows are marked, sorting is shown on its heading, the filter and the selection in the title', () => {
    const rows = fleetOf(5)
    const frame = renderTop(screen(rows, {selected: new Set([rows[1].node]), sort: 'active', descending: true, filter: 'airflow', total: 8}), {width: 80, height: 24, color: false})
    assert.match(frame.lines[23], /^\? help · filter "airflow": 8 of 8 · 1 selected · sort active↓ · q quit/)
    assert.match(frame.lines[1], /ACTIVE↓/)
    assert.match(frame.lines[3], /^ \* celery@airf…ker-7d9f8-2 online/)
  })

  test('a question is cut to fit, never its [y/N]', () => {
    const question = `Shut down ${'celery@a-very-long-node-name-'.repeat(4)} on amqp://guest:****@rabbit.example:5672/vhost?`
    const frame = renderTop(screen(fleetOf(2), {footer: {kind: 'confirm', question}}), {width: 80, height: 24, color: false})
    assert.match(frame.lines[23], /^Shut down celery@a-very-long.*… \[y\/N\]$/)
    fits(frame.lines, 80, 24)
  })

  test('tiny terminals still get a full frame', () => {
    for (const [w, h] of [[20, 3], [40, 6], [10, 1]]) {
      const frame = renderTop(screen(fleetOf(5)), {width: w, height: h, color: false})
      fits(frame.lines, Math.max(20, w), Math.max(3, h))
    }
  })

  test('no workers yet, and a filter nobody matches, say so', () => {
    assert.match(renderTop(screen([], {total: 0}), {width: 80, height: 24, color: false}).lines[2], /waiting for heartbeats…/)
    assert.match(renderTop(screen([], {total: 4, filter: 'zzz'}), {width: 80, height: 24, color: false}).lines[2], /no worker matches the filter "zzz" \(Esc clears it\)/)
  })
})

describe('colour', () => {
  test('without colour (NO_COLOR, --no-color) a frame holds no escape sequence at all', () => {
    const rows = fleetOf(20)
    for (const extra of [{}, {detail: detail(rows[0])}, {help: true}, {footer: {kind: 'confirm', question: 'Shut down x?'} as const}]) {
      const frame = renderTop(screen(rows, extra), {width: 80, height: 24, color: false})
      for (const line of frame.lines) assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/, JSON.stringify(line))
    }
  })

  test('with colour: states coloured, the cursor row inverted, headings bold; only SGR sequences', () => {
    const rows = fleetOf(3)
    const frame = renderTop(screen(rows), {width: 80, height: 24, color: true})
    const text = frame.lines.join('\n')
    assert.match(text, /\u001B\[7m> {2}celery@airf…ker-7d9f8-1 online/)
    assert.match(text, /\u001B\[35mpossibly dead/)
    assert.match(frame.lines[1], /^\u001B\[1m/)
    assert.doesNotMatch(text.replace(SGR, ''), /\u001B/)
    fits(frame.lines, 80, 24)
  })
})

function detail(row: WorkerRow, over: Partial<Detail> = {}): Detail {
  return {
    node: row.node,
    row,
    active: {status: 'ok', payload: [{id: 'e7f3c1d2-0000-4000-8000-000000000001', name: 'wfctl_tasks.sleepy', args: [30], time_start: 1_800_000_000 - 12}]},
    queues: {status: 'ok', payload: [{name: 'celery', exchange: {name: 'celery', type: 'direct'}, routing_key: 'celery'}, {name: 'urgent', exchange: {name: 'urgent', type: 'topic'}, routing_key: 'urgent.#'}]},
    stats: {status: 'ok', payload: {pid: 4242, uptime: 7300, prefetch_count: 16, pool: {'max-concurrency': 4, processes: [1, 2, 3, 4], implementation: 'celery.concurrency.prefork:TaskPool'}, total: {'wfctl_tasks.add': 40, 'wfctl_tasks.sleepy': 2}}},
    scroll: 0,
    ...over,
  }
}

describe('the detail pane', () => {
  test('active tasks with their runtime, the queues consumed, the stats that matter', () => {
    const row = fleetOf(2)[0]
    fits(renderTop(screen(fleetOf(2), {detail: detail(row)}), {width: 80, height: 24, color: false}).lines, 80, 24)
    const frame = renderTop(screen(fleetOf(2), {detail: detail(row)}), {width: 120, height: 30, color: false})
    fits(frame.lines, 120, 30)
    const text = frame.lines.join('\n')
    assert.match(text, /\ncelery@airflow-worker-7d9f8-1 {2}online · celery 5\.2\.6\n {2}active 1 {2}processed 1001 {2}rate 0\.50\/s {2}load 0\.52 0\.41 0\.30\n {2}heartbeat every 2s, the last 0\.5s ago\n/)
    assert.match(text, /Active tasks \(1\):\n {2}e7f3c1d2-0000-4000-8000-000000000001 {2}wfctl_tasks\.sleepy {2}running 12s {2}args \[30\]/)
    assert.match(text, /Queues consumed \(2\):\n {2}celery\n {2}urgent {2}\(type topic, routing key urgent\.#\)/)
    assert.match(text, /Stats:\n {2}pool: celery\.concurrency\.prefork:TaskPool, max-concurrency 4, 4 processes, prefetch 16\n {2}uptime 2h, pid 4242\n {2}tasks run: wfctl_tasks\.add 40, wfctl_tasks\.sleepy 2/)
  })

  test('each part says while it is asked, and why it is missing', () => {
    const row = fleetOf(1)[0]
    const text = renderTop(screen([row], {detail: detail(row, {active: {status: 'loading'}, queues: {status: 'error', message: 'no answer within the timeout'}, stats: {status: 'ok', payload: 'nonsense'}})}), {width: 80, height: 24, color: false}).lines.join('\n')
    assert.match(text, /Active tasks: asking…/)
    assert.match(text, /Queues consumed: no answer within the timeout/)
    assert.match(text, /Stats:\n {2}nonsense/)
  })
})

describe('names from the wire are neutralised', () => {
  const hostile = [
    'evil\u001B]52;c;cHduZWQ=\u0007@h', // OSC 52: write the clipboard
    'evil\u001B[2J\u001B[H@h', // clear the screen
    'bidi\u202Eoor\u202C@h', // right-to-left override
    'line\nbreak@h',
    'c1\u009B31m@h',
    'wide-名前-' + 'x'.repeat(300) + '@h',
  ]

  test('node, queue, task and payload strings never reach the terminal as controls, at any width', () => {
    const live = new LiveFleet({startedAtMs: T0, graceMs: 0})
    for (const n of hostile) live.apply(beat(n, {sw_ver: '5\u001B[31m.2'}))
    const rows = live.snapshot(T0).rows
    const queues = hostile.map((name) => ({name, messages: 1, consumers: 0}))
    const d: Detail = {
      node: rows[0].node, row: rows[0],
      active: {status: 'ok', payload: [{id: '\u001B[31mid', name: 'task\u202E', args: '\u0007'}]},
      queues: {status: 'ok', payload: [{name: 'q\u001B[2J', exchange: {name: 'x\u0007', type: 'direct'}, routing_key: 'q'}]},
      stats: {status: 'ok', payload: {pid: '\u001B]0;title\u0007', total: {'t\u001B[1m': 1}}},
      scroll: 0,
    }
    const screens: Partial<TopScreen>[] = [
      {}, {detail: d}, {filter: 'evil\u001B[2J'}, {footer: {kind: 'prompt', label: 'Add consumer on evil\u001B[2J@h: queue', input: 'q\u0007'}},
      {footer: {kind: 'message', text: 'pool_grow: evil\u001B]52;c;x\u0007@h: ok'}}, {busy: 'drain → evil\u001B[2J@h…'},
    ]
    for (const extra of screens) {
      for (const [w, h] of [[80, 24], [200, 50]]) {
        const frame = renderTop({...screen(rows), queues: {lines: queues, ageSeconds: 0}, ...extra}, {width: w, height: h, color: false})
        for (const line of frame.lines) {
          assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, JSON.stringify(line))
        }
        fits(frame.lines, w, h)
      }
    }
    const text = renderTop(screen(rows), {width: 200, height: 50, color: false}).lines.join('\n')
    assert.match(text, /evil\uFFFD]52;c;cHduZWQ=\uFFFD@h/)
    assert.match(text, /line break@h/)
  })

  test('with colour on, the only escape sequences are wfctl\'s own SGR', () => {
    const live = new LiveFleet({startedAtMs: T0, graceMs: 0})
    for (const n of hostile) live.apply(beat(n))
    const frame = renderTop(screen(live.snapshot(T0).rows), {width: 120, height: 30, color: true})
    for (const line of frame.lines) assert.doesNotMatch(line.replace(SGR, ''), /[\u0000-\u001f\u007f-\u009f]/)
  })
})

describe('the pieces', () => {
  test('numbers fit their columns', () => {
    assert.equal(countText(1234567, 9), '1234567')
    assert.equal(countText(12_345_678_901, 9), '12G')
    assert.equal(countText(1_234_567, 6), '1.2M')
    assert.equal(countText(null), '-')
    assert.deepEqual([rateText(null), rateText(0), rateText(0.25), rateText(3.14), rateText(42.4), rateText(12_345)], ['-', '0', '0.25', '3.1', '42', '12345'])
    assert.deepEqual([ageText(null), ageText(0.84), ageText(12.4), ageText(300), ageText(7300), ageText(200_000)], ['-', '0.8s', '12s', '5m', '2h', '2d'])
  })

  test('an action\'s line: each node\'s answer, or counts for many', () => {
    const result = (replies: Record<string, unknown>, errors: Record<string, string> = {}): FleetResult => ({
      method: 'pool_grow', replies, missing: [], errors, duplicates: [], duplicateReplies: {}, elapsedMs: 3, latencyMs: {}, expected: null, undecodable: [], listeners: null,
    })
    assert.equal(actionLine('pool_grow', ['a@h'], result({'a@h': {ok: 'pool will grow'}})), 'pool_grow: a@h: pool will grow')
    assert.equal(actionLine('pool_grow', ['a@h', 'b@h'], result({'a@h': {error: 'nope'}}, {'a@h': 'nope'})), 'pool_grow: a@h: error: nope; b@h: no answer')
    const many = ['a@h', 'b@h', 'c@h', 'd@h', 'e@h']
    assert.equal(actionLine('pool_grow', many, result({'a@h': {ok: 'x'}, 'b@h': {ok: 'x'}, 'c@h': {error: 'e'}}, {'c@h': 'e'})), 'pool_grow to 5 nodes: 2 ok, 1 error (c@h: e), 2 silent')
  })

  test('--once text: the workers, the queues, one line of counts', () => {
    const rows = fleetOf(2)
    const text = onceText(rows, {online: 2, offline: 1, noHeartbeat: 1, possiblyDead: 1, active: 3, rate: 1}, [{name: 'reports', messages: 302, consumers: 0}], {color: false, columns: 120})
    assert.match(text, /^NODE\s+STATE\s+ACTIVE\s+PROCESSED\s+RATE\/S\s+LOAD 1\/5\/15\s+VERSION\s+AGE\n/)
    assert.match(text, /celery@airflow-worker-7d9f8-1\s+online\s+1\s+1001\s+0\.50\s+0\.52 0\.41 0\.30\s+5\.2\.6\s+0\.5s/)
    assert.match(text, /QUEUE\s+MESSAGES\s+CONSUMERS\nreports\s+302\s+0/)
    assert.match(text, /5 workers: 2 online, 1 offline, 1 without heartbeats, 1 possibly dead, 3 active, 1 queue$/)
    assert.equal(onceText([], {online: 0, offline: 0, noHeartbeat: 0, possiblyDead: 0, active: 0, rate: 0}, [], {color: false, columns: 80}), 'no worker seen: no heartbeat, no answer to the ping')
  })
})
