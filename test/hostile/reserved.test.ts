// Large reserved tasks on a real worker: `inspect reserved` of a one-slot worker holding four
// prefetched tasks with 1 MB arguments each behind a running one — a reply of several megabytes.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {after, before, describe, it} from 'node:test'
import type {Redis} from 'ioredis'

import {keysLeft, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {PYTHON, startWorker, type Worker} from '../helpers/celery.js'
import {json, ROOT, runWfctl} from '../helpers/cli.js'
import {tidy} from '../helpers/hostile-worker.js'
import {HOSTILE_DB, show, sleep, waitFor} from './support.js'

const DB = HOSTILE_DB

/** Sends tasks with the real Celery client of the fixture app; resolves with the task ids. */
function sendTasks(script: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script], {cwd: `${ROOT}test/interop/fixtures`, env, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out.split('\n').map((l) => l.trim()).filter(Boolean))
      else reject(new Error(`sending tasks failed (exit ${code}):\n${err}`))
    })
  })
}

describe('inspect reserved with 1 MB task arguments, against a real worker on Redis', {timeout: 120_000}, () => {
  const prefix = `wfctl-hostile-reserved-${token()}:`
  const exchange = `hr${token()}`
  const queue = `hq${token()}`
  const broker = redisUrl(DB)
  const flags = ['-b', broker, '--redis-key-prefix', prefix, '--control-exchange', exchange]
  const env: NodeJS.ProcessEnv = {...process.env, WFCTL_TEST_BROKER: broker, WFCTL_TEST_KEY_PREFIX: prefix, WFCTL_TEST_CONTROL_EXCHANGE: exchange, PYTHONDONTWRITEBYTECODE: '1'}
  let worker: Worker | undefined
  let redis: Redis
  const unprefixedBefore = new Set<string>()

  before(async () => {
    redis = redisClient(DB)
    for (const key of ['unacked', 'unacked_index', 'unacked_mutex']) if (await redis.exists(key)) unprefixedBefore.add(key)
    // One task at a time, up to 8 prefetched: one runs, the others wait reserved. Not the solo pool:
    // a solo worker runs the task in its event loop and answers no control request until it ends.
    worker = await startWorker({broker, keyPrefix: prefix, controlExchange: exchange, queues: [queue], pool: 'threads', concurrency: 1, extraArgs: ['--prefetch-multiplier', '8']})
  })
  after(async () => {
    if (worker && worker.process.exitCode === null && worker.process.signalCode === null) {
      // Cold shutdown: the running sleepy(30) is abandoned, the reserved tasks go back to the queue...
      worker.process.kill('SIGQUIT')
      const ended = await Promise.race([worker.exited.then(() => true), sleep(10_000).then(() => false)])
      if (!ended) await worker.stop()
    }
    // ...and are purged with everything else under this test's prefix.
    await tidy(redis, prefix)
    for (const key of ['unacked', 'unacked_index', 'unacked_mutex']) if (!unprefixedBefore.has(key)) await redis.del(key)
    redis.disconnect()
  })

  it('lists the 4 reserved tasks (exit 0) and leaves nothing behind', async () => {
    const node = worker!.node
    const ids = await sendTasks(
      [
        'from wfctl_tasks import app',
        `q = ${JSON.stringify(queue)}`,
        "print(app.send_task('wfctl_tasks.sleepy', args=[30], queue=q).id)",
        'for i in range(4):',
        "    print(app.send_task('wfctl_tasks.add', args=[str(i) + 'x' * 1_000_000, 'y'], queue=q).id)",
      ].join('\n'),
      env,
    )
    assert.equal(ids.length, 5, `sent ${ids.length} tasks`)
    // The worker took them all from its queue (one running, four reserved).
    const taken = await waitFor(async () => (await redis.llen(`${prefix}${queue}`)) === 0 && worker!.log().includes(`wfctl_tasks.sleepy[${ids[0]}] received`), 30_000, 100)
    assert.ok(taken, `the worker did not take the tasks:\n${worker!.log().slice(-3000)}`)
    await sleep(500)

    const run = await runWfctl(['inspect', 'reserved', '-d', node, '--json', '-t', '10', ...flags], {timeoutMs: 60_000})
    assert.equal(run.code, 0, show(run))
    const reserved = json(run).replies[node] as {id: string; args: unknown}[]
    assert.ok(Array.isArray(reserved), `reply of ${node}: ${JSON.stringify(json(run).replies[node])?.slice(0, 500)}`)
    assert.deepEqual(reserved.map((t) => t.id).sort(), ids.slice(1).sort())
    assert.ok(JSON.stringify(reserved).length > 4_000_000, 'the 1 MB arguments are in the reply')
    assert.deepEqual(await redisLeftovers(redis, prefix, exchange), [])
    assert.deepEqual((await keysLeft(redis, prefix)).filter((k) => k.includes('.reply.') && !k.includes('_kombu.binding.')), [])
  })
})
