// Airflow as an operator sees it, against a real Celery worker named as Airflow's workers are
// (celery@HOST) and real tasks under Airflow's own task names (test/interop/fixtures/wfctl_tasks.py,
// sleeping instead of running airflow), sent with the real `celery call` in the shapes Airflow's
// CeleryExecutor sends: `-d HOST` reaches celery@HOST, and inspect active / reserved / scheduled /
// query-task show DAG, task, run and try instead of the command line or the JSON workload.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {json} from '../helpers/cli.js'
import {deleteKeysWithPrefix, poll, show, stopAll, wf, type Namespace} from './support.js'

const DB = 4 // any DB: the test owns its key prefix

const AF2 = 'airflow.providers.celery.executors.celery_executor_utils.execute_command'
const AF3 = 'execute_workload'

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** A table line: the cells separated by two or more spaces (or the end of line). */
const row = (...cells: string[]) => new RegExp(`^${cells.join('\\s{2,}')}\\s*$`, 'm')
const WIDE = {env: {COLUMNS: '250'}}
const NARROW = {env: {COLUMNS: '80'}}

describe('Airflow: node names as operators type them, and task instances in inspect (real Celery worker, Redis)', {timeout: 180_000}, () => {
  const tok = token()
  // An EC2-style host name: celery@ip-10-0-12-34-….ec2.internal is too long for a NODE column at 80 columns.
  const host = `ip-10-0-12-34-${tok}.ec2.internal`
  const NODE = `celery@${host}`
  const prefix = `wfctl-airflow-${tok}:`
  const queue = `wfq-airflow-${tok}`
  const redis = redisClient(DB)
  const ns: Namespace = {label: `Redis DB ${DB}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)}
  const broker = {broker: redisUrl(DB), keyPrefix: prefix}

  const DAG = `etl_orders_${tok}`
  const RUN2 = 'scheduled__2026-11-21T06:00:00+00:00'
  /** TaskInstance.generate_command, as the Airflow 2 executor sends it: execute_command's one argument. */
  const command = ['airflow', 'tasks', 'run', DAG, 'extract', RUN2, '--local', '--pool', 'default_pool', '--subdir', 'DAGS_FOLDER/etl_orders.py']
  const RUN3 = 'manual__2026-11-21T06:12:34.567890+00:00'
  const TOKEN = `eyJhbGciOiJIUzUxMiJ9.${tok}-workload-token.c2lnbmF0dXJl`
  /** ExecuteTask.model_dump_json(), as the Airflow 3 executor sends it: execute_workload's one argument. */
  const workload = (taskId: string, tryNumber: number, mapIndex = -1) => JSON.stringify({
    token: TOKEN,
    dag_rel_path: 'etl_orders.py',
    bundle_info: {name: 'dags-folder', version: null},
    log_path: `dag_id=${DAG}/run_id=${RUN3}/task_id=${taskId}/attempt=${tryNumber}.log`,
    ti: {id: '0193a1b2-0000-7000-8000-000000000001', dag_version_id: '0193a1b2-0000-7000-8000-000000000002', task_id: taskId, dag_id: DAG, run_id: RUN3, try_number: tryNumber, map_index: mapIndex, pool_slots: 1, queue, priority_weight: 1, parent_context_carrier: {}, context_carrier: null},
    sentry_integration: '',
    type: 'ExecuteTask',
  })

  let worker: Worker
  /** The Airflow 2 task instance running, the Airflow 3 one waiting behind it, and one with a countdown. */
  const ids = {active: '', reserved: '', scheduled: ''}

  /** Sends a task with the real `celery call` to the worker's queue; returns its id. */
  async function send(task: string, args: unknown[], extra: string[] = []): Promise<string> {
    const run = await celery(['call', task, '--args', JSON.stringify(args), '--queue', queue, ...extra], {...broker, timeoutMs: 30_000})
    assert.equal(run.code, 0, `celery call ${task} failed:\n${run.stdout}\n${run.stderr}`)
    const id = run.stdout.trim().split('\n').at(-1)!.trim()
    assert.match(id, /^[0-9a-f-]{36}$/, `celery call printed no task id:\n${run.stdout}`)
    return id
  }

  async function payload(method: string, extra: string[] = []): Promise<Record<string, unknown>[]> {
    const run = await wf(ns, ['inspect', method, '-d', NODE, '-t', '5', '--json', ...extra])
    assert.equal(run.code, 0, show(run))
    return json(run).replies[NODE] as Record<string, unknown>[]
  }

  const idsOf = (items: Record<string, unknown>[], method: string) => items.map((t) => (method === 'scheduled' ? (t.request as {id: string}).id : t.id))

  before(async () => {
    // Prefork with one process: the running task does not keep the worker from answering, and the
    // next task waits as reserved.
    worker = await startWorker({...broker, node: NODE, pool: 'prefork', concurrency: 1, queues: [queue], env: {WFCTL_TEST_AIRFLOW: '120'}})
    ids.active = await send(AF2, [command])
    const active = await poll(() => payload('active'), (p) => idsOf(p, 'active').includes(ids.active), 20_000, 200)
    assert.ok(idsOf(active, 'active').includes(ids.active), `the Airflow 2 task never became active on ${NODE}`)
    ids.reserved = await send(AF3, [workload('load', 2)])
    ids.scheduled = await send(AF3, [workload('publish', 1, 3)], ['--countdown', '600'])
    const reserved = await poll(() => payload('reserved'), (p) => idsOf(p, 'reserved').includes(ids.reserved), 20_000, 200)
    assert.ok(idsOf(reserved, 'reserved').includes(ids.reserved), `the Airflow 3 task is not reserved on ${NODE}`)
    const scheduled = await poll(() => payload('scheduled'), (p) => idsOf(p, 'scheduled').includes(ids.scheduled), 20_000, 200)
    assert.ok(idsOf(scheduled, 'scheduled').includes(ids.scheduled), `the countdown task is not scheduled on ${NODE}`)
  })

  after(async () => {
    // Nothing may run on after the test: the waiting tasks revoked, the running one killed.
    if (worker) {
      const waiting = [ids.reserved, ids.scheduled].filter(Boolean)
      if (waiting.length > 0) await wf(ns, ['control', 'revoke', ...waiting, '-d', NODE, '-t', '5']).catch(() => {})
      if (ids.active) await wf(ns, ['control', 'terminate', 'KILL', ids.active, '-d', NODE, '--yes', '-t', '5']).catch(() => {})
    }
    await stopAll([worker])
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
  })

  test('control ping -d HOST reaches celery@HOST: exit 0, and stderr says so once', async () => {
    const run = await wf(ns, ['control', 'ping', '-d', host, '-t', '5'])
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, row(escape(NODE), 'OK', '\\d+ ms', 'pong'), show(run))
    assert.deepEqual(run.stderr.split('\n').filter((l) => l.includes('taken as')), [`-d ${host}: taken as ${NODE}`], show(run))
    // The same name in -d and --expect: said once; under --json stdout is the JSON object alone.
    const asJson = await wf(ns, ['control', 'ping', '-d', host, '--expect', host, '-t', '5', '--json'])
    assert.equal(asJson.code, 0, show(asJson))
    assert.deepEqual(json(asJson).replies, {[NODE]: {ok: 'pong'}})
    assert.doesNotMatch(asJson.stdout, /taken as/)
    assert.equal(asJson.stderr.split('\n').filter((l) => l.includes('taken as')).length, 1, show(asJson))
    // A name with @ is used as it is, and nothing is said.
    const full = await wf(ns, ['control', 'ping', '-d', NODE, '-t', '5'])
    assert.equal(full.code, 0, show(full))
    assert.doesNotMatch(full.stderr, /taken as/, show(full))
  })

  test('inspect active: the Airflow 2 task instance as DAG, task and run; --json is the payload as the worker sent it', async () => {
    const run = await wf(ns, ['inspect', 'active', '-d', host, '-t', '5'], WIDE)
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, row('NODE', 'ID', 'DAG', 'TASK', 'RUN', 'STARTED'), show(run))
    assert.match(run.stdout, row(escape(NODE), ids.active, DAG, 'extract', escape(RUN2), '\\d+[smhd] ago'), show(run))
    assert.doesNotMatch(run.stdout, /--subdir|DAGS_FOLDER|execute_command/, 'no command line in the table')
    // --safe: the same, read from the repr string of the arguments.
    const safe = await wf(ns, ['inspect', 'active', '--safe', '-d', host, '-t', '5'], WIDE)
    assert.match(safe.stdout, row(escape(NODE), ids.active, DAG, 'extract', escape(RUN2), '\\d+[smhd] ago'), show(safe))
    const [task] = await payload('active')
    assert.equal(task.name, AF2)
    assert.deepEqual(task.args, [command])
    assert.match(String((await payload('active', ['--safe']))[0].args), /^\[\['airflow', 'tasks', 'run', /)
  })

  test('inspect reserved: the Airflow 3 task instance with its try; the workload token is never shown', async () => {
    const run = await wf(ns, ['inspect', 'reserved', '-d', host, '-t', '5'], WIDE)
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, row('NODE', 'ID', 'DAG', 'TASK', 'RUN', 'TRY'), show(run))
    assert.match(run.stdout, row(escape(NODE), ids.reserved, DAG, 'load', escape(RUN3), '2'), show(run))
    assert.ok(!run.stdout.includes(TOKEN) && !run.stderr.includes(TOKEN), show(run))
    const reserved = await payload('reserved')
    assert.deepEqual(reserved.find((t) => t.id === ids.reserved)?.args, [workload('load', 2)], '--json keeps the workload as sent')
  })

  test('inspect scheduled: the countdown task instance, mapped, with its ETA', async () => {
    const run = await wf(ns, ['inspect', 'scheduled', '-d', host, '-t', '5'], WIDE)
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, row('NODE', 'ID', 'DAG', 'TASK', 'RUN', 'TRY', 'ETA'), show(run))
    assert.match(run.stdout, row(escape(NODE), ids.scheduled, DAG, escape('publish[3]'), escape(RUN3), '1', 'in (9|10)m'), show(run))
  })

  test('inspect query-task ID: the task instance and its state', async () => {
    const run = await wf(ns, ['inspect', 'query-task', ids.active, ids.reserved, '-d', host, '-t', '5'], WIDE)
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, row('NODE', 'ID', 'STATE', 'DAG', 'TASK', 'RUN', 'TRY'), show(run))
    assert.match(run.stdout, row(escape(NODE), ids.active, 'active', DAG, 'extract', escape(RUN2), '-'), show(run))
    assert.match(run.stdout, row(escape(NODE), ids.reserved, 'reserved', DAG, 'load', escape(RUN3), '2'), show(run))
  })

  test('at 80 columns: the node above its tasks, whole; the id, STARTED and ETA whole; the DAG at least begun', async () => {
    for (const [method, time] of [['active', '\\d+[smhd] ago'], ['reserved', undefined], ['scheduled', 'in (9|10)m'], ['query-task', undefined]] as const) {
      const args = method === 'query-task' ? ['inspect', 'query-task', ids.active, '-d', host, '-t', '5'] : ['inspect', method, '-d', host, '-t', '5']
      const run = await wf(ns, args, NARROW)
      assert.equal(run.code, 0, show(run))
      const lines = run.stdout.split('\n').filter((l) => l !== '' && !/^\d+ nodes? replied/.test(l))
      for (const line of lines) assert.ok(line.length <= 79, `${method}: ${line.length} columns: ${line}`)
      assert.match(lines[0], /^ID\s+/, show(run))
      assert.equal(lines[1], `── ${NODE}`, show(run))
      const id = method === 'reserved' ? ids.reserved : method === 'scheduled' ? ids.scheduled : ids.active
      const cells = lines.slice(2).map((l) => l.split(/ {2,}/)).find((c) => c[0] === id)
      assert.ok(cells, `${method}: the row of ${id}\n${show(run)}`)
      // The DAG, task and run share what is left: each shows its start at least.
      assert.ok(cells.some((c) => c === DAG || (c.endsWith('…') && DAG.startsWith(c.slice(0, -1)) && c.length >= 6)), `${method}: the DAG\n${show(run)}`)
      if (time) assert.match(cells.at(-1)!, new RegExp(`^${time}$`), `${method}: the time whole\n${show(run)}`)
    }
  })
})
