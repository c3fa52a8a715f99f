// wfctl events against real Celery workers on both brokers: heartbeats of the test's own nodes,
// task events of a task the test sends (-E), the filters, the ends (--count, --duration, Ctrl-C, a
// closed pipe), and nothing left in the broker. Redis DB 9 under a random prefix; a vhost of its own.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {connect as amqpConnect} from 'amqplib'
import {after, before, describe, test} from 'node:test'

import {createVhost, keysWithPrefix, rabbitctl, redisClient, redisClientsOf, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {BIN, runWfctl, spawnWfctl, type CliRun} from '../helpers/cli.js'
import {poll, waitFor} from '../helpers/poll.js'
import {startPrivateRedis} from '../helpers/private-redis.js'
import {deleteKeysWithPrefix, show, stopAll} from './support.js'

interface EventsEnv {
  label: string
  /** wfctl's broker flags for the workers' namespace. */
  flags: string[]
  worker: {broker: string; keyPrefix?: string}
  /** Whether the wfctl process `pid` is subscribed to the event exchange now. */
  subscribed: (pid: number) => Promise<boolean>
  /** What an event listener could have left in the broker: must be nothing once wfctl has exited. */
  leftovers: () => Promise<string[]>
  close: () => Promise<void>
}

interface Ev {
  type: string
  hostname: string
  timestamp: number
  [field: string]: unknown
}

function ndjson(run: CliRun): Ev[] {
  const lines = run.stdout.split('\n').filter((l) => l !== '')
  return lines.map((line) => {
    try {
      return JSON.parse(line) as Ev
    } catch {
      throw new Error(`not one JSON object per line:\n${run.stdout}\nstderr:\n${run.stderr}`)
    }
  })
}

function eventsSuite(name: string, open: () => Promise<EventsEnv>): void {
  describe(`${name}: wfctl events against real Celery workers`, {timeout: 240_000}, () => {
    let env: EventsEnv
    let a: Worker
    let b: Worker
    const queue = `q-${token()}`
    const tok = token()

    before(async () => {
      env = await open()
      // a: heartbeats every second and task events (-E), on a queue of its own; b: heartbeats only.
      ;[a, b] = await Promise.all([
        startWorker({...env.worker, name: `eva${tok}`, keep: {heartbeat: 1}, extraArgs: ['-E'], queues: [queue]}),
        startWorker({...env.worker, name: `evb${tok}`, keep: {heartbeat: 1}}),
      ])
    })

    after(async () => {
      await stopAll([a, b])
      await env?.close()
    })

    /** Several `wfctl events` at once; the broker is checked for leftovers once all have ended. */
    async function eventsTogether(runs: string[][]): Promise<CliRun[]> {
      const done = await Promise.all(runs.map((args) => runWfctl(['events', ...args, ...env.flags], {timeoutMs: 60_000})))
      assert.deepEqual(await env.leftovers(), [], `wfctl events left something in ${env.label}\n${done.map(show).join('\n')}`)
      return done
    }

    async function events(args: string[]): Promise<CliRun> {
      return (await eventsTogether([args]))[0]
    }

    test('(a) --json --count 3 --node NODE: three worker-heartbeat objects of that node, one per line, exit 0', async () => {
      const run = await events(['--json', '--count', '3', '--node', a.node])
      assert.equal(run.code, 0, show(run))
      const got = ndjson(run)
      assert.equal(got.length, 3, show(run))
      for (const e of got) {
        assert.equal(e.hostname, a.node)
        assert.equal(e.type, 'worker-heartbeat', show(run))
        assert.equal(e.freq, 1)
        assert.equal(typeof e.active, 'number')
        assert.equal(typeof e.processed, 'number')
        assert.equal((e.loadavg as unknown[]).length, 3)
        assert.equal(e.sw_ident, 'py-celery')
        assert.ok(Math.abs(e.timestamp - Date.now() / 1000) < 60, `timestamp ${e.timestamp}`)
      }
    })

    test('(b) --type "task-*": task-received, task-started and task-succeeded of a task the test sends', async () => {
      const live = spawnWfctl(['events', '--json', '--type', 'task-*', '--node', a.node, '--count', '3', ...env.flags])
      try {
        assert.ok(await waitFor(() => env.subscribed(live.pid()!), 20_000, 100), `wfctl never subscribed:\n${live.stderr()}`)
        const call = await celery(['call', 'wfctl_tasks.add', '--args', '[2, 3]', '--queue', queue], {...env.worker, timeoutMs: 30_000})
        assert.equal(call.code, 0, `celery call failed:\n${call.stdout}\n${call.stderr}`)
        const id = call.stdout.trim().split('\n').at(-1)!.trim()
        const run = await live.done
        assert.equal(run.code, 0, show(run))
        const got = ndjson(run)
        assert.deepEqual(got.map((e) => e.type), ['task-received', 'task-started', 'task-succeeded'], show(run))
        for (const e of got) {
          assert.equal(e.uuid, id)
          assert.equal(e.hostname, a.node)
        }
        assert.equal(got[0].name, 'wfctl_tasks.add')
        assert.equal(got[2].result, '5')
        assert.equal(typeof got[2].runtime, 'number')
      } finally {
        live.kill('SIGKILL')
      }
      assert.deepEqual(await env.leftovers(), [])
    })

    test('(b2) the same as lines: time, node, type, the task id and name, the runtime', async () => {
      const live = spawnWfctl(['events', '--type', 'task-received,task-succeeded', '--node', a.node, '--count', '2', ...env.flags])
      try {
        assert.ok(await waitFor(() => env.subscribed(live.pid()!), 20_000, 100), `wfctl never subscribed:\n${live.stderr()}`)
        const call = await celery(['call', 'wfctl_tasks.add', '--args', '[20, 22]', '--queue', queue], {...env.worker, timeoutMs: 30_000})
        const id = call.stdout.trim().split('\n').at(-1)!.trim()
        const run = await live.done
        assert.equal(run.code, 0, show(run))
        const lines = run.stdout.trimEnd().split('\n')
        const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        assert.match(lines[0], new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z  ${esc(a.node)}  task-received +${esc(id)} wfctl_tasks\\.add args=[[(]20, 22[\\])]`), show(run))
        assert.match(lines[1], new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z  ${esc(a.node)}  task-succeeded +${esc(id)} wfctl_tasks\\.add runtime=[\\d.]+m?s result=42$`), show(run))
      } finally {
        live.kill('SIGKILL')
      }
    })

    test('(c) --node filters: only the named node, by name or by glob; the text line shows its counts', async () => {
      // Three listeners at once (each waits for heartbeats, one a second): nothing is checked until all have ended.
      const [run, glob, both] = await eventsTogether([
        ['--json', '--count', '4', '--node', b.node],
        ['--count', '2', '--type', 'worker-*', '--node', `evb${tok}@*`],
        ['--json', '--count', '12', '--node', `ev?${tok}@*`],
      ])
      assert.equal(run.code, 0, show(run))
      assert.deepEqual([...new Set(ndjson(run).map((e) => e.hostname))], [b.node])
      assert.equal(glob.code, 0, show(glob))
      for (const line of glob.stdout.trimEnd().split('\n')) assert.match(line, new RegExp(`  evb${tok}@\\S+  worker-heartbeat  active=0 processed=\\d+ load=[\\d.]+,[\\d.]+,[\\d.]+$`), show(glob))
      assert.deepEqual([...new Set(ndjson(both).map((e) => e.hostname))].sort(), [a.node, b.node].sort(), show(both))
    })

    test('(d) --duration ends with 0, also when nothing matched; with --count not reached, 1', async () => {
      const quiet = await events(['--json', '--type', 'task-failed', '--duration', '1.5'])
      assert.equal(quiet.code, 0, show(quiet))
      assert.equal(quiet.stdout, '')
      const short = await events(['--json', '--count', '1000', '--node', a.node, '--duration', '2'])
      assert.equal(short.code, 1, show(short))
      assert.ok(ndjson(short).length >= 1, show(short))
      assert.match(short.stderr, /of 1000 events within --duration/)
    })

    test('(e) nothing heard for the selection: one hint on stderr saying why (task events need -E)', async () => {
      // Both wait out the hint's five seconds, side by side.
      const [run, nomatch] = await eventsTogether([
        ['--type', 'task-*', '--node', b.node, '--duration', '6.5'],
        ['--node', `nobody-${tok}@*`, '--duration', '6.5'],
      ])
      assert.equal(run.code, 0, show(run))
      assert.equal(run.stdout, '')
      assert.match(run.stderr, /-E/, show(run))
      assert.match(nomatch.stderr, /none matched --type\/--node; heard from .*evb/, show(nomatch))
    })

    test('(f) Ctrl-C: exit 130 after cleanup; a closed pipe (| head -1): exit 0', async () => {
      const live = spawnWfctl(['events', '--json', ...env.flags])
      assert.ok(await waitFor(() => live.stdout().includes('\n'), 20_000), `no event arrived:\n${live.stderr()}`)
      live.kill('SIGINT')
      const run = await live.done
      assert.equal(run.code, 130, show(run))
      assert.deepEqual(await env.leftovers(), [])
      const quoted = [process.execPath, BIN, 'events', '--json', ...env.flags].map((s) => `'${s.replace(/'/g, `'\\''`)}'`).join(' ')
      const piped = spawnSync('bash', ['-c', `${quoted} | head -1; echo "wfctl=\${PIPESTATUS[0]}" >&2`], {encoding: 'utf8', timeout: 30_000, env: {...process.env, WFCTL_AUDIT_LOG: 'off'}})
      assert.match(piped.stderr, /wfctl=0/, `stdout:\n${piped.stdout}\nstderr:\n${piped.stderr}`)
      assert.equal(piped.stdout.trimEnd().split('\n').length, 1)
      assert.doesNotThrow(() => JSON.parse(piped.stdout))
      assert.deepEqual(await env.leftovers(), [])
    })

    test('(g) bad flags are usage errors before anything connects; an unreachable broker is exit 3', async () => {
      for (const args of [['--count', '0'], ['--count', 'x'], ['--duration', '-1'], ['--type', ''], ['--node', 'w[1']]) {
        const run = await events(args)
        assert.equal(run.code, 2, `${args.join(' ')}: ${show(run)}`)
      }
      const json = await runWfctl(['events', '--json', '-b', 'redis://127.0.0.1:1/0', '--connect-timeout', '1'])
      assert.equal(json.code, 3, show(json))
      assert.deepEqual(JSON.parse(json.stdout).error.code, 3)
    })
  })
}

const DB = 9
const prefix = `wfctl-it-events-${token()}:`

eventsSuite('Redis', async () => {
  const redis = redisClient(DB)
  return {
    label: `Redis DB ${DB}, prefix ${prefix}`,
    flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix],
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    subscribed: async (pid) => (await redisClientsOf(redis, pid)).some((c) => /\bpsub=1\b/.test(c.line)),
    // PSUBSCRIBE only: no binding set entry and no event key under the prefix, ever.
    leftovers: async () => (await keysWithPrefix(redis, prefix)).filter((k) => k.includes('celeryev')),
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
})

eventsSuite('RabbitMQ', async () => {
  const vhost = await createVhost('wfctl-it-events')
  const eventQueues = async () => (await rabbitctl('list_queues', '-p', vhost.name, 'name', 'exclusive', 'auto_delete', 'arguments')).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('celeryev.'))
  return {
    label: `vhost ${vhost.name}`,
    flags: ['-b', vhost.url],
    worker: {broker: vhost.url},
    subscribed: async () => {
      const queues = await eventQueues()
      if (queues.length === 0) return false
      // Celery's monitor queue: exclusive, auto-delete, with a message TTL so that no backlog builds up.
      for (const q of queues) assert.match(q, /\ttrue\ttrue\t.*x-message-ttl.*5000/, q)
      return true
    },
    leftovers: async () => (await poll(eventQueues, (left) => left.length === 0, 5000, 200)),
    close: async () => {
      await vhost.remove()
    },
  }
})

describe('RabbitMQ: a vhost where no worker ever ran', {timeout: 60_000}, () => {
  test('events waits for the event exchange, says so once, and declares nothing', async () => {
    const vhost = await createVhost('wfctl-it-events-empty')
    try {
      const run = await runWfctl(['events', '--duration', '3', '-b', vhost.url])
      assert.equal(run.code, 0, show(run))
      assert.match(run.stderr, /no worker has sent events .* yet \(no event exchange\): waiting for one/, show(run))
      assert.equal(run.stderr.trim().split('\n').length, 1, show(run))
      assert.equal((await rabbitctl('list_queues', '-p', vhost.name, 'name')).trim(), '')
      assert.doesNotMatch(await rabbitctl('list_exchanges', '-p', vhost.name, 'name'), /celeryev/)
    } finally {
      await vhost.remove()
    }
  })
})

describe('Redis: what else arrives on the event channels', {timeout: 60_000}, () => {
  test('task.multi batches, junk and hostile strings: events shown neutralised, the rest counted, nothing thrown', async () => {
    const redis = redisClient(DB)
    const p = `wfctl-it-events-junk-${token()}:`
    const channel = (key: string) => `${p}/${DB}.celeryev/${key}`
    const envelope = (body: unknown, over: Record<string, unknown> = {}) => JSON.stringify({
      body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString('base64'),
      'content-encoding': 'utf-8', 'content-type': 'application/json', headers: {hostname: 'j@h'},
      properties: {delivery_mode: 1, delivery_info: {exchange: 'celeryev', routing_key: 'x'}, priority: 0, body_encoding: 'base64', delivery_tag: token()},
      ...over,
    })
    const now = Date.now() / 1000
    const live = spawnWfctl(['events', '--count', '4', '-b', redisUrl(DB), '--redis-key-prefix', p])
    try {
      assert.ok(await waitFor(async () => (await redisClientsOf(redis, live.pid()!)).some((c) => /\bpsub=1\b/.test(c.line)), 20_000, 100), live.stderr())
      await redis.publish(channel('worker.heartbeat'), 'not an envelope')
      await redis.publish(channel('worker.heartbeat'), envelope('{"type": "worker-heartbeat"', {}))
      await redis.publish(channel('worker.heartbeat'), envelope({type: 'worker-heartbeat', hostname: 'j@h', timestamp: now}, {'content-type': 'application/x-python-serialize'}))
      await redis.publish(channel('worker.heartbeat'), JSON.stringify({body: '!!notbase64', properties: {body_encoding: 'base64'}}))
      await redis.publish(channel('task.multi'), envelope([
        {type: 'task-received', hostname: 'j@h', timestamp: now, uuid: 'u-1', name: 'evil\u001b]52;c;ZXZpbA==\u0007name', args: '(1,)'},
        {type: 'task-failed', hostname: 'j\u202e@h', timestamp: now, uuid: 'u-1', exception: 'Boom\n\u001b[2Jfake line'},
        'not an event',
      ]))
      await redis.publish(channel('worker.heartbeat'), envelope({type: 'worker-heartbeat', hostname: 'j@h', timestamp: now, active: 1, processed: 2, loadavg: [0, 0, 0]}))
      await redis.publish(channel('worker.offline'), envelope({type: 'worker-offline', hostname: 'j@h', timestamp: now}))
      const run = await live.done
      assert.equal(run.code, 0, show(run))
      assert.equal(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}](?<!\n)/u.test(run.stdout.replace(/\n/g, '')), false, JSON.stringify(run.stdout))
      assert.equal(/[\u001b\u202e]/.test(run.stderr), false, JSON.stringify(run.stderr))
      const lines = run.stdout.trimEnd().split('\n')
      assert.equal(lines.length, 4, show(run))
      assert.match(lines[0], /task-received +u-1 evil\uFFFD\]52;c;ZXZpbA==\uFFFDname args=\(1,\)$/)
      assert.match(lines[1], /j\uFFFD@h +task-failed +u-1 evil.*name exception=Boom \uFFFD\[2Jfake line$/)
      assert.match(lines[2], /worker-heartbeat +active=1 processed=2 load=0,0,0$/)
      assert.match(lines[3], /worker-offline$/)
      // The first three messages that are not events are named on stderr, then the total.
      assert.equal((run.stderr.match(/^warning: not an event/gm) ?? []).length, 3, run.stderr)
      assert.match(run.stderr, /warning: 5 messages on the event exchange were not events/, run.stderr)
      assert.deepEqual(await keysWithPrefix(redis, p), [])
    } finally {
      live.kill('SIGKILL')
      redis.disconnect()
    }
  })
})

describe('Redis: a broker lost while listening', {timeout: 60_000}, () => {
  test('a stopped or frozen broker ends the stream with exit 3, within a few seconds', async () => {
    const server = await startPrivateRedis()
    try {
      for (const lose of ['stop', 'freeze'] as const) {
        const live = spawnWfctl(['events', '--json', '-b', server.url(0), '--connect-timeout', '1'])
        const redis = server.client(0)
        try {
          assert.ok(await waitFor(async () => (await redisClientsOf(redis, live.pid()!)).some((c) => /\bpsub=1\b/.test(c.line)), 20_000, 100), live.stderr())
        } finally {
          redis.disconnect()
        }
        if (lose === 'stop') server.process().kill('SIGKILL')
        else server.pause()
        const run = await live.done
        assert.equal(run.code, 3, `${lose}: ${show(run)}`)
        assert.match(JSON.parse(run.stdout.trim().split('\n').at(-1)!).error.message, /lost the connection|no answer/, show(run))
        if (lose === 'stop') await server.restart()
        else server.resume()
      }
    } finally {
      await server.stop()
    }
  })
})

describe('RabbitMQ: a connection closed by the broker while listening', {timeout: 60_000}, () => {
  test('exit 3, and the event queue goes with the connection', async () => {
    const vhost = await createVhost('wfctl-it-events-lost')
    const conn = await amqpConnect(vhost.url)
    try {
      const ch = await conn.createChannel()
      // The event exchange as a worker declares it.
      await ch.assertExchange('celeryev', 'topic', {durable: true, autoDelete: false})
      const live = spawnWfctl(['events', '--json', '-b', vhost.url])
      const queues = async () => (await rabbitctl('list_queues', '-p', vhost.name, 'name')).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('celeryev.'))
      assert.ok(await waitFor(async () => (await queues()).length > 0, 20_000, 200), live.stderr())
      const connections = (await rabbitctl('list_connections', 'pid', 'vhost', 'client_properties')).split('\n').filter((l) => l.includes(`\t${vhost.name}\t`) && l.includes('{"connection_name","wfctl"}'))
      assert.equal(connections.length, 1, connections.join('\n'))
      await rabbitctl('close_connection', connections[0].split('\t')[0], 'closed by the test')
      const run = await live.done
      assert.equal(run.code, 3, show(run))
      assert.match(run.stdout, /"code":3/, show(run))
      assert.deepEqual(await poll(queues, (left) => left.length === 0, 5000, 200), [])
    } finally {
      await conn.close().catch(() => {})
      await vhost.remove()
    }
  })
})
