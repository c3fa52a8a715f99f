import assert from 'node:assert/strict'
import {test} from 'node:test'

import type {DrainNode, DrainResult} from '../../src/fleet/drain.ts'
import type {FleetResult} from '../../src/fleet/outcome.ts'
import type {ShutdownResult} from '../../src/fleet/shutdown.ts'
import {drainTable, progressTable} from '../../src/render/drain.ts'
import {inspectView} from '../../src/render/inspect.ts'
import {repliesTable, shutdownTable, statusTable, summaryLine} from '../../src/render/text.ts'

/*
 * Node names in natural order in every table that lists nodes (pod-2 before pod-10 before pod-100),
 * as top and the explorer list them: the status and reply tables, each inspect table, shutdown and
 * drain.
 */

const view = {color: false, columns: 120}
const NOW = Date.parse('2026-11-21T06:30:00Z')

/** The order an operator expects: numbers by value, case aside; not the order of code units. */
const NATURAL = ['celery@Pod-1', 'celery@pod-2', 'celery@pod-10', 'celery@pod-100', 'celery@pod-100b', 'worker-9@h', 'worker-10@h', 'worker-010x@h']
/** The same names, shuffled so that only a sort puts them in order. */
const SHUFFLED = ['worker-10@h', 'celery@pod-100', 'celery@pod-2', 'worker-010x@h', 'celery@Pod-1', 'worker-9@h', 'celery@pod-100b', 'celery@pod-10']

function result(method: string, payload: (node: string) => unknown, over: Partial<FleetResult> = {}): FleetResult {
  const replies = Object.fromEntries(SHUFFLED.map((n) => [n, payload(n)]))
  return {method, replies, missing: [], errors: {}, duplicates: [], duplicateReplies: {}, elapsedMs: 12, latencyMs: {}, expected: null, undecodable: [], listeners: null, ...over}
}

/** The node names of a table's rows, in order: the first cell of each line after the heading. */
function firstCells(out: string): string[] {
  return out.split('\n').slice(1).map((l) => l.split(/ {2,}/)[0])
}

test('wfctl status and the reply table (control ping, control commands): nodes in natural order', () => {
  assert.deepEqual(firstCells(statusTable(result('ping', () => ({ok: 'pong'})), view)), NATURAL)
  assert.deepEqual(firstCells(repliesTable(result('ping', () => ({ok: 'pong'})), view)), NATURAL)
  // Nodes whose reply could not be read follow the replies, in the same order; then the silent ones.
  const unread = {'b-10@h': 'unreadable reply (pickle)', 'b-9@h': 'unreadable reply (pickle)'}
  const r = result('rate_limit', () => ({ok: 'new rate limit set successfully'}), {errors: unread, missing: ['m@h']})
  assert.deepEqual(firstCells(repliesTable(r, view)), [...NATURAL, 'b-9@h', 'b-10@h', 'm@h'])
  assert.match(summaryLine(r), /2 errors: b-9@h, b-10@h/)
})

test('every inspect table lists its nodes in natural order', () => {
  const task = (n: string) => ({id: `id-${n}`, name: 'tasks.work', args: [1], kwargs: {}, time_start: NOW / 1000 - 5})
  assert.deepEqual(firstCells(inspectView(result('active', (n) => [task(n)]), view, {now: NOW})), NATURAL)
  assert.deepEqual(firstCells(inspectView(result('reserved', (n) => [task(n)]), view, {now: NOW})), NATURAL)
  assert.deepEqual(firstCells(inspectView(result('ping', () => ({ok: 'pong'})), view, {now: NOW})), NATURAL)
  assert.deepEqual(firstCells(inspectView(result('stats', () => ({pid: 1, uptime: 5, pool: {}})), view, {now: NOW})), NATURAL)
  assert.deepEqual(firstCells(inspectView(result('active_queues', () => [{name: 'celery'}]), view, {now: NOW})), NATURAL)
  assert.deepEqual(firstCells(inspectView(result('clock', () => ({clock: 1})), view, {now: NOW})), NATURAL)
  // Above their tasks when the names cannot show in a column: the headings in the same order.
  const narrow = inspectView(result('active', (n) => [task(n)]), {color: false, columns: 60}, {now: NOW})
  assert.deepEqual(narrow.split('\n').filter((l) => l.startsWith('── ')).map((l) => l.slice(3)), NATURAL, narrow)
  // The nodes named in a row of registered and conf.
  const registered = inspectView(result('registered', (n) => (n === 'celery@pod-100' ? [] : ['tasks.work'])), {color: false, columns: 400}, {now: NOW})
  assert.match(registered, /tasks\.work\s+-\s+celery@Pod-1, celery@pod-2, celery@pod-10, celery@pod-100b, worker-9@h, worker-10@h, worker-010x@h$/m)
  // The problems under a table: in the order of the nodes too.
  const problems = inspectView(result('active', (n) => ({error: `no ${n}`})), view, {now: NOW})
  assert.deepEqual(firstCells(problems), NATURAL)
})

test('shutdown and drain tables: nodes in natural order', () => {
  const nodes = Object.fromEntries(SHUFFLED.map((n) => [n, {state: 'stopped' as const, activeTasks: 0}]))
  const shutdown: ShutdownResult = {method: 'shutdown', replies: {}, missing: [], errors: {}, duplicates: [], elapsedMs: 1, stopped: SHUFFLED, stopping: [], running: [], nodes, waited: true} as unknown as ShutdownResult
  assert.deepEqual(firstCells(shutdownTable(shutdown, view)), NATURAL)
  const drained = Object.fromEntries(SHUFFLED.map((n) => [n, {state: 'drained', active: 0, reserved: 0, scheduled: 0, cancelled: []} as DrainNode]))
  const drain = {method: 'drain', nodes: drained, missing: [], restore: [], shutdown: null, shutdownRequested: false, elapsedMs: 1200, waitMs: 600_000, interrupted: null, drained: SHUFFLED, notDrained: []} as unknown as DrainResult
  assert.deepEqual(firstCells(drainTable(drain, view)), NATURAL)
  const progress = {elapsedMs: 0, waitMs: 1000, nodes: SHUFFLED.map((node) => ({node, active: 0, reserved: 0, scheduled: 0, drained: true, answered: true}))}
  // The live view has a line above its table.
  assert.deepEqual(firstCells(progressTable(progress, view)).slice(1), NATURAL)
})
