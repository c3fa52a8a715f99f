import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl} from '../helpers/cli.js'

const DB = 9
const prefix = `wfctl-smoke-${token()}:`
let worker: Worker

before(async () => {
  worker = await startWorker({broker: redisUrl(DB), keyPrefix: prefix})
})
after(async () => {
  await worker?.stop()
})

test('a real worker answers wfctl control ping', async () => {
  const run = await runWfctl(['control', 'ping', '-b', redisUrl(DB), '--redis-key-prefix', prefix, '--expect', worker.node, '--json'])
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(json(run).replies, {[worker.node]: {ok: 'pong'}})
  const redis = redisClient(DB)
  assert.deepEqual(await redisLeftovers(redis, prefix), [])
  redis.disconnect()
})
