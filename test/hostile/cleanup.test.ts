// Cleanup under pressure, on a redis-server of the test's own: restarted mid-call (with its data
// kept), frozen mid-call, or used by restricted users (no DEL, no MULTI, no CLIENT).
import assert from 'node:assert/strict'
import {after, afterEach, before, describe, it} from 'node:test'
import type {Redis} from 'ioredis'

import {keysLeft, token} from '../helpers/brokers.js'
import {runWfctl, type CliRun} from '../helpers/cli.js'
import {SEP, startHostileWorker, type HostileWorker, type HostileWorkerOptions} from '../helpers/hostile-worker.js'
import {startPrivateRedis, type PrivateRedis} from '../helpers/private-redis.js'
import {assertShortError, show, spawnWfctl, waitFor} from './support.js'

const BINDING = '_kombu.binding.reply.celery.pidbox'

/** Reply-binding members and reply lists in a DB of the private server. */
async function leftovers(redis: Redis, exchange = 'celery'): Promise<string[]> {
  const members = await redis.smembers(`_kombu.binding.reply.${exchange}.pidbox`)
  const lists = (await keysLeft(redis, '')).filter((k) => k.includes(`.reply.${exchange}.pidbox`) && !k.startsWith('_kombu.binding.'))
  return [...members.map((m) => `member ${JSON.stringify(m)}`), ...lists.map((k) => `list ${JSON.stringify(k)}`)]
}

/** The routing keys (oids) found in leftovers: what a warning must name. */
function oidsOf(left: string[]): string[] {
  return [...new Set(left.map((l) => /([0-9a-f]{8}-[0-9a-f-]{27})/.exec(l)?.[1]).filter((x): x is string => x !== undefined))]
}

/** Whatever is left behind is named on stderr (by its routing key). */
function assertLeftoversNamed(run: CliRun, left: string[]): void {
  for (const oid of oidsOf(left)) assert.ok(run.stderr.includes(oid), `left ${JSON.stringify(left)} but stderr does not name ${oid}:\n${show(run)}`)
}

describe('cleanup on a private Redis', () => {
  let server: PrivateRedis
  let admin: Redis
  const workers: HostileWorker[] = []

  before(async () => {
    server = await startPrivateRedis({appendonly: true})
    admin = server.client()
  })
  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.stop()))
    // The server is this file's own: each test starts from an empty database.
    await admin.flushall()
  })
  after(async () => {
    admin?.disconnect()
    await server?.stop()
  })

  async function worker(opts: Partial<HostileWorkerOptions> = {}): Promise<HostileWorker> {
    const w = await startHostileWorker({db: 0, port: server.port, ...opts})
    workers.push(w)
    return w
  }

  async function user(name: string, ...rules: string[]): Promise<string> {
    const password = `pw${token()}`
    await server.acl('SETUSER', name, 'reset', 'on', `>${password}`, '~*', '&*', '+@all', ...rules)
    return server.url(0, `${name}:${password}`)
  }

  it('a user without DEL: the binding member is still removed, and a list left behind is named on stderr', async () => {
    const url = await user(`nodel${token()}`, '-del')
    const A = `a${token()}@private`
    // Two junk entries on the priority-9 sub-list first (BRPOP takes one), then A's reply: when
    // wfctl has its answer, a list it can only remove with DEL is still there.
    const w = await worker({
      node: A,
      replies: async (req) => {
        const queue = `${req.reply_to!.routing_key}.reply.celery.pidbox`
        await admin.lpush(`${queue}${SEP}9`, 'junk-1', 'junk-2')
        return [{node: A}]
      },
    })
    const run = await runWfctl(['control', 'ping', '-d', A, '-t', '3', '-b', url])
    await w.answered(1, 5000)
    assert.equal(run.code, 0, show(run))
    const left = await leftovers(admin)
    assert.deepEqual(left.filter((l) => l.startsWith('member')), [], `binding member left behind:\n${show(run)}`)
    assertLeftoversNamed(run, left)
  })

  it('a user without MULTI: the binding member and the lists are removed', async () => {
    const url = await user(`nomulti${token()}`, '-multi')
    const A = `a${token()}@private`
    await worker({node: A})
    const run = await runWfctl(['control', 'ping', '-d', A, '-t', '3', '-b', url])
    assert.equal(run.code, 0, show(run))
    const left = await leftovers(admin)
    assert.deepEqual(left, [], `left behind:\n${show(run)}`)
    assertLeftoversNamed(run, left)
  })

  it('a user without CLIENT: the same exit codes as the admin user (0 with a replying worker, 69 with nobody)', async () => {
    const url = await user(`noclient${token()}`, '-client')
    const A = `a${token()}@private`
    await worker({node: A})
    const replied = await runWfctl(['control', 'ping', '-d', A, '-t', '3', '-b', url])
    assert.equal(replied.code, 0, show(replied))
    const nobody = await runWfctl(['control', 'ping', '-d', A, '-t', '1', '-b', url, '--control-exchange', `nobody${token()}`])
    assert.equal(nobody.code, 69, show(nobody))
    const admins = await runWfctl(['control', 'ping', '-d', A, '-t', '1', '-b', server.url(0), '--control-exchange', `nobody${token()}`])
    assert.equal(admins.code, 69, `the admin user, for comparison:\n${show(admins)}`)
    assert.deepEqual(await leftovers(admin), [])
  })

  it('a restart of a persistent Redis in the middle of a call: no binding member, no list left; exit 69 or 3 in one or two lines', async () => {
    // A listener that never replies, so that wfctl waits (PUBLISH returns 1).
    await worker({replies: () => []})
    const live = spawnWfctl(['control', 'ping', '-t', '4', '--connect-timeout', '2', '-b', server.url(0)], {timeoutMs: 30_000})
    const bound = await waitFor(async () => (await admin.scard(BINDING).catch(() => 0)) > 0, 10_000, 20)
    assert.ok(bound, `wfctl never added its binding member:\n${live.stderr()}`)
    // About 1 s into the call, the server restarts with its data (the member included) kept.
    await new Promise((r) => setTimeout(r, 700))
    admin.disconnect()
    await server.restart()
    admin = server.client()
    const run = await live.done
    assert.ok(run.code === 69 || run.code === 3, show(run))
    assertShortError(run, 2)
    assert.deepEqual(await leftovers(admin), [], `left behind after the restart:\n${show(run)}`)
  })

  it('a Redis frozen (SIGSTOP) while wfctl waits for replies: exit 3', async () => {
    const w = await worker({replies: () => []})
    const live = spawnWfctl(['control', 'ping', '-t', '2', '--connect-timeout', '2', '-b', server.url(0)], {timeoutMs: 30_000})
    try {
      // Frozen once wfctl waits for replies (the request was published), at least 0.5 s after it started.
      const started = performance.now()
      const waiting = await waitFor(() => w.requests.length > 0, 10_000, 10)
      assert.ok(waiting, `wfctl never published:\n${live.stderr()}`)
      const wait = 500 - (performance.now() - started)
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      server.pause()
      const run = await live.done
      assert.equal(run.signal, null, `killed after 30 s:\n${show(run)}`)
      assert.equal(run.code, 3, show(run))
      assertShortError(run, 2)
    } finally {
      server.resume()
    }
  })
})
