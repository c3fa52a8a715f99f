// Where the broker comes from, against real Celery workers: airflow.cfg alone (as an Airflow operator
// has it: only AIRFLOW_HOME set), broker_url_cmd and AIRFLOW__CELERY__BROKER_URL_CMD, and
// --context a,b across two contexts on two brokers (a Redis DB and key prefix of this file's own, and
// a RabbitMQ vhost of its own). HOME, XDG_CONFIG_HOME and AIRFLOW_HOME point into a temporary
// directory, and every broker variable is removed from wfctl's environment.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {createVhost, rabbitReplyQueues, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl, type CliRun} from '../helpers/cli.js'
import {amqpNamespace, deleteKeysWithPrefix, show, stopAll} from './support.js'

const DB = 5 // any DB: this file owns its key prefix

const SCRUBBED = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL_CMD', 'WFCTL_CONTEXT', 'WFCTL_CONFIG', 'AIRFLOW_CONFIG', 'WFCTL_SENTINEL_PASSWORD']

describe('the broker from airflow.cfg and from named contexts, against real workers', {timeout: 180_000}, () => {
  const tok = token()
  const prefix = `wfctl-af-${tok}:`
  const redis = redisClient(DB)
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let rabbit: Awaited<ReturnType<typeof amqpNamespace>>
  let onRedis: Worker
  let onRabbit: Worker
  let dir: string

  /** A home of its own: no ~/.config/wfctl, no ~/airflow but the one written here. */
  function sandbox(name: string): {env: Record<string, string | undefined>; airflowHome: string; config: string} {
    const root = join(dir, name)
    mkdirSync(join(root, 'xdg', 'wfctl'), {recursive: true})
    mkdirSync(join(root, 'airflow'), {recursive: true})
    const env: Record<string, string | undefined> = Object.fromEntries(SCRUBBED.map((k) => [k, undefined]))
    Object.assign(env, {HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), AIRFLOW_HOME: join(root, 'airflow')})
    return {env, airflowHome: join(root, 'airflow'), config: join(root, 'xdg', 'wfctl', 'config.yaml')}
  }

  async function noLeftovers(run: CliRun): Promise<void> {
    assert.deepEqual(await redisLeftovers(redis, prefix), [], `reply routes left under ${prefix}\n${show(run)}`)
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wfctl-airflow-cfg-'))
    vhost = await createVhost('wfctl-af')
    rabbit = await amqpNamespace(vhost)
    const started = await Promise.allSettled([
      startWorker({broker: redisUrl(DB), keyPrefix: prefix, name: `airflow-r${tok}`}),
      startWorker({broker: vhost.url, name: `airflow-a${tok}`}),
    ])
    ;[onRedis, onRabbit] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as Worker[]
    const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
  })

  after(async () => {
    await stopAll([onRedis, onRabbit])
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
    await rabbit?.close()
    const left = vhost ? await rabbitReplyQueues(vhost.name) : []
    await vhost?.remove()
    rmSync(dir, {recursive: true, force: true})
    assert.deepEqual(left, [], `reply queues left in vhost ${vhost?.name}`)
  })

  test('with only AIRFLOW_HOME set, `wfctl status` finds the worker that airflow.cfg\'s broker_url and global_keyprefix name', async () => {
    const {env, airflowHome} = sandbox('cfg')
    writeFileSync(
      join(airflowHome, 'airflow.cfg'),
      `[core]\nexecutor = CeleryExecutor\n\n[celery]\n# the broker of this test's worker\nbroker_url = ${redisUrl(DB)}\nworker_concurrency = 16\n\n[celery_broker_transport_options]\nglobal_keyprefix = ${prefix}\n`,
    )
    const run = await runWfctl(['status', '--expect', onRedis.node, '-t', '5'], {env})
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, new RegExp(`^${onRedis.node.replace(/[.]/g, '\\.')}\\s`, 'm'))
    await noLeftovers(run)
    const j = await runWfctl(['status', '--expect', onRedis.node, '-t', '5', '--json'], {env})
    assert.deepEqual(Object.keys(json(j).replies), [onRedis.node])
    await noLeftovers(j)
  })

  test('broker_url_cmd in airflow.cfg, and AIRFLOW__CELERY__BROKER_URL_CMD with the file\'s global_keyprefix', async () => {
    const {env, airflowHome} = sandbox('cmd')
    // printf's %s is written %%s: configparser's interpolation.
    writeFileSync(join(airflowHome, 'airflow.cfg'), `[celery]\nbroker_url_cmd = printf %%s ${redisUrl(DB)}\n[celery_broker_transport_options]\nglobal_keyprefix = ${prefix}\n`)
    const fromFile = await runWfctl(['control', 'ping', '-d', onRedis.node, '-t', '5', '--json'], {env})
    assert.equal(fromFile.code, 0, show(fromFile))
    assert.deepEqual(json(fromFile).replies, {[onRedis.node]: {ok: 'pong'}})
    await noLeftovers(fromFile)

    writeFileSync(join(airflowHome, 'airflow.cfg'), `[celery_broker_transport_options]\nglobal_keyprefix = ${prefix}\n`)
    const fromEnv = await runWfctl(['control', 'ping', '-d', onRedis.node, '-t', '5', '--json'], {env: {...env, AIRFLOW__CELERY__BROKER_URL_CMD: `sh -c 'echo ${redisUrl(DB)}'`}})
    assert.equal(fromEnv.code, 0, show(fromEnv))
    assert.deepEqual(json(fromEnv).replies, {[onRedis.node]: {ok: 'pong'}})
    await noLeftovers(fromEnv)
  })

  test('--context a,b reaches both brokers in turn and labels every row with its context', async () => {
    const {env, config} = sandbox('contexts')
    writeFileSync(config, `current: redis\ncontexts:\n  redis:\n    broker: ${redisUrl(DB)}\n    redisKeyPrefix: "${prefix}"\n  rabbit:\n    broker: ${vhost.url}\n`, {mode: 0o600})
    chmodSync(config, 0o600)
    const run = await runWfctl(['status', '--context', 'redis,rabbit', '-t', '3'], {env})
    assert.equal(run.code, 0, show(run))
    const rows = run.stdout.split('\n').filter((l) => l !== '')
    assert.ok(rows.every((l) => /^(redis |rabbit) {2}/.test(l)), `a row without its context:\n${run.stdout}`)
    assert.ok(rows.some((l) => l.startsWith('redis ') && l.includes(onRedis.node)), run.stdout)
    assert.ok(rows.some((l) => l.startsWith('rabbit') && l.includes(onRabbit.node)), run.stdout)
    assert.ok(!rows.some((l) => l.startsWith('redis ') && l.includes(onRabbit.node)), run.stdout)
    assert.ok(!rows.some((l) => l.startsWith('rabbit') && l.includes(onRedis.node)), run.stdout)
    assert.ok(!run.stdout.includes('guest:guest') && !run.stderr.includes('guest:guest'), show(run))
    await noLeftovers(run)
    assert.deepEqual(await rabbit.leftovers(), [], show(run))

    const j = await runWfctl(['control', 'ping', '--context', 'all', '-t', '3', '--json'], {env})
    assert.equal(j.code, 0, show(j))
    const {contexts} = json(j)
    assert.deepEqual(Object.keys(contexts), ['redis', 'rabbit'])
    assert.ok(onRedis.node in contexts.redis.replies && !(onRabbit.node in contexts.redis.replies), j.stdout)
    assert.ok(onRabbit.node in contexts.rabbit.replies && !(onRedis.node in contexts.rabbit.replies), j.stdout)
    await noLeftovers(j)
    assert.deepEqual(await rabbit.leftovers(), [])

    // The current context alone reaches only its broker.
    const current = await runWfctl(['status', '--expect', onRedis.node, '-t', '5', '--json'], {env})
    assert.equal(current.code, 0, show(current))
    assert.deepEqual(Object.keys(json(current).replies), [onRedis.node])
    await noLeftovers(current)
  })
})
