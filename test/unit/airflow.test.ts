import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {test} from 'node:test'

import {airflowTask, airflowText, maskTokens, taskLabel} from '../../src/render/airflow.ts'
import {argsText} from '../../src/render/inspect.ts'
import {PYTHON} from '../helpers/celery.ts'

// The names Airflow's CeleryExecutor registers its task under, by version (read from the sources):
// Airflow 2.0-2.6 core, the Celery provider for Airflow 2.7+, its latest releases, and Airflow 3.
const AF2_CORE = 'airflow.executors.celery_executor.execute_command'
const AF2_PROVIDER = 'airflow.providers.celery.executors.celery_executor_utils.execute_command'
const AF2_PLAIN = 'execute_command'
const AF3 = 'execute_workload'

const RUN = 'scheduled__2026-11-21T06:00:00+00:00'
/** TaskInstance.generate_command for a task of a DAG file, with the options the executor adds. */
const COMMAND = ['airflow', 'tasks', 'run', 'example_dag', 'extract', RUN, '--local', '--pool', 'default_pool', '--subdir', 'DAGS_FOLDER/example_dag.py']

/** ExecuteTask.model_dump_json(): the workload Airflow 3 sends, fields in the model's order. */
function workload(ti: Record<string, unknown> = {}, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    token: 'eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIwMTkzIn0.c2lnbmF0dXJl',
    dag_rel_path: 'etl.py',
    bundle_info: {name: 'dags-folder', version: null},
    log_path: 'dag_id=etl/run_id=manual__2026-11-21T06:12:34+00:00/task_id=load/attempt=2.log',
    ti: {
      id: '0193a1b2-0000-7000-8000-000000000001',
      dag_version_id: '0193a1b2-0000-7000-8000-000000000002',
      task_id: 'load',
      dag_id: 'etl',
      run_id: 'manual__2026-11-21T06:12:34+00:00',
      try_number: 2,
      map_index: -1,
      pool_slots: 1,
      queue: 'default',
      priority_weight: 1,
      parent_context_carrier: {},
      context_carrier: null,
      ...ti,
    },
    sentry_integration: '',
    type: 'ExecuteTask',
    ...over,
  })
}

test('Airflow 2: execute_command under each of its names, with `airflow tasks run DAG TASK RUN ...`', () => {
  for (const name of [AF2_CORE, AF2_PROVIDER, AF2_PLAIN]) {
    assert.deepEqual(airflowTask(name, [COMMAND], {}), {airflow: 2, dag: 'example_dag', task: 'extract', run: RUN}, name)
  }
  // A mapped task instance: --map-index N (and the --map-index=N spelling); -1 is "not mapped".
  assert.equal(airflowTask(AF2_PROVIDER, [[...COMMAND, '--map-index', '7']])?.mapIndex, 7)
  assert.equal(airflowTask(AF2_PROVIDER, [[...COMMAND, '--map-index=3']])?.mapIndex, 3)
  assert.equal(airflowTask(AF2_PROVIDER, [[...COMMAND, '--map-index', '-1']])?.mapIndex, undefined)
  // Airflow 2.0 and 2.1 sent the logical date where the run id is now.
  assert.equal(airflowTask(AF2_CORE, [['airflow', 'tasks', 'run', 'd', 't', '2021-01-01T00:00:00+00:00', '--local']])?.run, '2021-01-01T00:00:00+00:00')
  // The command as a keyword argument, as a caller of the task may pass it.
  assert.equal(airflowTask(AF2_PROVIDER, [], {command_to_exec: COMMAND})?.dag, 'example_dag')
  // The type field of TaskInfo is the name too; Celery reports both.
  assert.equal(airflowTask(AF2_PROVIDER, [COMMAND])?.task, 'extract')
})

test('Airflow 3: execute_workload with its JSON workload: DAG, task, run, try and map index', () => {
  assert.deepEqual(airflowTask(AF3, [workload()], {}), {airflow: 3, dag: 'etl', task: 'load', run: 'manual__2026-11-21T06:12:34+00:00', tryNumber: 2})
  assert.deepEqual(airflowTask(`airflow.providers.celery.executors.celery_executor_utils.${AF3}`, [workload({map_index: 4, try_number: 1})]), {airflow: 3, dag: 'etl', task: 'load', run: 'manual__2026-11-21T06:12:34+00:00', tryNumber: 1, mapIndex: 4})
  assert.equal(airflowTask(AF3, [], {input: workload()})?.dag, 'etl')
  // Another kind of workload (a callback) is no task instance.
  assert.equal(airflowTask(AF3, [JSON.stringify({token: 't', callback: {id: 'x', fetch_type: 'import_path', data: {}}, type: 'ExecuteCallback'})]), undefined)
})

test('how a task instance reads in a cell: the mapped task as task[N], and the one-line form', () => {
  const t = airflowTask(AF3, [workload({map_index: 4})])!
  assert.equal(taskLabel(t), 'load[4]')
  assert.equal(airflowText(t), 'dag=etl task=load[4] run=manual__2026-11-21T06:12:34+00:00 try=2')
  assert.equal(airflowText(airflowTask(AF2_PLAIN, [COMMAND])!), `dag=example_dag task=extract run=${RUN}`)
})

test('--safe: the repr strings Celery itself makes of these arguments, whole and cut at 1 KiB', () => {
  // Real celery.utils.saferepr, as the worker applies it (argsrepr, task_argsrepr_maxsize 1024).
  const script = String.raw`
import json, sys
from celery.utils.saferepr import saferepr
cases = json.loads(sys.argv[1])
print(json.dumps([saferepr(tuple(a) if t else a, 1024) for a, t in cases]))
`
  const long = [...COMMAND.slice(0, 9), `DAGS_FOLDER/${'deep/'.repeat(300)}dag.py`, '--map-index', '3']
  const quoted = ['airflow', 'tasks', 'run', "it's_a_dag", 'back\\slash "task"', RUN]
  const big = workload({}, {token: `eyJ${'x'.repeat(400)}`})
  const huge = workload({}, {token: `eyJ${'x'.repeat(4000)}`})
  // Long log paths push the "ti" object past the cut, a little more each time.
  const pushed = Array.from({length: 16}, (_, i) => workload({}, {log_path: `${'logs/'.repeat(120 + 4 * i)}attempt=2.log`}))
  const cases: [unknown[], boolean][] = [[[COMMAND], false], [[long], false], [[quoted], false], [[big], true], [[huge], true], ...pushed.map((w): [unknown[], boolean] => [[w], true])]
  const reprs = JSON.parse(execFileSync(PYTHON, ['-c', script, JSON.stringify(cases)], {encoding: 'utf8'})) as string[]
  assert.match(reprs[0], /^\[\['airflow', 'tasks', 'run', 'example_dag'/)
  assert.deepEqual(airflowTask(AF2_PROVIDER, reprs[0], '{}'), {airflow: 2, dag: 'example_dag', task: 'extract', run: RUN})
  // Cut in the --subdir path: what came before it still names the task instance (the map index came after).
  assert.match(reprs[1], /\.\.\.', \.\.\.\]\]$/)
  assert.deepEqual(airflowTask(AF2_PROVIDER, reprs[1], '{}'), {airflow: 2, dag: 'example_dag', task: 'extract', run: RUN})
  assert.deepEqual(airflowTask(AF2_PROVIDER, reprs[2], '{}'), {airflow: 2, dag: "it's_a_dag", task: 'back\\slash "task"', run: RUN})
  // A workload under 1 KiB is whole; a longer one is cut, and its "ti" fields read while they got in.
  assert.ok(!reprs[3].includes('...'), reprs[3])
  assert.equal(airflowTask(AF3, reprs[3], '{}')?.tryNumber, 2)
  // Pydantic's JSON is compact, so Celery cuts it at the limit: a 4 KiB token leaves no "ti" in.
  assert.ok(reprs[4].startsWith(`('{"token":"eyJxxx`) && !reprs[4].includes('"ti"'), reprs[4].slice(0, 40))
  assert.equal(airflowTask(AF3, reprs[4], '{}'), undefined, 'the token took the whole KiB: nothing to read')
  const whole = {airflow: 3, dag: 'etl', task: 'load', run: 'manual__2026-11-21T06:12:34+00:00', tryNumber: 2}
  let readCut = 0
  for (const repr of reprs.slice(5)) {
    assert.ok(repr.includes('...'), 'cut')
    const t = airflowTask(AF3, repr, '{}')
    // Read while the fields got in, and never a wrong value.
    if (t !== undefined) {
      readCut += 1
      assert.deepEqual({...t, tryNumber: t.tryNumber ?? 2}, whole, repr.slice(-120))
    } else {
      assert.ok(!/"run_id": "manual__2026-11-21T06:12:34\+00:00"/.test(repr) || !repr.includes('"dag_id": "etl"'), repr.slice(-160))
    }
  }
  assert.ok(readCut > 0 && readCut < 16, `some cut workloads still name the task instance: ${readCut}`)
})

test('not an Airflow task instance: other tasks, other shapes; hostile and garbled shapes never throw', () => {
  const notAirflow: [unknown, unknown, unknown?][] = [
    ['wfctl_tasks.sleepy', [60]],
    ['myapp.execute_command', [['ls', '-l']]],
    [AF2_PROVIDER, [['airflow', 'dags', 'list']]],
    [AF2_PROVIDER, [['airflow', 'tasks', 'run', 'd', 't']]],
    [AF2_PROVIDER, [['airflow', 'tasks', 'run', '--local', 't', 'r']]],
    [AF2_PROVIDER, [['airflow', 'tasks', 'run', '', 't', 'r']]],
    [AF2_PROVIDER, [['airflow', 'tasks', 'run', 'd\nx', 't', 'r']]],
    [AF2_PROVIDER, [['airflow', 'tasks', 'run', 'd', 7, 'r']]],
    [AF2_PROVIDER, ['airflow', 'tasks', 'run', 'd', 't', 'r']],
    [AF2_PROVIDER, []],
    [AF2_PROVIDER, undefined, undefined],
    [AF2_PROVIDER, null, null],
    [AF2_PROVIDER, {0: COMMAND}],
    [AF2_PROVIDER, 'not a repr'],
    [AF2_PROVIDER, "[['airflow', 'tasks', 'run', 'd', 't'"],
    [AF2_PROVIDER, '['.repeat(100_000)],
    [AF2_PROVIDER, `[['airflow', 'tasks', 'run', 'd', 't', '${'r'.repeat(2000)}']]`],
    [AF3, ['{not json']],
    [AF3, ['null']],
    [AF3, ['[1, 2]']],
    [AF3, [JSON.stringify({ti: null})]],
    [AF3, [JSON.stringify({ti: {dag_id: 'd', task_id: 't'}})]],
    [AF3, [JSON.stringify({ti: {dag_id: 1, task_id: 't', run_id: 'r'}})]],
    [AF3, [JSON.stringify({type: 'RunTrigger', ti: {dag_id: 'd', task_id: 't', run_id: 'r'}})]],
    [AF3, [`{"ti": {"dag_id": "d", "task_id": "t", "run_id": "r"`]],
    [AF3, [{ti: {dag_id: 'd', task_id: 't', run_id: 'r'}}]],
    [AF3, [`"${'x'.repeat(2 * 1024 * 1024)}"`]],
    [AF3, "('not json',)"],
    [AF3, "('{\"ti\": {\"dag_id\": \"d\"...',)"],
    [undefined, [COMMAND]],
    [7, [COMMAND]],
    [{name: AF2_PROVIDER}, [COMMAND]],
  ]
  for (const [name, args, kwargs] of notAirflow) {
    assert.equal(airflowTask(name, args, kwargs), undefined, `${String(name)} ${JSON.stringify(args)?.slice(0, 80)}`)
  }
  // Odd values where numbers belong: not a try or a map index, but still the task instance.
  const odd = airflowTask(AF3, [workload({try_number: '2', map_index: 1.5})])
  assert.deepEqual(odd, {airflow: 3, dag: 'etl', task: 'load', run: 'manual__2026-11-21T06:12:34+00:00'})
  assert.equal(airflowTask(AF3, `('{"token":"t","ti":{"dag_id":"d","task_id":"t","run_id":"r","try_number":1...', ...`)?.tryNumber, undefined, 'cut after 1: it may have been 12')
  assert.equal(airflowTask(AF2_PROVIDER, [[...COMMAND, '--map-index']])?.mapIndex, undefined)
  assert.equal(airflowTask(AF2_PROVIDER, [[...COMMAND, '--map-index', 'x']])?.mapIndex, undefined)
  // Objects that throw when read are not read.
  const trap = new Proxy([], {get: () => { throw new Error('trap') }})
  assert.equal(airflowTask(AF2_PROVIDER, trap), undefined)
  assert.equal(airflowTask(AF2_PROVIDER, [trap]), undefined)
  // Random garbage from the wire, as repr strings and as values.
  let seed = 11
  const random = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n
  const pieces = ["'", '"', '[', ']', '(', ')', ',', ' ', '\\', 'airflow', 'tasks', 'run', '...', 'None', '-1', '{', '}', ':', '"ti"', '"dag_id"', '\u0000', '😀']
  for (let i = 0; i < 3000; i++) {
    let text = ''
    for (let j = random(40); j > 0; j--) text += pieces[random(pieces.length)]
    for (const name of [AF2_PROVIDER, AF3]) {
      assert.doesNotThrow(() => airflowTask(name, text, text))
      assert.doesNotThrow(() => airflowTask(name, [text], {input: text, command_to_exec: text}))
    }
  }
})

test('maskTokens: the workload token never shows as text: JSON, JSON shown as JSON, the repr strings of --safe, cut short', () => {
  const TOKEN = 'eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiIwMTkzIn0.c2lnbmF0dXJl'
  // Airflow 3's other workload, which is no task instance: shown as it came, but for its token.
  const callback = JSON.stringify({token: TOKEN, callback: {id: 'x', fetch_type: 'import_path', data: {}}, type: 'ExecuteCallback'})
  assert.equal(maskTokens(callback), '{"token":"****","callback":{"id":"x","fetch_type":"import_path","data":{}},"type":"ExecuteCallback"}')
  assert.equal(maskTokens(JSON.stringify(callback)), JSON.stringify(callback).replace(TOKEN, '****'))
  assert.equal(maskTokens('{"token" : "a b c", "x": 1}'), '{"token" : "****", "x": 1}')
  assert.equal(maskTokens("{'token': 'abc', 'x': 1}"), "{'token': '****', 'x': 1}")
  assert.equal(maskTokens(`{'token': "it's", 'x': 1}`), `{'token': "****", 'x': 1}`)
  // Nothing else changes: other keys, a token that is not a field's value, text without one.
  for (const text of ['{"tokens": "a"}', '{"access": "token"}', 'token', '', '{"token": null}', '\\'.repeat(100_000) + 'token']) assert.equal(maskTokens(text), text)
  // What argsText shows: the arguments, the keyword arguments (a `token=` one too), the repr strings.
  assert.equal(argsText([callback], {}), JSON.stringify(callback).replace(TOKEN, '****'))
  assert.equal(argsText([], {input: callback, token: 'abc', n: 1}), `input=${JSON.stringify(callback).replace(TOKEN, '****')}, token="****", n=1`)
  // Real celery.utils.saferepr, as a worker sends the arguments with --safe: whole, and cut at 1 KiB
  // inside the token (Celery's "..." ends the text there).
  const script = String.raw`
import json, sys
from celery.utils.saferepr import saferepr
print(json.dumps([saferepr(tuple(a), 1024) for a in json.loads(sys.argv[1])]))
`
  const huge = JSON.stringify({token: `eyJ${'x'.repeat(4000)}`, callback: {id: 'x'}, type: 'ExecuteCallback'})
  const reprs = JSON.parse(execFileSync(PYTHON, ['-c', script, JSON.stringify([[callback], [huge], [workload()]])], {encoding: 'utf8'})) as string[]
  assert.equal(argsText(reprs[0], '{}'), reprs[0].replace(TOKEN, '****'))
  assert.ok(reprs[1].includes('xxxxxxxx...'), reprs[1].slice(-40))
  assert.equal(argsText(reprs[1], '{}'), `('{"token":"****`)
  assert.ok(!argsText(reprs[2], '{}').includes('eyJ'), 'a task instance workload as well')
})
