// wfctl behind a real Redis Sentinel: a Redis master of this test's own, a real `redis-server
// --sentinel` monitoring it under a random master name, and real Celery 5.2 workers connected
// through the sentinel:// URL (transport option master_name). Everything here is this file's own:
// the servers, their ports and directories; only the processes it started are stopped.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {after, before, describe, test} from 'node:test'
import {Redis} from 'ioredis'

import {redisLeftovers, token} from '../helpers/brokers.js'
import {celery, PYTHON, startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl} from '../helpers/cli.js'
import {poll} from '../helpers/poll.js'
import {freePort, startPrivateRedis, type PrivateRedis} from '../helpers/private-redis.js'
import {startSentinel, type Sentinel} from '../helpers/sentinel.js'
import {endsWithin, show, stopAll, wf, type Namespace} from './support.js'

const DB = 3
const EXIT_MS = 15_000

/** kombu's version as the workers run it: before 5.4 its Sentinel channel uses the literal `/{db}.`. */
function kombuVersion(): number[] {
  return execFileSync(PYTHON, ['-c', 'import kombu; print(kombu.__version__)'], {encoding: 'utf8'}).trim().split('.').map(Number)
}

describe('Redis Sentinel: a real master, a real sentinel, real Celery workers connected through it', () => {
  const name = `wfctl-m-${token()}`
  let master: PrivateRedis
  let sentinel: Sentinel
  let redis: Redis
  let worker: Worker
  const dirs: string[] = []
  const started: Worker[] = []
  let ns: Namespace
  const transportOptions = () => ({master_name: name})

  before(async () => {
    master = await startPrivateRedis()
    dirs.push(master.dir)
    sentinel = await startSentinel({masters: [{name, port: master.port}]})
    dirs.push(sentinel.dir)
    redis = master.client(DB)
    // Heartbeats every second: the doctor hears them on the Sentinel event channel.
    worker = await startWorker({broker: sentinel.url(DB), transportOptions: transportOptions(), keep: {heartbeat: 1}})
    started.push(worker)
    ns = {label: `master ${master.port} DB ${DB} through sentinel ${sentinel.port}`, flags: ['-b', sentinel.url(DB), '--sentinel-master', name], leftovers: () => redisLeftovers(redis, '')}
  })

  after(async () => {
    await stopAll(started)
    redis?.disconnect()
    await sentinel?.stop()
    await master?.stop()
    for (const dir of dirs) assert.ok(!existsSync(dir), `${dir} was left behind`)
  })

  test('the worker is connected through the sentinel: its mailbox is bound on the master, in the URL\'s database', async () => {
    assert.deepEqual(await sentinel.masterOf(name), ['127.0.0.1', String(master.port)])
    const members = await redis.smembers('_kombu.binding.celery.pidbox')
    assert.ok(members.some((m) => m.endsWith(`\x06\x16${worker.node}.celery.pidbox`)), `no mailbox binding on the master: ${JSON.stringify(members)}`)
  })

  test('status and control ping -d reach the worker; one mailbox heard the request although it went to both channel forms', async () => {
    const status = await wf(ns, ['status', '--json', '-t', '5', '--expect', '1'])
    assert.equal(status.code, 0, show(status))
    assert.ok(worker.node in json(status).replies, show(status))

    const ping = await wf(ns, ['control', 'ping', '-d', worker.node, '-t', '5', '--json'])
    assert.equal(ping.code, 0, show(ping))
    assert.deepEqual(json(ping).replies, {[worker.node]: {ok: 'pong'}})
    assert.equal(json(ping).listeners, 1, `each worker listens on one form of the channel: ${show(ping)}`)

    const text = await wf(ns, ['control', 'ping', '-d', worker.node, '-t', '5'])
    assert.equal(text.code, 0, show(text))
    assert.match(text.stdout, new RegExp(`^${worker.node.replace(/[.]/g, '\\.')}\\s+OK\\s+\\d+ ms\\s+pong$`, 'm'), show(text))
  })

  test('which channel the workers use: kombu 5.2 through Sentinel listens on the literal /{db}. — a plain redis:// to the master reaches nobody there', async () => {
    const [major, minor] = kombuVersion()
    const literal = major < 5 || (major === 5 && minor < 4)
    const dry = await runWfctl(['control', 'ping', '--dry-run', ...ns.flags])
    assert.equal(dry.code, 0, show(dry))
    assert.match(dry.stdout, /^to: +channels \/\{db\}\.celery\.pidbox and \/3\.celery\.pidbox$/m, show(dry))
    const plain = await wf({...ns, flags: ['-b', master.url(DB)]}, ['control', 'ping', '-d', worker.node, '-t', '1', '--json'])
    if (literal) {
      assert.equal(plain.code, 69, `kombu ${major}.${minor} Sentinel workers are expected on "/{db}.celery.pidbox", not "/${DB}.celery.pidbox": ${show(plain)}`)
      assert.equal(json(plain).listeners, 0, show(plain))
    } else {
      assert.equal(plain.code, 0, show(plain))
    }
  })

  test('an inspect command reaches the worker: active_queues names its queue', async () => {
    const run = await wf(ns, ['inspect', 'active-queues', '-d', worker.node, '-t', '5', '--json'])
    assert.equal(run.code, 0, show(run))
    const queues = json(run).replies[worker.node] as {name: string}[]
    assert.deepEqual(queues.map((q) => q.name), ['celery'], show(run))
  })

  test('doctor through Sentinel: the worker answered, its heartbeat heard, its mailbox found, nothing wrong', async () => {
    const run = await wf(ns, ['doctor', '--json', '-t', '5'])
    const report = json(run)
    assert.equal(report.address, `channels /{db}.celery.pidbox and /${DB}.celery.pidbox`, show(run))
    const node = report.nodes.find((n: {node: string}) => n.node === worker.node)
    assert.ok(node?.replied, show(run))
    assert.equal(node.heartbeat?.db, DB, `the heartbeat on the literal /{db}.celeryev channel is taken as this database's: ${show(run)}`)
    const here = report.namespaces.find((n: {db: number; controlExchange: string}) => n.db === DB && n.controlExchange === 'celery')
    assert.ok(here?.mailboxes.includes(worker.node), show(run))
    assert.ok(!report.findings.some((f: {severity: string}) => f.severity === 'problem'), show(run))
  })

  test('a master name the sentinel does not know: exit 3, one line that names it and the flag', async () => {
    const wrong = `${name}-nope`
    const run = await wf({...ns, flags: ['-b', sentinel.url(DB), '--sentinel-master', wrong]}, ['status'])
    assert.equal(run.code, 3, show(run))
    assert.equal(run.stderr.trim().split('\n').length, 1, show(run))
    assert.equal(run.stderr.trim(), `Error: no sentinel of ${sentinel.url(DB)} knows a master named "${wrong}" (asked 127.0.0.1:${sentinel.port}): check --sentinel-master`)
  })

  test('without --sentinel-master: a usage error (exit 2) before anything connects to the sentinel', async () => {
    const before = await sentinel.connectionsReceived()
    const run = await runWfctl(['control', 'ping', '-b', sentinel.url(DB)])
    assert.equal(run.code, 2, show(run))
    assert.match(run.stderr, /^Error: sentinel:\/\/127\.0\.0\.1:\d+\/3 is a Redis Sentinel URL: name the master with --sentinel-master NAME/, show(run))
    // Only this helper's own INFO connection in between.
    assert.equal(await sentinel.connectionsReceived(), before + 1, 'wfctl connected to the sentinel')
  })

  test('no sentinel reachable: exit 3, each sentinel and its reason; the reachable second sentinel of a list is asked', async () => {
    const dead = await freePort()
    const run = await runWfctl(['status', '-b', `sentinel://127.0.0.1:${dead}/${DB}`, '--sentinel-master', name])
    assert.equal(run.code, 3, show(run))
    assert.equal(run.stderr.trim(), `Error: cannot reach any sentinel of sentinel://127.0.0.1:${dead}/${DB}: 127.0.0.1:${dead}: connection refused`)
    const list = await wf({...ns, flags: ['-b', `sentinel://127.0.0.1:${dead}/${DB};sentinel://127.0.0.1:${sentinel.port}`, '--sentinel-master', name]}, ['status', '--json', '-t', '5', '--expect', '1'])
    assert.equal(list.code, 0, show(list))
    assert.ok(worker.node in json(list).replies, show(list))
  })

  test('the master the sentinel names is unreachable: exit 3, naming the master, its address and the sentinel', async () => {
    const gone = `${name}-gone`
    const port = await freePort()
    const admin = new Redis({host: '127.0.0.1', port: sentinel.port, maxRetriesPerRequest: 1, retryStrategy: () => null})
    try {
      await admin.call('SENTINEL', 'MONITOR', gone, '127.0.0.1', String(port), '1')
      const run = await runWfctl(['status', '-b', sentinel.url(DB), '--sentinel-master', gone])
      assert.equal(run.code, 3, show(run))
      assert.equal(run.stderr.trim(), `Error: cannot connect to the master "${gone}" at 127.0.0.1:${port} (from sentinel 127.0.0.1:${sentinel.port}) of ${sentinel.url(DB)}: connection refused`)
    } finally {
      await admin.call('SENTINEL', 'REMOVE', gone).catch(() => {})
      admin.disconnect()
    }
  })

  test('a sentinel that names a replica (mid-failover), and a sentinel:// URL that points at a plain Redis: exit 3, saying so', async () => {
    const replica = await startPrivateRedis()
    dirs.push(replica.dir)
    const stale = `${name}-stale`
    const admin = new Redis({host: '127.0.0.1', port: sentinel.port, maxRetriesPerRequest: 1, retryStrategy: () => null})
    const r = replica.client()
    try {
      await r.call('REPLICAOF', '127.0.0.1', String(master.port))
      await admin.call('SENTINEL', 'MONITOR', stale, '127.0.0.1', String(replica.port), '1')
      const run = await runWfctl(['status', '-b', sentinel.url(DB), '--sentinel-master', stale])
      assert.equal(run.code, 3, show(run))
      assert.equal(run.stderr.trim(), `Error: cannot connect to the master "${stale}" at 127.0.0.1:${replica.port} (from sentinel 127.0.0.1:${sentinel.port}) of ${sentinel.url(DB)}: it is a replica, not a master (a failover in progress? try again)`)
    } finally {
      await admin.call('SENTINEL', 'REMOVE', stale).catch(() => {})
      admin.disconnect()
      r.disconnect()
      await replica.stop()
    }
    const notSentinel = await runWfctl(['status', '-b', `sentinel://127.0.0.1:${master.port}/${DB}`, '--sentinel-master', name])
    assert.equal(notSentinel.code, 3, show(notSentinel))
    assert.equal(notSentinel.stderr.trim(), `Error: cannot reach any sentinel of sentinel://127.0.0.1:${master.port}/${DB}: 127.0.0.1:${master.port}: not a sentinel (it does not know SENTINEL commands)`)
  })

  test('control shutdown of a busy worker with task events (-E): its task seen ending on the Sentinel event channel, "stopped"', async () => {
    const queue = `q-${token()}`
    const busy = await startWorker({broker: sentinel.url(DB), transportOptions: transportOptions(), pool: 'prefork', concurrency: 1, queues: [queue], extraArgs: ['-E']})
    started.push(busy)
    // 8 s: the task must still run when the shutdown asks what the worker runs (a 3 s one had ended
    // first on a loaded machine, and nothing was left to see finishing).
    const call = await celery(['call', 'wfctl_tasks.sleepy', '--args', '[8]', '--queue', queue], {broker: sentinel.url(DB), transportOptions: transportOptions(), timeoutMs: 30_000})
    assert.equal(call.code, 0, `celery call failed:\n${call.stdout}\n${call.stderr}`)
    const id = call.stdout.trim().split('\n').at(-1)!.trim()
    const active = await poll(async () => {
      const run = await wf(ns, ['inspect', 'active', '-d', busy.node, '-t', '5', '--json'])
      return ((json(run).replies?.[busy.node] ?? []) as {id: string}[]).map((t) => t.id)
    }, (ids) => ids.includes(id), 20_000, 200)
    assert.ok(active.includes(id), `the task ${id} never became active on ${busy.node}:\n${busy.log()}`)
    const run = await wf(ns, ['control', 'shutdown', '-d', busy.node, '--yes', '--wait', '30', '--json'])
    assert.equal(run.code, 0, show(run))
    assert.deepEqual(json(run).nodes[busy.node], {state: 'stopped', activeTasks: 0, finished: [{id, name: 'wfctl_tasks.sleepy'}]}, show(run))
    assert.ok(await endsWithin(busy, EXIT_MS), `${busy.node} still runs after wfctl reported it stopped:\n${busy.log()}`)
  })

  test('control shutdown -d reaches the worker through Sentinel: exit 0, stopped, its process ends', async () => {
    const run = await wf(ns, ['control', 'shutdown', '-d', worker.node, '--yes', '--json'])
    assert.equal(run.code, 0, show(run))
    assert.deepEqual(json(run).stopped, [worker.node], show(run))
    assert.ok(await endsWithin(worker, EXIT_MS), `${worker.node} still runs after wfctl reported it stopped:\n${worker.log()}`)
    assert.match(worker.log(), /shutdown/i)
  })
})

describe('Redis Sentinel with passwords: the sentinel\'s own (WFCTL_SENTINEL_PASSWORD) apart from the master\'s (in the URL)', () => {
  const name = `wfctl-p-${token()}`
  const masterPassword = `Mpw-${token()}`
  const sentinelPassword = `Spw-${token()}`
  let master: PrivateRedis
  let sentinel: Sentinel
  let redis: Redis
  let worker: Worker
  const dirs: string[] = []

  before(async () => {
    master = await startPrivateRedis()
    dirs.push(master.dir)
    const admin = master.client()
    await admin.config('SET', 'requirepass', masterPassword)
    admin.disconnect()
    redis = new Redis({host: '127.0.0.1', port: master.port, password: masterPassword, maxRetriesPerRequest: 1, retryStrategy: () => null})
    sentinel = await startSentinel({masters: [{name, port: master.port, authPass: masterPassword}], password: sentinelPassword})
    dirs.push(sentinel.dir)
    worker = await startWorker({broker: sentinel.url(0, masterPassword), transportOptions: {master_name: name, sentinel_kwargs: {password: sentinelPassword}}})
  })

  after(async () => {
    await worker?.stop()
    redis?.disconnect()
    await sentinel?.stop()
    await master?.stop()
    for (const dir of dirs) assert.ok(!existsSync(dir), `${dir} was left behind`)
  })

  const noSecrets = (text: string) => assert.ok(!text.includes(masterPassword) && !text.includes(sentinelPassword), text)

  test('both passwords right: the worker answers; neither password is ever printed', async () => {
    const ns: Namespace = {label: 'password-protected master through Sentinel', flags: ['-b', sentinel.url(0, masterPassword), '--sentinel-master', name], leftovers: () => redisLeftovers(redis, '')}
    const run = await wf(ns, ['control', 'ping', '-d', worker.node, '-t', '5'], {env: {WFCTL_SENTINEL_PASSWORD: sentinelPassword}})
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, /1 node replied/)
    noSecrets(run.stdout + run.stderr)
    const dry = await runWfctl(['control', 'ping', '--dry-run', '--json', ...ns.flags], {env: {WFCTL_SENTINEL_PASSWORD: sentinelPassword}})
    assert.equal(json(dry).broker, `sentinel://:****@127.0.0.1:${sentinel.port}/0`)
    noSecrets(dry.stdout + dry.stderr)
  })

  test('the sentinel password missing or wrong, the master password wrong: exit 3, one line saying which', async () => {
    const flags = ['-b', sentinel.url(0, masterPassword), '--sentinel-master', name]
    const missing = await runWfctl(['status', ...flags])
    assert.equal(missing.code, 3, show(missing))
    assert.equal(missing.stderr.trim(), `Error: cannot reach any sentinel of sentinel://:****@127.0.0.1:${sentinel.port}/0: 127.0.0.1:${sentinel.port}: authentication required (set WFCTL_SENTINEL_PASSWORD)`)
    const wrong = await runWfctl(['status', ...flags], {env: {WFCTL_SENTINEL_PASSWORD: `${sentinelPassword}x`}})
    assert.equal(wrong.code, 3, show(wrong))
    assert.equal(wrong.stderr.trim(), `Error: cannot reach any sentinel of sentinel://:****@127.0.0.1:${sentinel.port}/0: 127.0.0.1:${sentinel.port}: authentication refused (WFCTL_SENTINEL_PASSWORD)`)
    const badMaster = await runWfctl(['status', '-b', sentinel.url(0, `${masterPassword}x`), '--sentinel-master', name], {env: {WFCTL_SENTINEL_PASSWORD: sentinelPassword}})
    assert.equal(badMaster.code, 3, show(badMaster))
    assert.match(badMaster.stderr.trim(), new RegExp(`^Error: cannot connect to the master "${name}" at 127\\.0\\.0\\.1:${master.port} \\(from sentinel 127\\.0\\.0\\.1:${sentinel.port}\\) of sentinel://:\\*\\*\\*\\*@127\\.0\\.0\\.1:${sentinel.port}/0: authentication refused$`), show(badMaster))
    for (const r of [missing, wrong, badMaster]) noSecrets(r.stdout + r.stderr)
  })
})
