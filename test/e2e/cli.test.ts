import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createServer, type Server, type Socket} from 'node:net'
import {after, afterEach, before, describe, test} from 'node:test'

import {createVhost, rabbitctl, rabbitReplyQueues, redisClient, redisClientsOf, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {BIN, ROOT, json, runWfctl, spawnWfctl, type CliRun} from '../helpers/cli.js'
import {runArgvInProcess} from '../helpers/in-process.js'
import {waitFor} from '../helpers/poll.js'
import {amqpSpy, redisSpy, settle, SETTLE_MS} from '../helpers/spy.js'

const DB = 8
const prefix = `wfctl-e2e-${token()}:`
const R = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]

/** An error is one or two lines, no stack trace, no password. */
function assertCleanError(run: CliRun, code: number, secret?: string) {
  assert.equal(run.code, code, `exit ${run.code}, stderr: ${run.stderr}`)
  const lines = run.stderr.trim().split('\n')
  assert.ok(lines.length >= 1 && lines.length <= 3, `stderr has ${lines.length} lines:\n${run.stderr}`)
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace')
  if (secret) assert.ok(!(run.stdout + run.stderr).includes(secret), 'password leaked')
}

describe('help', () => {
  test('lists the commands and exits 0', async () => {
    const top = await runWfctl(['--help'])
    assert.equal(top.code, 0)
    assert.match(top.stdout, /control/)
    assert.match(top.stdout, /status/)
    const control = await runWfctl(['control', '--help'])
    for (const cmd of ['ping', 'shutdown', 'add-consumer', 'cancel-consumer']) assert.match(control.stdout, new RegExp(`control ${cmd}`))
    const shutdown = await runWfctl(['control', 'shutdown', '--help'])
    assert.match(shutdown.stdout, /EXAMPLES/)
    assert.match(shutdown.stdout, /--reason/)
  })
})

// Argument checks need no process of their own: they run in-process (the exit code path of
// bin/run.js is covered by the few process-level cases at the end of this block).
describe('bad input: exit 2, one line, nothing published', () => {
  let redis: Awaited<ReturnType<typeof redisSpy>>
  before(async () => {
    redis = await redisSpy(DB, prefix)
  })
  // Each case on its own: what it published (nothing, it must be) is looked at right after it.
  afterEach(async () => {
    await settle(SETTLE_MS)
    assert.deepEqual(redis.messages, [], 'the broker saw a message')
  })
  after(async () => {
    await redis.close()
  })

  const cases: [string, string[]][] = [
    ['shutdown without a target or --all', ['control', 'shutdown', '--yes']],
    ['shutdown without a terminal and without --yes', ['control', 'shutdown', '-d', 'w1@h']],
    ['shutdown --all with -d', ['control', 'shutdown', '--all', '-d', 'w1@h', '--yes']],
    ['a timeout that is not a number', ['control', 'ping', '-t', 'soon']],
    ['a negative connect timeout', ['control', 'ping', '--connect-timeout', '-1']],
    ['an expected count of 0', ['control', 'ping', '--expect', '0']],
    ['a missing roster file', ['control', 'ping', '--expect', '@/nonexistent/roster']],
    ['an unknown flag', ['control', 'ping', '--frobnicate']],
    ['an unknown matcher', ['control', 'ping', '--pattern', 'x*', '--matcher', 'regex']],
    ['a pcre pattern Python cannot compile', ['control', 'ping', '--pattern', '(?P<n>w)', '--matcher', 'pcre']],
    ['-d with --pattern', ['control', 'ping', '-d', 'a@h', '--pattern', 'a*']],
    ['an empty node name', ['control', 'ping', '-d', 'a@h,,b@h']],
    ['add-consumer without a queue', ['control', 'add-consumer']],
    ['cancel-consumer with an empty queue', ['control', 'cancel-consumer', ' ']],
    ['an unknown exchange type', ['control', 'add-consumer', 'q', '--exchange-type', 'weird']],
    ['a bad control exchange', ['control', 'ping', '--control-exchange', 'a b']],
  ]
  for (const [name, args] of cases) {
    test(name, async () => {
      const run = await runArgvInProcess([...args, ...R])
      assert.equal(run.exitCode, 2, `exit ${run.exitCode}, stderr: ${run.stderr}`)
      const lines = run.stderr.trim().split('\n')
      assert.equal(lines.length, 1, `stderr is not one line:\n${run.stderr}`)
      assert.match(lines[0], /^Error: \S/)
      assert.equal(run.stdout, '')
    })
  }

  test('through bin/run.js: an unknown flag exits 2 in one line', async () => {
    const run = await runWfctl(['control', 'ping', '--frobnicate', ...R])
    assertCleanError(run, 2)
    assert.equal(run.stdout, '')
  })

  test('an unsupported broker scheme, with the password masked', async () => {
    const run = await runWfctl(['control', 'ping', '-b', 'sqs://key:hunter2secret@region'])
    assertCleanError(run, 2, 'hunter2secret')
    assert.match(run.stderr, /unsupported broker scheme in sqs:\/\/key:\*\*\*\*@region/)
  })

  test('--json errors are one JSON object with the same exit code', async () => {
    const run = await runWfctl(['control', 'shutdown', '--json', ...R])
    assert.equal(run.code, 2)
    const out = json(run)
    assert.deepEqual(Object.keys(out), ['error'])
    assert.equal(out.error.code, 2)
    assert.match(out.error.message, /--all/)
  })

})

describe('broker failures: exit 3 within the connect timeout, in at most three lines', () => {
  let hanging: Server
  let hangPort = 0
  const held = new Set<Socket>()
  before(async () => {
    hanging = createServer((socket) => held.add(socket.on('error', () => {}))) // accepts, never answers (a reset by the client is no failure)
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r))
    hangPort = (hanging.address() as {port: number}).port
  })
  after(async () => {
    for (const socket of held) socket.destroy()
    await new Promise((r) => hanging.close(r))
  })

  const failures: [string, () => string, RegExp][] = [
    ['refused redis', () => 'redis://:pw-secret-1@127.0.0.1:1/0', /connection refused/],
    ['refused amqp', () => 'amqp://guest:pw-secret-1@127.0.0.1:1//', /connection refused/],
    ['hanging redis', () => `redis://:pw-secret-1@127.0.0.1:${hangPort}/0`, /no answer within 1s/],
    ['hanging amqp', () => `amqp://guest:pw-secret-1@127.0.0.1:${hangPort}//`, /no answer within 1s/],
    ['refused redis credentials', () => 'redis://nobody:pw-secret-1@127.0.0.1:6379/0', /authentication refused/],
    ['refused amqp credentials', () => 'amqp://guest:pw-secret-1@127.0.0.1:5672//', /authentication refused/],
    ['an amqp vhost that does not exist', () => `amqp://guest:guest@127.0.0.1:5672/no-such-vhost-${token()}`, /virtual host .* refused/],
  ]
  for (const [name, url, why] of failures) {
    test(name, async () => {
      for (const extra of [[], ['--json']]) {
        const run = await runWfctl(['control', 'ping', '-b', url(), '--connect-timeout', '1', ...extra])
        assertCleanError(run, 3, 'pw-secret-1')
        if (extra.length === 0) assert.match(run.stderr, why)
        else assert.equal(json(run).error.code, 3)
        // Bounded by the connect timeout, not by the client library: never killed by the hang guard.
        assert.equal(run.signal, null, `killed by the test's 30 s guard:\n${run.stderr}`)
      }
    })
  }

  for (const scheme of ['redis', 'amqp']) {
    test(`SIGINT while connecting to a hanging ${scheme} broker exits 130 at once, not after the connect timeout`, async () => {
      const before = held.size
      // A connect timeout of two minutes, the process killed after one: exit 130 means it left at once.
      const run = await runWfctl(['control', 'ping', '-b', `${scheme}://127.0.0.1:${hangPort}/`, '--connect-timeout', '120'], {
        signal: 'SIGINT',
        signalWhen: () => held.size > before, // wfctl is connecting: its handlers are in place
        timeoutMs: 60_000,
      })
      assert.equal(run.signal, null, `still connecting a minute after SIGINT:\n${run.stderr}`)
      assert.equal(run.code, 130, run.stderr)
      assert.match(run.stderr, /interrupted by SIGINT/)
    })
  }

  test('the broker comes from WFCTL_BROKER_URL, then CELERY_BROKER_URL, then AIRFLOW__CELERY__BROKER_URL', async () => {
    const envs: Record<string, string>[] = [
      {WFCTL_BROKER_URL: 'redis://127.0.0.1:1/1', CELERY_BROKER_URL: 'redis://127.0.0.1:2/2'},
      {CELERY_BROKER_URL: 'redis://127.0.0.1:2/2', AIRFLOW__CELERY__BROKER_URL: 'redis://127.0.0.1:3/3'},
      {AIRFLOW__CELERY__BROKER_URL: 'redis://127.0.0.1:3/3'},
    ]
    const expected = ['127.0.0.1:1/1', '127.0.0.1:2/2', '127.0.0.1:3/3']
    for (const [i, env] of envs.entries()) {
      const run = await runWfctl(['status', '--connect-timeout', '1'], {env})
      assert.equal(run.code, 3)
      assert.ok(run.stderr.includes(expected[i]), run.stderr)
    }
  })
})

describe('dry runs and interrupts', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  before(async () => {
    vhost = await createVhost('wfctl-e2e')
  })
  after(async () => {
    await vhost?.remove()
  })

  test('--dry-run prints the exact request with the password masked, and sends nothing', async () => {
    const spyR = await redisSpy(DB, prefix)
    const spyA = await amqpSpy(vhost.url)
    try {
      const redisDry = await runWfctl(['control', 'shutdown', '-d', 'w1@h', '--reason', 'maintenance', '--dry-run', '-b', `redis://:pw-secret-2@127.0.0.1:6379/${DB}`, '--redis-key-prefix', prefix])
      assert.equal(redisDry.code, 0, redisDry.stderr)
      assert.match(redisDry.stdout, /dry run: nothing was sent/)
      assert.ok(redisDry.stdout.includes(`channel ${prefix}/${DB}.celery.pidbox`), redisDry.stdout)
      assert.match(redisDry.stdout, /"method": "shutdown"/)
      assert.match(redisDry.stdout, /"msg": "maintenance"/)
      assert.ok(!redisDry.stdout.includes('pw-secret-2'))
      assert.match(redisDry.stdout, /redis:\/\/:\*\*\*\*@127\.0\.0\.1/)

      const amqpUrl = vhost.url.replace('guest:guest', 'guest:pw-secret-2')
      const amqpDry = await runWfctl(['control', 'add-consumer', 'reports', '--exchange-type', 'topic', '--dry-run', '--json', '-b', amqpUrl])
      assert.equal(amqpDry.code, 0, amqpDry.stderr)
      const out = json(amqpDry)
      assert.equal(out.dryRun, true)
      assert.equal(out.address, `exchange celery.pidbox in vhost "${vhost.name}"`)
      assert.deepEqual(out.body.arguments, {queue: 'reports', exchange_type: 'topic'})
      assert.ok(out.body.ticket && out.body.reply_to, 'a call carries ticket and reply_to')
      assert.ok(!amqpDry.stdout.includes('pw-secret-2'))
      await settle()
      assert.deepEqual(spyR.messages, [])
      assert.deepEqual(spyA.messages, [])
    } finally {
      await spyR.close()
      await spyA.close()
    }
  })

  test('a user without the permissions it needs in the vhost: exit 3, "access refused", no password', async () => {
    const user = `wfctl-test-${token()}`
    await rabbitctl('add_user', user, 'pw-perm-secret')
    try {
      await rabbitctl('set_permissions', '-p', vhost.name, user, '^$', '.*', '.*') // may not configure anything
      const spy = await amqpSpy(vhost.url) // the exchanges exist, as with a worker
      await spy.close()
      const run = await runWfctl(['control', 'ping', '-b', `amqp://${user}:pw-perm-secret@127.0.0.1:5672/${vhost.name}`])
      assertCleanError(run, 3, 'pw-perm-secret')
      assert.match(run.stderr, /access refused: access to exchange 'reply\.celery\.pidbox'/)
    } finally {
      await rabbitctl('delete_user', user)
    }
  })

  test('losing the broker connection while waiting: exit 3, and the reply route is still removed', async () => {
    const spyA = await amqpSpy(vhost.url)
    const spyR = await redisSpy(DB, prefix)
    const redis = redisClient(DB)
    try {
      // Redis: kill this wfctl's connections once the request is out — only the ones this wfctl
      // process holds (matched by its sockets): other wfctl processes may use the same Redis.
      const onRedis = spawnWfctl(['control', 'ping', '-t', '10', ...R], {timeoutMs: 30_000})
      assert.ok(await waitFor(() => spyR.messages.length > 0, 10_000), `wfctl never published:\n${onRedis.stderr()}`)
      const ours = (await redisClientsOf(redis, onRedis.pid()!)).filter((c) => c.name === 'wfctl')
      assert.ok(ours.length > 0, `no connection of wfctl (pid ${onRedis.pid()}) found`)
      for (const client of ours) await redis.client('KILL', 'ID', client.id)
      const r = await onRedis.done
      assert.equal(r.code, 3, r.stderr)
      assert.match(r.stderr, /lost the connection to redis:\/\/127\.0\.0\.1:6379\/8: the broker closed the connection/)
      assert.deepEqual(await redisLeftovers(redis, prefix), [])

      // RabbitMQ: close wfctl's connection from the broker side.
      const onAmqp = runWfctl(['control', 'ping', '-t', '10', '-b', vhost.url])
      assert.ok(await waitFor(() => spyA.messages.length > 0, 10_000), 'wfctl never published on RabbitMQ')
      const connections = await rabbitctl('list_connections', '--no-table-headers', 'pid', 'vhost', 'client_properties')
      const mine = connections.split('\n').filter((l) => l.includes(`\t${vhost.name}\t`) && l.includes('"connection_name","wfctl"'))
      assert.equal(mine.length, 1, connections)
      await rabbitctl('close_connection', mine[0].split('\t')[0], 'test: broker went away')
      const a = await onAmqp
      assert.equal(a.code, 3, a.stderr)
      assert.match(a.stderr, /lost the connection to amqp:\/\/guest:\*\*\*\*@127\.0\.0\.1.*: the broker closed the connection \(CONNECTION_FORCED - test: broker went away\)/)
      assert.deepEqual(await rabbitReplyQueues(vhost.name), [])
    } finally {
      redis.disconnect()
      await spyR.close()
      await spyA.close()
    }
  })

  test('SIGHUP upon SIGHUP while waiting for replies, as a closing terminal sends them: exit 130 each time, never killed by the signal, nothing left', async () => {
    const spyR = await redisSpy(DB, prefix)
    const redis = redisClient(DB)
    try {
      // Five rounds: the signals keep coming until wfctl has ended, so one lands in every phase of
      // its cleanup and exit (before listeners were kept to the end, most rounds died by SIGHUP).
      for (let round = 1; round <= 5; round++) {
        const live = spawnWfctl(['control', 'ping', '-t', '10', ...R])
        assert.ok(await waitFor(() => spyR.messages.length >= round, 20_000), `round ${round}: the ping was never published:\n${live.stderr()}`)
        const deadline = Date.now() + 30_000
        while (live.running() && Date.now() < deadline) {
          live.kill('SIGHUP')
          await new Promise((resolve) => setImmediate(resolve))
        }
        const run = await live.done
        assert.deepEqual([run.code, run.signal], [130, null], `round ${round}: ${run.stderr}`)
        assert.match(run.stderr, /interrupted by SIGHUP/)
        assert.deepEqual(await redisLeftovers(redis, prefix), [], `round ${round}`)
      }
    } finally {
      redis.disconnect()
      await spyR.close()
    }
  })

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} while waiting for replies exits 130 and leaves nothing in either broker`, async () => {
      // Listeners, as workers would be: with nobody listening wfctl would not wait at all.
      const spyA = await amqpSpy(vhost.url)
      const spyR = await redisSpy(DB, prefix)
      try {
        // Signalled once the request was published: wfctl is then waiting for replies.
        const onRedis = await runWfctl(['control', 'ping', '-t', '10', ...R], {signal, signalWhen: () => spyR.messages.length > 0})
        assert.equal(onRedis.code, 130, onRedis.stderr)
        assert.match(onRedis.stderr, /interrupted/)
        const onAmqp = await runWfctl(['control', 'ping', '-t', '10', '-b', vhost.url], {signal, signalWhen: () => spyA.messages.length > 0})
        assert.equal(onAmqp.code, 130, onAmqp.stderr)
        const redis = redisClient(DB)
        try {
          assert.deepEqual(await redisLeftovers(redis, prefix), [])
        } finally {
          redis.disconnect()
        }
        assert.deepEqual(await rabbitReplyQueues(vhost.name), [])
        assert.equal(spyA.messages.length, 1, 'the ping was published before the interrupt')
        assert.equal(spyR.messages.length, 1, 'the ping was published before the interrupt')
      } finally {
        await spyR.close()
        await spyA.close()
      }
    })
  }
})

describe('start-up loads only what the command needs', () => {
  function loadedBy(args: string[]): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'wfctl-modules-'))
    try {
      const report = join(dir, 'loaded.json')
      spawnSync(process.execPath, ['--require', `${ROOT}test/helpers/report-modules.cjs`, BIN, ...args], {
        env: {...process.env, WFCTL_MODULES_REPORT: report, NO_COLOR: '1'},
        timeout: 20_000,
      })
      return JSON.parse(readFileSync(report, 'utf8'))
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  test('a Redis URL loads no client library (wfctl speaks RESP itself), an AMQP URL only amqplib, --json no table', () => {
    assert.deepEqual(loadedBy(['control', 'ping', '-t', '0.2', '--json', ...R]), [])
    assert.deepEqual(loadedBy(['control', 'ping', '-t', '0.2', '--json', '-b', 'amqp://guest:guest@127.0.0.1:5672//']), ['amqplib'])
    assert.deepEqual(loadedBy(['control', 'ping', '-t', '0.2', ...R]), [], 'tables are drawn by wfctl itself')
    assert.deepEqual(loadedBy(['check', '-t', '0.2', '--format', 'nagios', ...R]), [])
  })
})
