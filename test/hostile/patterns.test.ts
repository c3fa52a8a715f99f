// Patterns that JavaScript compiles but Python's `re` does not (docs/wire-protocol.md#what-wfctl-never-sends): a real Celery worker
// on Redis that receives one stops listening to its mailbox for good. wfctl must refuse each with
// exit 2 — and the worker must still answer afterwards.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import type {Redis} from 'ioredis'

import {redisClient, redisUrl, token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {runWfctl} from '../helpers/cli.js'
import {redisSpy, settle} from '../helpers/spy.js'
import {tidy} from '../helpers/hostile-worker.js'
import {assertShortError, HOSTILE_DB, show} from './support.js'

const DB = HOSTILE_DB

const PATTERNS = ['(a)\\2', '\\8', '\\10', '[\\d-z]', '[a-\\d]', 'x{99999999999}', '(?<n>a)', '(?<=a|bb)c', '\\p{L}']

describe('pcre patterns Python cannot compile, against a real worker on Redis', {timeout: 240_000}, () => {
  const prefix = `wfctl-hostile-pcre-${token()}:`
  const exchange = `hp${token()}`
  const broker = redisUrl(DB)
  const flags = ['-b', broker, '--redis-key-prefix', prefix, '--control-exchange', exchange]
  const name = `pcre${token()}`
  let worker: Worker | undefined
  let redis: Redis
  let spy: Awaited<ReturnType<typeof redisSpy>>
  const start = () => startWorker({broker, keyPrefix: prefix, controlExchange: exchange, name})

  before(async () => {
    redis = redisClient(DB)
    spy = await redisSpy(DB, prefix)
    worker = await start()
  })
  after(async () => {
    await worker?.stop()
    await spy?.close()
    await tidy(redis, prefix)
    redis.disconnect()
  })

  for (const pattern of PATTERNS) {
    it(`--pattern ${JSON.stringify(pattern)} --matcher pcre: exit 2 in one line, and the worker still answers`, async () => {
      const node = worker!.node
      const before = spy.messages.length
      const refused = await runWfctl(['control', 'ping', '--pattern', pattern, '--matcher', 'pcre', '-t', '1', ...flags])
      await settle(200)
      const published = spy.messages.length - before
      const after = await runWfctl(['control', 'ping', '-d', node, '-t', '5', ...flags])
      if (after.code !== 0) {
        // Deafened: a fresh worker for the patterns still to come, so each one is judged on its own.
        await worker!.stop()
        worker = await start()
      }
      const problems: string[] = []
      if (refused.code !== 2) problems.push(`not refused: exit ${refused.code}, ${published} message(s) published; stdout ${JSON.stringify(refused.stdout.slice(0, 300))}`)
      else {
        try {
          assertShortError(refused, 1)
        } catch (error) {
          problems.push((error as Error).message)
        }
        if (published !== 0) problems.push(`refused, yet ${published} message(s) published`)
      }
      if (after.code !== 0) problems.push(`the worker no longer answers: ping -d ${node} exit ${after.code}`)
      assert.deepEqual(problems, [], show(after))
    })
  }
})
