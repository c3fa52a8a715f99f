import assert from 'node:assert/strict'
import {test} from 'node:test'

import * as menu from '../../src/explorer/menu.ts'
import {evaluate, unknown} from '../../src/fleet/health.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'
import type {ShutdownResult} from '../../src/fleet/shutdown.ts'
import * as health from '../../src/render/health.ts'
import * as inspect from '../../src/render/inspect.ts'
import * as safeModule from '../../src/render/safe.ts'
import * as tableModule from '../../src/render/table.ts'
import * as text from '../../src/render/text.ts'

/*
 * A worker controls every string of its replies. Whatever it sends, as a node name, a payload, a
 * queue or task name, arguments, an error: nothing in it may act on the terminal (escape sequences,
 * C1 controls) or disguise a line (bidi overrides and isolates, separators, invisible format
 * characters). Each exported renderer gets every hostile string in every field.
 */

const ESCAPES = [
  '\u001b]0;pwned title\u0007', // OSC 0: window title
  '\u001b]52;c;ZXZpbA==\u0007', // OSC 52: clipboard write
  '\u001b]8;;https://evil.example/\u001b\\link\u001b]8;;\u001b\\', // OSC 8 hyperlink, ST-terminated
  '\u001b[2J\u001b[H', // clear screen, cursor home
  '\u001b[31mred\u001b[0m',
  '\u009b2J', // CSI as the C1 character
  '\u009d0;title\u009c', // OSC and ST as C1
  '\u001bP+q544e\u001b\\', // DCS
  '\u001bc', // full reset
]
const C0 = Array.from({length: 0x20}, (_, i) => String.fromCharCode(i))
const C1 = Array.from({length: 0x20}, (_, i) => String.fromCharCode(0x80 + i))
const BIDI = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c']
const INVISIBLE = ['\u2028', '\u2029', '\ufeff', '\u200b', '\u200c', '\u200d', '\u2060', '\u2061', '\u2062', '\u2063', '\u2064', '\u206a', '\u206f', '\u00ad', '\ufff9', '\ufffb', '\u180e', '\u{e0001}', '\u{e0041}', '\u{e007f}']
const LONE = ['\ud800', '\udfff']
const ALL = [...ESCAPES, ...C0, '\u007f', ...C1, ...BIDI, ...INVISIBLE, ...LONE]

/** Hostile strings: each character and sequence alone (in a name), all of them, and long ones. */
const HOSTILE: string[] = [
  ...ALL.map((s) => `w${s}1@h`),
  ALL.join(''),
  `safe@h${BIDI.join('')}\u202eevil`,
  // Long values: shortened from a start or an end, or read only from their ends.
  `${'x'.repeat(3000)}${ALL.join('')}${'y'.repeat(3000)}`,
  ALL.join('').repeat(60),
  `${ALL.join('')}${' '.repeat(5000)}\n${ALL.join('')}`,
]

/** Anything in output that is not text: controls (but the newline between lines), format characters, separators, lone surrogates. */
const FORBIDDEN = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u
const OUR_SGR = /\u001b\[[0-9;]*m/g

function assertClean(out: string, what: string): void {
  const m = FORBIDDEN.exec(out)
  assert.equal(m, null, `${what}: U+${m?.[0].codePointAt(0)!.toString(16).padStart(4, '0')} at ${m?.index} in ${JSON.stringify(out.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 40))}`)
}

/** With colour on: every ESC starts one of our SGR colour codes; nothing else is there. */
function assertOnlySgr(out: string, what: string): void {
  assertClean(out.replace(OUR_SGR, ''), `${what} (colour on)`)
}

const NOW = Date.parse('2026-11-21T06:30:00Z')
const OFF = {color: false, columns: 80}
const ON = {color: true, columns: 80}
const VIEWS = [OFF, ON, {color: false, columns: 30}, {color: true, columns: 250}]

function check(out: string, view: {color: boolean}, what: string): void {
  if (view.color) assertOnlySgr(out, what)
  else {
    assert.ok(!out.includes('\u001b'), `${what}: no ESC at all without colour`)
    assertClean(out, what)
  }
}

function fleet(method: string, h: string, replies: Record<string, unknown>): FleetResult {
  return {
    method,
    replies: {...replies, [`err${h}`]: {error: h}, [`odd${h}`]: {unexpected: h}, [`dup${h}`]: {ok: h}},
    missing: [`gone${h}`],
    errors: {[`err${h}`]: h},
    duplicates: [`dup${h}`],
    duplicateReplies: {[`dup${h}`]: [{ok: h}, {error: h}]},
    elapsedMs: 12,
    latencyMs: {[h]: 3},
    expected: 9,
    undecodable: [{reason: h, contentType: h}],
    listeners: 0,
  }
}

/** A payload of each inspect method, with the hostile string in every field a worker fills. */
function payloadOf(method: string, h: string): unknown {
  const task = {id: h, name: h, type: h, args: [h, {[h]: h}], kwargs: {[h]: h}, hostname: h, time_start: NOW / 1000 - 5}
  const payloads: Record<string, unknown> = {
    ping: {ok: h},
    active: [task, {...task, args: h, kwargs: h}, h],
    reserved: [task, h],
    scheduled: [{eta: h, priority: h, request: task}, {eta: '2026-11-21T06:32:52+00:00', request: h}],
    revoked: [h, h],
    registered: [`${h} [${h}]`, h, `x [${h}]`],
    stats: {pid: h, uptime: h, clock: h, pool: {'max-concurrency': h, processes: [h], writes: h}, total: {[h]: 1}, prefetch_count: h, rusage: {maxrss: h}, autoscaler: {min: h, max: h}},
    active_queues: [{name: h, exchange: {name: h, type: h}, routing_key: h}, {name: h, exchange: h, routing_key: h}, h],
    query_task: {[h]: [h, task], x: h},
    conf: {[h]: h, nested: {[h]: [h]}},
    clock: {clock: h},
    report: {ok: `${h}\n${h}\r\n${h}`},
    memsample: h,
    memdump: `${h}\n${h}`,
    objgraph: {filename: h},
  }
  assert.ok(Object.hasOwn(payloads, method), `no hostile payload for the inspect method ${method}: add one here`)
  return payloads[method]
}

/*
 * Every export of the renderers, each either driven here with hostile input (its output checked),
 * or named as a helper whose result is no output of its own (a number, or a value that a table or
 * line makes safe). A new export must be put in one list or the other.
 */
const HELPERS = new Set([
  // numbers, order, widths, flags
  'displayWidth', 'widthUpTo', 'isSpace', 'isPlain', 'unsafeChar', 'sorted', 'collate', 'plural', 'duration', 'roughly', 'poolKind', 'style',
  // values turned into cells (tables make them safe), or cutting text already made safe
  'payloadText', 'argsText', 'registeredItem', 'etaText', 'ago', 'take', 'shorten', 'shortenAt',
  // data
  'INSPECT_VIEWS', 'VIEWS', 'ACTIONS', 'validateWith', 'crossCheck', 'answeredUnread',
  // the explorer's order, filter, answer markers and what the views showed (shown through the drivers above)
  'naturalCompare', 'matchNodes', 'reasonText', 'ALL_MATCHING', 'SOME_MATCHING', 'TYPE_IDS', 'Seen',
])

type Driver = (h: string, view: {color: boolean; columns: number}) => string[]

const shutdown = (h: string): ShutdownResult => ({
  method: 'shutdown', replies: {}, missing: [`u${h}`], errors: {}, duplicates: [], elapsedMs: 1, stopped: [h, `a${h}`], stopping: [`s${h}`], running: [`r${h}`],
  nodes: {
    [h]: {state: 'stopped', activeTasks: 0, finished: [{id: h, name: h}]},
    [`a${h}`]: {state: 'stopped', activeTasks: 0},
    [`s${h}`]: {state: 'stopping', activeTasks: 1, tasks: [{id: h, name: h}]},
    [`r${h}`]: {state: 'running', activeTasks: 1, tasks: [{id: h, name: null}]},
    [`u${h}`]: {state: 'unknown', activeTasks: null, reason: h},
  },
  verified: false, waited: true, taskEvents: true, taskEventsNotHeard: [`s${h}`],
})
const healthOf = (h: string) =>
  evaluate(
    fleet('active_queues', h, {[h]: [{name: h}], [`idle${h}`]: [], [`ok${h}`]: [{name: 'celery'}, h]}),
    {roster: {names: [h, `gone${h}`]}, destination: [], minNodes: 5, queues: [h, 'celery']},
    NOW,
  )

const DRIVERS: Record<string, Driver> = {
  repliesTable: (h, v) => [text.repliesTable(fleet('rate_limit', h, {[h]: {ok: h}, [`b${h}`]: h}), v)],
  statusTable: (h, v) => [text.statusTable(fleet('ping', h, {[h]: {ok: 'pong'}}), v)],
  summaryLine: (h) => [text.summaryLine(fleet('ping', h, {[h]: {ok: 'pong'}}))],
  statusLine: (h) => [text.statusLine(fleet('ping', h, {[h]: {ok: 'pong'}}))],
  silenceHint: (h) => [text.silenceHint({...fleet('ping', h, {}), replies: {}}, h) ?? ''],
  shutdownTable: (h, v) => [text.shutdownTable(shutdown(h), v)],
  shutdownLine: (h) => [text.shutdownLine(shutdown(h)), text.shutdownLine({...shutdown(h), waited: false})],
  table: (h, v) => {
    const t = text.table([`HEAD${h}`, h], v)
    t.push([h, {text: h, paint: (s) => `<${s}>`}])
    t.push([`${h}${h}`])
    return [text.text(t), t.toString()]
  },
  text: (h, v) => [text.text(new text.Table(['A', 'B'], v, {shrink: [1], cut: {0: 'middle'}}))].concat(DRIVERS.table(h, v)),
  Table: (h, v) => {
    const t = new tableModule.Table([h, 'B', 'C'], v, {shrink: [0, 2, 1], cut: {0: 'middle', 2: 'start'}})
    for (const other of HOSTILE.slice(-4)) t.push([h, other, `${other}${h}`])
    return [t.toString()]
  },
  renderTable: (h, v) => [
    tableModule.renderTable({head: ['NODE', h], rows: [[h, h], [h, {text: h, paint: (s) => s}]], shrink: [1, 0], cut: {0: 'middle', 1: 'start'}}, v),
    tableModule.renderTable({head: ['NODE', 'X'], rows: [[h]], shrink: []}, v),
  ],
  fitTable: (h, v) => [inspect.fitTable({head: ['NODE', 'VALUE', 'MORE'], rows: [[h, h, h], [h, {text: h, paint: (s) => s}]], shrink: [1, 0, 2], cut: {0: 'middle', 2: 'start'}}, v)],
  clip: (h, v) => [tableModule.clip(h, v.columns), tableModule.clip(h, v.columns, 'start'), tableModule.clip(h, v.columns, 'middle'), tableModule.clip(h, 1)],
  inspectView: (h, v) => [
    ...Object.keys(inspect.INSPECT_VIEWS).map((method) =>
      inspect.inspectView(fleet(method, h, {[h]: payloadOf(method, h), [`ok${h}`]: payloadOf(method, h)}), v, {now: NOW, ids: [h, 'x']}),
    ),
    // A method without a view of its own, and a method name from nowhere: the reply table.
    inspect.inspectView(fleet('rate_limit', h, {[h]: {ok: h}}), v, {now: NOW}),
    inspect.inspectView(fleet(h, h, {[h]: {ok: h}}), v, {now: NOW}),
    inspect.inspectView(fleet('__proto__', h, {[h]: {ok: h}}), v, {now: NOW}),
  ],
  nagiosLine: (h) => [health.nagiosLine(healthOf(h)), health.nagiosLine(unknown(h, {minNodes: 1, queues: [h]}, 3, NOW))],
  prometheusText: (h) => [health.prometheusText(healthOf(h)), health.prometheusText(unknown(h, {minNodes: 1, queues: [h]}, 3, NOW))],
  healthText: (h) => [health.healthText(healthOf(h)), health.healthText(unknown(h, {minNodes: 1, queues: [h]}, 3, NOW))],
  nodesText: (h) => [menu.nodesText([h, `b${h}`], [h, `b${h}`, 'c']), menu.nodesText([h], [h])],
  nodeList: (h) => [menu.nodeList([h, h])],
  nodeChoices: (h) => menu.nodeChoices([h, 'b'], [h]).map((c) => c.name),
  targetText: (h) => [menu.targetText([h], [h]), menu.targetText([h, `b${h}`], [h, `b${h}`], 'named with -d'), menu.targetText(Array.from({length: 7}, (_, i) => `${h}${i}`), [h])],
  pickerChoices: (h) => [...menu.pickerChoices([h, `${h}x`, 'c'], '', [h]), ...menu.pickerChoices([h, `${h}x`], h, [])].map((c) => `${c.name} ${c.description ?? ''}`),
  valueChoices: (h) => [...menu.valueChoices([{value: 'q', nodes: [h, 'b']}], h, menu.ACTIONS[0].questions[0], 80), ...menu.valueChoices([{value: 'q', nodes: [h]}], undefined, menu.ACTIONS[0].questions[0], 80)].map((c) => `${c.name} ${c.short ?? ''} ${c.description ?? ''} ${String(c.disabled ?? '')}`),
  taskChoices: (h) => menu.taskChoices([{id: h, name: h, node: h, state: 'active'}], 80).map((c) => c.name),
  safe: (h) => [safeModule.safe(h)],
  safeLine: (h) => [safeModule.safeLine(h)],
  safeJson: (h) => [safeModule.safeJson({[h]: h})],
}

test('every export of the renderers is either checked here with hostile input or named a helper', () => {
  const modules = {text, inspect, health, table: tableModule, safe: safeModule, menu}
  for (const [name, mod] of Object.entries(modules)) {
    for (const key of Object.keys(mod)) {
      assert.ok(Object.hasOwn(DRIVERS, key) || HELPERS.has(key), `${name}.${key}: drive it with hostile input in DRIVERS, or name it in HELPERS`)
    }
  }
})

for (const [name, drive] of Object.entries(DRIVERS)) {
  test(`${name}: nothing a worker sends acts on the terminal or disguises a line`, () => {
    for (const view of VIEWS) {
      for (const h of HOSTILE) {
        for (const [i, out] of drive(h, view).entries()) check(out, view, `${name}[${i}] ${JSON.stringify(h.slice(0, 30))} ${JSON.stringify(view)}`)
      }
    }
  })
}

test('hostile text stays on its line: a table has one line per row, a summary one line', () => {
  for (const h of HOSTILE) {
    const r = fleet('rate_limit', h, {[h]: {ok: h}, [`b${h}`]: {ok: `x\n${h}\ny`}})
    // Replies: h, b…, dup (twice), err, odd; then the missing node; then the heading.
    assert.equal(text.repliesTable(r, OFF).split('\n').length, 1 + 6 + 1)
    assert.equal(text.summaryLine(r).split('\n').length, 1)
    assert.equal(text.statusLine(r).split('\n').length, 1)
    assert.equal(health.nagiosLine(healthOf(h)).split('\n').length, 1)
    assert.equal(safeModule.safeLine(`warning: ${h}`).split('\n').length, 1)
    for (const line of text.repliesTable(r, OFF).split('\n')) assert.ok(tableModule.displayWidth(line) <= 79, `too wide: ${line.length}`)
  }
})

test('the same rule everywhere: each forbidden character shows as U+FFFD, layout white space as a space', () => {
  for (const ch of [...C0.filter((c) => !'\t\n\r'.includes(c)), '\u007f', ...C1, ...BIDI, ...INVISIBLE, ...LONE]) {
    assert.equal(safeModule.safe(`a${ch}b`), 'a\uFFFDb', `U+${ch.codePointAt(0)!.toString(16)}`)
  }
  assert.equal(safeModule.safe('a\r\n\t  b'), 'a b')
  assert.equal(safeModule.safe('a\u001b[2Jb'), 'a\uFFFD[2Jb')
  assert.equal(safeModule.safe('plain text, 日本語 and emoji 😀'), 'plain text, 日本語 and emoji 😀')
  // A prometheus label: neutralised, then escaped.
  const prom = health.prometheusText(healthOf('w"\\\u001b]52;c;eA==\u0007@h'))
  assert.match(prom, /^wfctl_worker_up\{node="w\\"\\\\\uFFFD\]52;c;eA==\uFFFD@h"\} 1$/m)
})

test('a long run of white space costs linear time (it was a quadratic regular expression)', () => {
  // Without the fix each of these took minutes; no time is asserted, only that they end and are right.
  const spaces = `a${' '.repeat(200_000)}b\u00e9`
  assert.equal(safeModule.safe(spaces), spaces)
  assert.equal(safeModule.safe(`a${' '.repeat(200_000)}\n b`), 'a b')
  const out = inspect.inspectView({...fleet('memdump', 'x', {}), replies: {'a@h': `x${' '.repeat(200_000)}y\n   `}, missing: [], errors: {}, duplicates: [], duplicateReplies: {}}, OFF, {now: NOW})
  assert.equal(out, `── a@h\nx${' '.repeat(200_000)}y`)
})

// ─── safeJson ─────────────────────────────────────────────────────────────────────────────────

const JSON_FORBIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u

test('safeJson: parses back to the same value, with no forbidden character raw in it', () => {
  const value = {
    replies: Object.fromEntries(HOSTILE.map((h, i) => [h, {ok: h, n: i, list: [h, null, true, 1.5], nested: {[h]: {deeper: [h]}}}])),
    missing: HOSTILE,
    all: ALL.join(''),
  }
  for (const indent of [undefined, 0, 2]) {
    const json = safeModule.safeJson(value, indent)
    assertClean(json.replace(/\n/g, ''), `safeJson indent ${indent}`)
    assert.doesNotMatch(json, JSON_FORBIDDEN)
    assert.deepEqual(JSON.parse(json), value)
    // The same text as JSON.stringify, but for those characters written as \u escapes.
    const escaped = JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu, (c) =>
      c.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
    )
    assert.equal(json, escaped)
  }
  assert.equal(safeModule.safeJson({a: 'plain'}, 2), JSON.stringify({a: 'plain'}, null, 2))
  assert.equal(safeModule.safeJson('\u202e\u2028\u0085\ufeff\u{e0001}'), '"\\u202e\\u2028\\u0085\\ufeff\\udb40\\udc01"')
  assert.equal(safeModule.safeJson(undefined), 'null')
})

test('safeJson: a huge value is escaped in one pass; a value nested too deep throws as JSON.stringify does', () => {
  const big = `${'\u202e'.repeat(1000)}${'x'.repeat(5_000_000)}\u2028`
  const json = safeModule.safeJson({big})
  assert.equal(JSON.parse(json).big, big)
  assert.doesNotMatch(json, JSON_FORBIDDEN)
  let deep: unknown = 1
  for (let i = 0; i < 200_000; i++) deep = [deep]
  assert.throws(() => safeModule.safeJson(deep), RangeError)
})
