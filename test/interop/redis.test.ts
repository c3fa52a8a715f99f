// wfctl against real Celery workers on Redis: DB 10 (the workers) and DB 14 (nobody), under a
// random global_keyprefix of this file's own (other tests may use these DBs at the same time).
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {keysLeft, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {json} from '../helpers/cli.js'
import {fleetSuite} from './fleet-suite.js'
import {startWorker} from '../helpers/celery.js'
import {deleteKeysWithPrefix, show, wf} from './support.js'

const DB = 10
const EMPTY_DB = 14
const prefix = `wfctl-it-${token()}:`

fleetSuite(
  'Redis',
  async () => {
    const redis = redisClient(DB)
    const empty = redisClient(EMPTY_DB)
    const main = {label: `Redis DB ${DB}, prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)}
    return {
      worker: {broker: redisUrl(DB), keyPrefix: prefix},
      main,
      withExchange: (exchange) => ({
        label: `Redis DB ${DB}, prefix ${prefix}, control exchange ${exchange}`,
        flags: [...main.flags, '--control-exchange', exchange],
        leftovers: () => redisLeftovers(redis, prefix, exchange),
      }),
      elsewhere: {
        label: `Redis DB ${EMPTY_DB}, prefix ${prefix}`,
        flags: ['-b', redisUrl(EMPTY_DB), '--redis-key-prefix', prefix],
        // Nothing at all under the prefix on a DB where no worker runs: wfctl removed all it created.
        leftovers: async () => [...(await redisLeftovers(empty, prefix)), ...(await keysLeft(empty, prefix))],
      },
      replyRouteExists: async () => (await redis.scard(`${prefix}_kombu.binding.reply.celery.pidbox`)) > 0,
      close: async () => {
        // Tidy up what the workers created under this file's prefix (the workers are stopped by now).
        await deleteKeysWithPrefix(redis, prefix)
        await deleteKeysWithPrefix(empty, prefix)
        redis.disconnect()
        empty.disconnect()
      },
    }
  },
  (ctx) => {
    test('--redis-key-prefix reaches workers started with that global_keyprefix; without it they are not reached (exit 69)', async () => {
      const env = ctx.env()
      const c = ctx.c()
      const exchange = ctx.exchange()
      const withPrefix = await wf(env.withExchange(exchange), ['control', 'ping', '-d', c.node, '-t', '5', '--json'])
      assert.equal(withPrefix.code, 0, show(withPrefix))
      assert.deepEqual(json(withPrefix).replies, {[c.node]: {ok: 'pong'}})

      // Without the prefix, on the suite's own control exchange: the unprefixed names are still this
      // suite's alone (no other test uses that exchange), so "nobody listens" is a fact, not a hope.
      const redis = redisClient(DB)
      try {
        const unprefixed = {label: `Redis DB ${DB}, no prefix, control exchange ${exchange}`, flags: ['-b', redisUrl(DB), '--control-exchange', exchange], leftovers: () => redisLeftovers(redis, '', exchange)}
        const run = await wf(unprefixed, ['control', 'ping', '-d', c.node, '-t', '1', '--json'])
        assert.equal(run.code, 69, show(run))
        assert.deepEqual(json(run).missing, [c.node])
        assert.equal(json(run).listeners, 0)
      } finally {
        redis.disconnect()
      }
    })
  
    test('two workers sharing a node name both answer on Redis: both rows shown, the name listed in duplicates', async () => {
      const env = ctx.env()
      const a = ctx.a()
      const twin = await startWorker({...env.worker, name: a.node.split('@')[0]})
      try {
        const run = await wf(env.main, ['control', 'ping', '-t', '1', '--json'])
        assert.equal(run.code, 0, show(run))
        assert.deepEqual(json(run).duplicates, [a.node])
        assert.deepEqual(json(run).replies[a.node], {ok: 'pong'})
        assert.deepEqual(json(run).duplicateReplies, {[a.node]: [{ok: 'pong'}, {ok: 'pong'}]})
        const table = await wf(env.main, ['control', 'ping', '-t', '1'])
        const rows = table.stdout.split('\n').filter((l) => l.startsWith(`${a.node} `))
        assert.equal(rows.length, 2, table.stdout)
        for (const row of rows) assert.match(row, /duplicate name/)
        assert.match(table.stdout, new RegExp(`duplicate node names: ${a.node.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
      } finally {
        await twin.stop()
      }
    })
  },
)
