// The worker side (src/agent): simulated workers answering real Celery clients (`celery inspect`,
// `celery status`, `celery control`), wfctl's own client and hand-made requests, beside real Celery
// workers, on Redis (DBs 12 and 13, under key prefixes of this file's own, beside whatever else uses them) and on RabbitMQ (a vhost
// of its own). Every test checks that the broker is left as it was.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import type {Redis} from 'ioredis'
import type {ChannelModel} from 'amqplib'

import {SimulatedFleet} from '../../src/agent/fleet.js'
import {WorkerResponder, workerProfile, type Dispatched} from '../../src/agent/responder.js'
import {addressees, isAddressed} from '../../src/agent/targeting.js'
import {parseBrokerUrl} from '../../src/broker/url.js'
import {decodeEnvelope} from '../../src/wire/envelope.js'
import {createVhost, keysLeft, rabbitctl, redisClient, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {agentConnections, celeryJson, deleteKeysWithPrefix, openSession, poll, rawCall, rawCast, sleep, startFullWorker} from './support.js'

/** The host part of simulated node names: never this machine's, so no real worker shares one. */
const HOST = 'agent-test'
const SEP = '\x06\x16'

function reply(outcome: Dispatched): unknown {
  assert.equal(outcome.kind, 'reply')
  return (outcome as {payload: unknown}).payload
}

describe('WorkerResponder: Celery 5.2.6 command semantics, without a broker', () => {
  const profile = workerProfile({
    broker: parseBrokerUrl('redis://:secret@127.0.0.1:6379/12'),
    namespace: {controlExchange: 'celery', redisKeyPrefix: 'pfx:'},
    tasks: ['t.add', 't.sleepy'],
    queues: ['celery'],
    concurrency: 2,
  })
  const call = (r: WorkerResponder, method: unknown, args: unknown = {}) => r.dispatch({method, arguments: args})

  test('the worker-side filter (docs/wire-protocol.md#how-a-worker-handles-a-request): destination list and string, glob, pcre, and pattern without matcher', () => {
    const nodes = ['w1@vm', 'w10@vm', 'r8@vm', 'x.y@vm']
    const pick = (body: Record<string, unknown>) => nodes.filter((n) => isAddressed(addressees(body), n))
    assert.deepEqual(pick({destination: ['w1@vm', 'nobody@vm']}), ['w1@vm'])
    assert.deepEqual(pick({destination: 'zzw1@vmzz'}), ['w1@vm'], 'a string destination is a substring test')
    assert.deepEqual(pick({destination: []}), nodes)
    assert.deepEqual(pick({destination: null, pattern: 'w1*', matcher: null}), nodes, 'pattern without matcher addresses everybody')
    assert.deepEqual(pick({pattern: 'w1*', matcher: 'glob'}), ['w1@vm', 'w10@vm'])
    assert.deepEqual(pick({pattern: '?1@vm', matcher: 'glob'}), ['w1@vm'])
    assert.deepEqual(pick({pattern: '[rx]*', matcher: 'glob'}), ['r8@vm', 'x.y@vm'])
    assert.deepEqual(pick({pattern: '[!w]*', matcher: 'glob'}), ['r8@vm', 'x.y@vm'])
    assert.deepEqual(pick({pattern: 'w1', matcher: 'glob'}), [], 'a glob matches the whole name')
    assert.deepEqual(pick({pattern: '[z-a]*', matcher: 'glob'}), [], 'a reversed range matches nothing')
    assert.deepEqual(pick({pattern: 'r8', matcher: 'pcre'}), ['r8@vm'], 're.match is anchored at the start only')
    assert.deepEqual(pick({pattern: '@vm', matcher: 'pcre'}), [])
    assert.deepEqual(pick({pattern: '(?P<n>w)1\\d?@', matcher: 'pcre'}), ['w1@vm', 'w10@vm'])
    assert.equal(addressees({pattern: 'w*', matcher: 'regex'}).kind, 'none', 'an unknown matcher runs nowhere')
  })

  test('errors are the reprs of the exceptions Celery raises', () => {
    const r = new WorkerResponder('w1@vm', profile)
    assert.deepEqual(reply(call(r, 'nosuchcmd')), {error: "KeyError('nosuchcmd')"})
    assert.deepEqual(reply(call(r, 5)), {error: 'KeyError(5)'})
    assert.deepEqual(reply(call(r, ['ping'])), {error: `TypeError("unhashable type: 'list'")`})
    assert.deepEqual(reply(call(r, 'enable_events', {x: 1})), {error: `TypeError("enable_events() got an unexpected keyword argument 'x'")`})
    assert.deepEqual(reply(call(r, 'rate_limit')), {error: `TypeError("rate_limit() missing 2 required positional arguments: 'task_name' and 'rate_limit'")`})
    assert.deepEqual(reply(call(r, 'ping', {state: 1})), {error: `TypeError("ping() got multiple values for argument 'state'")`})
    assert.deepEqual(reply(call(r, 'rate_limit', {task_name: 't.add', rate_limit: '5/x'})), {error: "KeyError('x')"})
    assert.deepEqual(reply(call(r, 'rate_limit', {task_name: 't.add', rate_limit: 'abc'})), {error: `Invalid rate limit string: ValueError("could not convert string to float: 'abc'")`})
    assert.deepEqual(reply(call(r, 'rate_limit', {task_name: 't.nope', rate_limit: '5/s'})), {error: 'unknown task'})
    assert.deepEqual(reply(call(r, 'time_limit', {task_name: 't.nope', soft: 1})), {error: 'unknown task'})
    assert.deepEqual(reply(call(r, 'autoscale', {max: 4, min: 1})), {error: "ValueError('Autoscale not enabled')"})
    assert.deepEqual(reply(call(r, 'pool_restart')), {error: "ValueError('Pool restarts not enabled')"})
    assert.deepEqual(reply(call(r, 'terminate', {signal: 'NOPE', task_id: 'x'})), {error: `AttributeError("module 'signal' has no attribute 'SIGNOPE'")`})
    assert.deepEqual(reply(call(r, 'pool_shrink', {n: 3})), {error: `ValueError("Can't shrink pool. All processes busy!")`})
  })

  test('commands change what later commands report', () => {
    const r = new WorkerResponder('w1@vm', profile)
    const stats = () => reply(call(r, 'stats')) as {clock: unknown; pool: Record<string, unknown>; prefetch_count: number; broker: Record<string, unknown>}
    assert.equal(typeof stats().clock, 'string')
    assert.equal(stats().pool['max-concurrency'], 2)
    assert.deepEqual(stats().broker.transport_options, {global_keyprefix: 'pfx:'})
    assert.deepEqual(reply(call(r, 'pool_grow', {n: 3})), {ok: 'pool will grow'})
    assert.deepEqual(reply(call(r, 'pool_shrink')), {ok: 'pool will shrink'})
    assert.equal(stats().pool['max-concurrency'], 4)
    assert.equal(stats().prefetch_count, 16)

    assert.deepEqual(reply(call(r, 'revoke', {task_id: ['a', 'b', 'a']})), {ok: 'tasks a, b flagged as revoked'})
    assert.deepEqual(reply(call(r, 'revoke', {task_id: 'c', terminate: true, signal: 'KILL'})), {ok: 'terminate: tasks unknown'})
    assert.deepEqual(reply(call(r, 'dump_revoked')), ['a', 'b', 'c'])

    assert.deepEqual(reply(call(r, 'add_consumer', {queue: 'q2', exchange: 'ex2', exchange_type: 'topic', routing_key: 'rk.#'})), {ok: 'add consumer q2'})
    assert.deepEqual(reply(call(r, 'cancel_consumer', {queue: 'celery'})), {ok: 'no longer consuming from celery'})
    const queues = reply(call(r, 'active_queues')) as {name: string; routing_key: string; exchange: {name: string; type: string}}[]
    assert.deepEqual(queues.map((q) => [q.name, q.exchange.name, q.exchange.type, q.routing_key]), [['q2', 'ex2', 'topic', 'rk.#']])
    assert.deepEqual(reply(call(r, 'active_queues', {x: 1})), {error: `TypeError("active_queues() got an unexpected keyword argument 'x'")`})

    assert.deepEqual(reply(call(r, 'rate_limit', {task_name: 't.add', rate_limit: '5/s'})), {ok: 'new rate limit set successfully'})
    assert.deepEqual(reply(call(r, 'registered')), ['t.add [rate_limit=5/s]', 't.sleepy'])
    assert.ok((reply(call(r, 'registered', {builtins: true})) as string[]).includes('celery.chord'))
    assert.deepEqual(reply(call(r, 'rate_limit', {task_name: 't.add', rate_limit: null})), {ok: 'rate limit disabled successfully'})
    assert.deepEqual(reply(call(r, 'time_limit', {task_name: 't.add', soft: 10, hard: 20})), {ok: 'time limits set successfully'})
    assert.deepEqual(reply(call(r, 'registered', {taskinfoitems: ['time_limit']})), ['t.add [time_limit=20]', 't.sleepy'])

    assert.deepEqual(reply(call(r, 'enable_events')), {ok: 'task events enabled'})
    assert.deepEqual(reply(call(r, 'enable_events')), {ok: 'task events already enabled'})
    assert.deepEqual(reply(call(r, 'disable_events')), {ok: 'task events disabled'})
    assert.deepEqual(reply(call(r, 'disable_events')), {ok: 'task events already disabled'})

    assert.equal(reply(call(r, 'hello', {from_node: 'w1@vm'})), null, 'no hello to itself')
    const hello = reply(call(r, 'hello', {from_node: 'w2@vm', revoked: {z: [1e12, 'z']}})) as {revoked: Record<string, unknown>; clock: number}
    assert.deepEqual(hello.revoked.z, [1e12, 'z'])
    assert.equal(typeof hello.clock, 'number')
    assert.deepEqual(reply(call(r, 'query_task', {ids: ['a']})), {})
    for (const method of ['active', 'reserved', 'scheduled', 'dump_active']) assert.deepEqual(reply(call(r, method)), [])
    assert.match(reply(call(r, 'memsample')) as string, /^\d+(\.\d+)?(b|KB|MB|GB)$/)
    assert.match((reply(call(r, 'report')) as {ok: string}).ok, /transport:redis/)
    const conf = reply(call(r, 'conf')) as Record<string, unknown>
    assert.equal(conf.broker_url, 'redis://:********@127.0.0.1:6379/12', 'the password never leaves the process')
    assert.equal((reply(call(r, 'dump_conf', {with_defaults: true})) as Record<string, unknown>).task_serializer, 'json')
  })

  test('heartbeat, shutdown and election', () => {
    const r = new WorkerResponder('w1@vm', profile)
    const beat = call(r, 'heartbeat')
    assert.equal(reply(beat), null)
    const [event] = (beat as unknown as {events: Record<string, unknown>[]}).events
    for (const field of ['type', 'hostname', 'timestamp', 'clock', 'utcoffset', 'pid', 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys']) {
      assert.ok(event[field] !== undefined && event[field] !== null, `heartbeat event has ${field}`)
    }
    assert.equal(event.type, 'worker-heartbeat')
    assert.equal(event.freq, 5)
    assert.deepEqual(call(r, 'shutdown', {msg: 'bye'}), {kind: 'shutdown', message: 'bye'})
    assert.deepEqual(call(r, 'election', {id: 'x', topic: 'y'}), {kind: 'ignored'})
  })

  test('a service adds its own commands, with or without a Python signature', () => {
    const custom = workerProfile({
      broker: parseBrokerUrl('redis://127.0.0.1:6379/12'),
      namespace: {controlExchange: 'celery', redisKeyPrefix: ''},
      handlers: {
        drain: (args, ctx) => ({ok: `${ctx.node} drains ${String(args.queue)}`}),
        strict: {signature: {required: ['level'], kwargs: false}, run: (args) => args.level},
        ping: () => ({ok: 'pong from a service'}),
      },
    })
    const r = new WorkerResponder('svc@vm', custom)
    assert.deepEqual(reply(call(r, 'drain', {queue: 'q1'})), {ok: 'svc@vm drains q1'})
    assert.deepEqual(reply(call(r, 'strict')), {error: `TypeError("strict() missing 1 required positional argument: 'level'")`})
    assert.equal(reply(call(r, 'strict', {level: 3})), 3)
    assert.deepEqual(reply(call(r, 'ping')), {ok: 'pong from a service'})
  })

  test('autoscale changes the pool that stats report; pool_grow is refused then', () => {
    const scaled = workerProfile({broker: parseBrokerUrl('amqp://guest:guest@127.0.0.1:5672/v'), namespace: {controlExchange: 'celery', redisKeyPrefix: ''}, autoscale: {max: 4, min: 2}})
    const r = new WorkerResponder('w1@vm', scaled)
    assert.deepEqual(reply(call(r, 'autoscale', {max: 6, min: 3})), {ok: 'autoscale now max=6 min=3'})
    assert.deepEqual(reply(call(r, 'pool_grow')), {error: 'pool_grow is not supported with autoscale. Adjust autoscale range instead.'})
    const stats = reply(call(r, 'stats')) as {pool: Record<string, unknown>; autoscaler: unknown; prefetch_count: number; broker: Record<string, unknown>}
    assert.equal(stats.pool['max-concurrency'], 6)
    assert.deepEqual(stats.autoscaler, {max: 6, min: 3, current: 3, qty: 0})
    assert.equal(stats.prefetch_count, 24)
    assert.equal(stats.broker.transport, 'amqp')
    assert.equal(stats.broker.virtual_host, 'v')
  })
})

describe('Redis: simulated workers among real Celery clients and workers', {timeout: 600_000}, () => {
  const DB = 12
  const prefix = `wfctl-agent-${token()}:`
  const url = redisUrl(DB)
  let redis: Redis
  const run = (args: string[]) => celery(args, {broker: url, keyPrefix: prefix})
  const member = (node: string) => `${SEP}${SEP}${node}.celery.pidbox`

  before(() => {
    redis = redisClient(DB)
  })

  after(async () => {
    // Tidy what the real workers left under this file's prefix (task queue bindings); the fleets' own
    // leftovers are checked by each test.
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
  })

  test('real `celery inspect`, `status` and `control` list and drive the simulated workers', async () => {
    const tag = token()
    const stopped: string[] = []
    const fleet = new SimulatedFleet()
    await fleet.start({
      brokerUrl: url,
      redisKeyPrefix: prefix,
      workers: 3,
      namePrefix: `s${tag}-`,
      hostname: HOST,
      queues: ['celery', 'extra'],
      tasks: ['wfctl_tasks.add', 'wfctl_tasks.sleepy'],
      concurrency: 2,
      onStopped: (node) => stopped.push(node),
    })
    try {
      const [n1, n2, n3] = fleet.nodes
      assert.deepEqual((await redis.smembers(`${prefix}_kombu.binding.celery.pidbox`)).sort(), fleet.nodes.map(member).sort(), 'registered as real workers register')

      const ping = await run(['inspect', 'ping', '-j'])
      assert.equal(ping.code, 0, ping.stderr)
      assert.deepEqual(celeryJson(ping.stdout), {[n1]: {ok: 'pong'}, [n2]: {ok: 'pong'}, [n3]: {ok: 'pong'}})
      const status = await run(['status'])
      assert.match(status.stdout, /3 nodes online\./)
      for (const node of fleet.nodes) assert.ok(status.stdout.includes(`->  ${node}: OK`), status.stdout)

      const stats = celeryJson((await run(['inspect', 'stats', '-j', '-d', n1])).stdout)[n1] as Record<string, any>
      assert.equal(typeof stats.clock, 'string')
      assert.equal(stats.pid, process.pid)
      assert.equal(stats.pool['max-concurrency'], 2)
      assert.equal(stats.prefetch_count, 8)
      assert.deepEqual([stats.broker.transport, stats.broker.virtual_host, stats.broker.transport_options], ['redis', '12', {global_keyprefix: prefix}])

      assert.deepEqual(celeryJson((await run(['control', 'pool_grow', '2', '-j', '-d', n1])).stdout), {[n1]: {ok: 'pool will grow'}})
      const after = celeryJson((await run(['inspect', 'stats', '-j'])).stdout) as Record<string, any>
      assert.deepEqual(fleet.nodes.map((n) => after[n].pool['max-concurrency']), [4, 2, 2])

      await run(['control', 'add_consumer', 'q9', '-d', n1])
      await run(['control', 'cancel_consumer', 'extra', '-d', n1])
      const queues = celeryJson((await run(['inspect', 'active_queues', '-j', '-d', n1])).stdout)[n1] as {name: string}[]
      assert.deepEqual(queues.map((q) => q.name), ['celery', 'q9'])

      const revoke = celeryJson((await run(['control', 'revoke', 'id-a', 'id-b', '-j'])).stdout)
      assert.deepEqual(Object.keys(revoke).sort(), [...fleet.nodes].sort())
      assert.deepEqual((celeryJson((await run(['inspect', 'revoked', '-j', '-d', n2])).stdout)[n2] as string[]).sort(), ['id-a', 'id-b'])

      assert.deepEqual(celeryJson((await run(['control', 'rate_limit', 'wfctl_tasks.add', '5/s', '-j', '-d', n3])).stdout), {[n3]: {ok: 'new rate limit set successfully'}})
      assert.deepEqual(celeryJson((await run(['inspect', 'registered', '-j', '-d', n3])).stdout), {[n3]: ['wfctl_tasks.add [rate_limit=5/s]', 'wfctl_tasks.sleepy']})
      assert.equal(typeof (celeryJson((await run(['inspect', 'clock', '-j', '-d', n1])).stdout)[n1] as {clock: unknown}).clock, 'number')

      // shutdown never replies (the CLI exits 69) and stops exactly the addressed node.
      const shutdown = await run(['control', 'shutdown', '-d', n2])
      assert.equal(shutdown.code, 69, shutdown.stderr)
      await poll(() => stopped, (s) => s.length > 0, 3000)
      assert.deepEqual(stopped, [n2])
      assert.deepEqual(fleet.nodes, [n1, n3])
      assert.ok(!(await redis.smembers(`${prefix}_kombu.binding.celery.pidbox`)).includes(member(n2)), 'its mailbox binding went with it')
      assert.deepEqual(Object.keys(celeryJson((await run(['inspect', 'ping', '-j'])).stdout)).sort(), [n1, n3].sort())

      // A broadcast shutdown stops the rest: the fleet is done by itself.
      await run(['control', 'shutdown'])
      await fleet.done()
      assert.deepEqual(stopped.sort(), [n1, n2, n3].sort())
    } finally {
      await fleet.stop()
    }
    assert.deepEqual(await keysLeft(redis, prefix), [], 'nothing left under the prefix')
    assert.equal(await agentConnections(redis), 0, 'every connection closed')
  })

  test('wfctl\'s client and hand-made requests: filtering, casts, errors, mingle', async () => {
    const tag = token()
    const [a, b, bx, c] = [`a${tag}@${HOST}`, `b${tag}@${HOST}`, `b${tag}x@${HOST}`, `c${tag}@elsewhere`]
    const fleet = new SimulatedFleet()
    await fleet.start({brokerUrl: url, redisKeyPrefix: prefix, nodes: [a, b, bx, c], concurrency: 1})
    const session = await openSession(url, prefix)
    try {
      const nodesOf = async (req: Parameters<typeof session.mailbox.call>[0]) => (await session.mailbox.call(req)).replies.map((r) => r.node).sort()
      assert.deepEqual(await nodesOf({method: 'ping', timeoutMs: 600}), [a, b, bx, c].sort())
      assert.deepEqual(await nodesOf({method: 'ping', pattern: `b${tag}*`, matcher: 'glob', timeoutMs: 600}), [b, bx].sort())
      assert.deepEqual(await nodesOf({method: 'ping', pattern: `b${tag}x`, matcher: 'pcre', timeoutMs: 600}), [bx])
      assert.deepEqual(await nodesOf({method: 'ping', pattern: `@${HOST}`, matcher: 'pcre', timeoutMs: 600}), [])
      assert.deepEqual(await nodesOf({method: 'ping', destination: [c, `ghost${tag}@nowhere`], timeoutMs: 600}), [c])

      const unknown = await session.mailbox.call({method: 'nosuchcmd', destination: [a], timeoutMs: 600})
      assert.deepEqual(unknown.replies.map((r) => r.payload), [{error: "KeyError('nosuchcmd')"}])
      const typeError = await session.mailbox.call({method: 'heartbeat', args: {now: true}, destination: [a], timeoutMs: 600})
      assert.deepEqual(typeError.replies.map((r) => r.payload), [{error: `TypeError("heartbeat() got an unexpected keyword argument 'now'")`}])

      // What wfctl refuses to build, but other clients may send.
      assert.deepEqual((await rawCall(session, {method: 'ping', destination: `zz${a}zz`})).map((r) => r.node), [a], 'string destination: substring')
      assert.deepEqual((await rawCall(session, {method: 7, destination: [a]})).map((r) => r.payload), [{error: 'KeyError(7)'}])
      assert.deepEqual(await rawCall(session, {method: 'ping', pattern: 'a*', matcher: 'regex'}), [], 'an unknown matcher: nobody runs it')
      assert.deepEqual(await rawCall(session, {method: 'election', arguments: {id: 'x', topic: 'y', action: null}}), [], 'election is never answered')
      assert.equal((await nodesOf({method: 'ping', timeoutMs: 600})).length, 4, 'still listening after all that')

      // A cast is run, and not answered.
      await rawCast(session, {method: 'revoke', arguments: {task_id: `t${tag}`, terminate: false, signal: 'SIGTERM'}})
      await sleep(200)
      const revoked = await session.mailbox.call({method: 'revoked', timeoutMs: 600})
      for (const r of revoked.replies) assert.deepEqual(r.payload, [`t${tag}`])

      // Mingle: a starting worker's hello is answered with the revoked ids; a node does not answer its own.
      const hello = await session.mailbox.call({method: 'hello', args: {from_node: a, revoked: {}}, timeoutMs: 600})
      assert.deepEqual(hello.replies.map((r) => r.node).sort(), [a, b, bx, c].sort())
      const own = hello.replies.find((r) => r.node === a)!
      assert.equal(own.payload, null)
      const other = hello.replies.find((r) => r.node === b)!.payload as {revoked: Record<string, [number, string]>; clock: number}
      assert.deepEqual(Object.keys(other.revoked), [`t${tag}`])
    } finally {
      await session.close()
      await fleet.stop()
    }
    assert.deepEqual(await keysLeft(redis, prefix), [], 'nothing left under the prefix')
    assert.equal(await agentConnections(redis), 0)
  })

  test('a custom control exchange is heard by clients of that exchange only', async () => {
    const tag = token()
    const exchange = `agx${tag}`
    const fleet = new SimulatedFleet()
    try {
      await fleet.start({brokerUrl: url, redisKeyPrefix: prefix, controlExchange: exchange, workers: 2, namePrefix: `x${tag}-`, hostname: HOST})
      const ours = await celery(['inspect', 'ping', '-j'], {broker: url, keyPrefix: prefix, controlExchange: exchange})
      assert.deepEqual(Object.keys(celeryJson(ours.stdout)).sort(), [...fleet.nodes].sort(), ours.stderr)
      assert.deepEqual((await redis.smembers(`${prefix}_kombu.binding.${exchange}.pidbox`)).sort(), fleet.nodes.map((n) => `${SEP}${SEP}${n}.${exchange}.pidbox`).sort())
      const others = await run(['inspect', 'ping', '-j'])
      assert.equal(others.code, 69, 'the default exchange does not reach them')
    } finally {
      await fleet.stop()
    }
    assert.deepEqual(await keysLeft(redis, prefix), [], 'nothing left under the prefix')
  })

  test('events: online, heartbeats, offline, read by a monitor and by a real worker\'s mingle and gossip', async () => {
    const tag = token()
    const monitor = redisClient(DB)
    const events: {channel: string; envelope: Record<string, any>; body: Record<string, any>}[] = []
    await monitor.psubscribe(`${prefix}/${DB}.celeryev/*`)
    monitor.on('pmessage', (_p: string, channel: string, raw: string) => {
      const decoded = decodeEnvelope(raw, 0)
      if (typeof decoded === 'string') return
      events.push({channel, envelope: JSON.parse(raw), body: JSON.parse(decoded.body.toString())})
    })
    const fleet = new SimulatedFleet()
    let real: Worker | undefined
    try {
      await fleet.start({brokerUrl: url, redisKeyPrefix: prefix, workers: 2, namePrefix: `e${tag}-`, hostname: HOST, heartbeatSeconds: 0.5})
      const [n1, n2] = fleet.nodes
      // Starts after the fleet: its mingle asks them hello; its gossip consumes their events.
      real = await startFullWorker({broker: url, keyPrefix: prefix})
      assert.match(real.log(), /mingle: sync with 2 nodes/)
      await run(['control', 'heartbeat', '-d', n1])
      await sleep(1500)
      await fleet.stop()
      await sleep(300)

      const of = (node: string, type: string) => events.filter((e) => e.body.hostname === node && e.body.type === type)
      for (const node of [n1, n2]) {
        assert.equal(of(node, 'worker-online').length, 1, `${node} came online`)
        assert.ok(of(node, 'worker-heartbeat').length >= 3, `${node} beat every 0.5 s`)
        assert.equal(of(node, 'worker-offline').length, 1, `${node} said goodbye`)
      }
      assert.ok(of(n1, 'worker-heartbeat').some((e) => e.body.freq === 5), 'the heartbeat command sends one with freq 5')
      for (const {channel, envelope, body} of events.filter((e) => e.body.hostname === n1)) {
        const routingKey = body.type.replace(/-/g, '.')
        assert.equal(channel, `${prefix}/${DB}.celeryev/${routingKey}`)
        assert.deepEqual(envelope.properties.delivery_info, {exchange: 'celeryev', routing_key: routingKey})
        assert.equal(typeof envelope.properties.delivery_tag, 'string')
        assert.equal(envelope.headers.hostname, n1)
        for (const field of ['type', 'hostname', 'timestamp', 'clock', 'utcoffset', 'pid', 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys']) {
          assert.ok(body[field] !== undefined && body[field] !== null, `${body.type} has ${field}`)
        }
      }
      // The real worker digested all of it and still answers.
      const ping = await run(['inspect', 'ping', '-j', '-d', real.node])
      assert.deepEqual(celeryJson(ping.stdout), {[real.node]: {ok: 'pong'}}, ping.stderr)
      assert.doesNotMatch(real.log(), /Unrecoverable|KeyError|Traceback/)
    } finally {
      await fleet.stop()
      await real?.stop()
      monitor.disconnect()
    }
    const members = await redis.smembers(`${prefix}_kombu.binding.celery.pidbox`)
    assert.deepEqual(members.filter((m) => m.includes(`e${tag}-`)), [], 'no simulated mailbox binding left')
    assert.deepEqual((await keysLeft(redis, prefix)).filter((k) => k.includes(`e${tag}-`)), [])
    assert.equal(await agentConnections(redis), 0)
  })

  test('`celery control shutdown -d` stops one simulated worker; a real worker beside them keeps answering', async () => {
    const tag = token()
    const stopped: string[] = []
    const fleet = new SimulatedFleet()
    let real: Worker | undefined
    try {
      real = await startWorker({broker: url, keyPrefix: prefix})
      await fleet.start({brokerUrl: url, redisKeyPrefix: prefix, workers: 3, namePrefix: `k${tag}-`, hostname: HOST, onStopped: (n) => stopped.push(n)})
      const [n1, n2, n3] = fleet.nodes
      assert.deepEqual(Object.keys(celeryJson((await run(['inspect', 'ping', '-j'])).stdout)).sort(), [real.node, n1, n2, n3].sort())
      await run(['control', 'shutdown', '-d', n2])
      await poll(() => stopped, (s) => s.length > 0, 3000)
      assert.deepEqual(stopped, [n2])
      assert.deepEqual(Object.keys(celeryJson((await run(['inspect', 'ping', '-j'])).stdout)).sort(), [real.node, n1, n3].sort())
      await fleet.stop()
      assert.deepEqual(celeryJson((await run(['inspect', 'ping', '-j'])).stdout), {[real.node]: {ok: 'pong'}})
      assert.equal(real.process.exitCode, null, 'the real worker still runs')
      const members = await redis.smembers(`${prefix}_kombu.binding.celery.pidbox`)
      assert.deepEqual(members, [member(real.node)], 'only the real worker\'s binding is left')
    } finally {
      await fleet.stop()
      await real?.stop()
    }
    assert.equal(await agentConnections(redis), 0)
  })
})

describe('Redis: 10,000 simulated workers in one process', {timeout: 600_000}, () => {
  const DB = 13
  const url = redisUrl(DB)
  const prefix = `wfctl-agent-10k-${token()}:`

  test('one broadcast ping is answered by all 10,000, through wfctl\'s client and the real celery CLI', async (t) => {
    const redis = redisClient(DB)
    const fleet = new SimulatedFleet()
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20)
    // Whatever fails, the connections close: a client left open would keep this file's process
    // alive, and the whole run would wait for it.
    try {
      const session = await openSession(url, prefix)
      try {
        const rssBefore = process.memoryUsage.rss()
        let started = performance.now()
        await fleet.start({brokerUrl: url, redisKeyPrefix: prefix, workers: 10_000, namePrefix: `m${token()}-`, hostname: HOST})
        const startMs = performance.now() - started
        const rssStarted = process.memoryUsage.rss()
        assert.equal(fleet.nodes.length, 10_000)
        assert.equal(await agentConnections(redis), 2, 'one command and one subscriber connection for the whole fleet')

        const result = await session.mailbox.call({method: 'ping', timeoutMs: 60_000, isComplete: (c) => c.replies.length >= 10_000})
        assert.equal(result.complete, true)
        assert.equal(new Set(result.replies.map((r) => r.node)).size, 10_000)
        assert.ok(result.replies.every((r) => (r.payload as {ok?: string}).ok === 'pong'))
        assert.equal(result.listeners, 1, 'one subscription serves the whole fleet')
        const rssAnswered = process.memoryUsage.rss()

        started = performance.now()
        // celery collects for the whole timeout (it has no limit): 10 s, because on a loaded machine the
        // fleet's first replies came after 3 s and celery said "No nodes replied".
        const cli = await celery(['inspect', 'ping', '-j', '-t', '10'], {broker: url, keyPrefix: prefix, timeoutMs: 180_000})
        const cliMs = performance.now() - started
        assert.equal(Object.keys(celeryJson(cli.stdout)).length, 10_000, cli.stderr.slice(-2000))

        started = performance.now()
        await fleet.stop()
        const stopMs = performance.now() - started
        t.diagnostic(`10,000 workers: start ${Math.round(startMs)} ms; wfctl Mailbox ping: all replies in ${result.elapsedMs} ms; ` +
          `celery inspect ping -t 10: ${Math.round(cliMs)} ms (the whole process, its 10 s timeout included); stop ${Math.round(stopMs)} ms; ` +
          `RSS ${mb(rssBefore)} MB before, ${mb(rssStarted)} MB started, ${mb(rssAnswered)} MB after the ping`)
      } finally {
        await session.close()
        await fleet.stop()
      }
      assert.deepEqual(await keysLeft(redis, prefix), [], 'nothing left under the prefix')
      assert.equal(await agentConnections(redis), 0)
    } finally {
      await fleet.stop()
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    }
  })
})

describe('RabbitMQ: simulated workers in a vhost of their own', {timeout: 600_000}, () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  const run = (args: string[]) => celery(args, {broker: vhost.url})
  const queues = async () =>
    (await rabbitctl('list_queues', '-p', vhost.name, 'name', 'durable', 'auto_delete', 'exclusive', 'arguments', 'consumers'))
      .split('\n').map((l) => l.trim().split('\t')).filter((f) => f.length > 1 && f[0] !== 'name')

  before(async () => {
    vhost = await createVhost('wfctl-agent')
  })

  after(async () => {
    await vhost.remove()
    assert.ok(!(await rabbitctl('list_vhosts', 'name')).split('\n').map((l) => l.trim()).includes(vhost.name), 'the vhost is gone')
  })

  test('Celery 5.2\'s declarations; real clients, a real worker, events, and shutdown of one node', async () => {
    const tag = token()
    const stopped: string[] = []
    const fleet = new SimulatedFleet()
    let real: Worker | undefined
    let monitorConnection: ChannelModel | undefined
    const events: {routingKey: string; headers: Record<string, unknown>; body: Record<string, any>}[] = []
    try {
      const amqp = await import('amqplib')
      monitorConnection = await amqp.connect(vhost.url)
      const monitor = await monitorConnection.createChannel()
      await monitor.assertExchange('celeryev', 'topic', {durable: true, autoDelete: false})
      const {queue} = await monitor.assertQueue('', {exclusive: true, autoDelete: true, arguments: {'x-message-ttl': 5000}})
      await monitor.bindQueue(queue, 'celeryev', '#')
      await monitor.consume(queue, (msg) => {
        if (msg) events.push({routingKey: msg.fields.routingKey, headers: msg.properties.headers ?? {}, body: JSON.parse(msg.content.toString())})
      }, {noAck: true})

      // The fleet first, in a fresh vhost: the real worker must accept what it declared.
      await fleet.start({brokerUrl: vhost.url, workers: 3, namePrefix: `r${tag}-`, hostname: HOST, heartbeatSeconds: 0.5, concurrency: 3, onStopped: (n) => stopped.push(n)})
      const [n1, n2, n3] = fleet.nodes
      real = await startWorker({broker: vhost.url})

      const mailboxes = (await queues()).filter((q) => q[0].endsWith('.celery.pidbox'))
      assert.deepEqual(mailboxes.map((q) => q[0]).sort(), [real.node, n1, n2, n3].map((n) => `${n}.celery.pidbox`).sort())
      for (const q of mailboxes) assert.deepEqual(q.slice(1), ['false', 'true', 'false', '[{"x-expires",10000},{"x-message-ttl",300000}]', '1'], `${q[0]} has Celery's flags`)

      const ping = await run(['inspect', 'ping', '-j'])
      assert.deepEqual(Object.keys(celeryJson(ping.stdout)).sort(), [real.node, n1, n2, n3].sort(), ping.stderr)
      const stats = celeryJson((await run(['inspect', 'stats', '-j', '-d', n1])).stdout)[n1] as Record<string, any>
      assert.deepEqual([stats.broker.transport, stats.broker.virtual_host, stats.pool['max-concurrency'], typeof stats.clock], ['amqp', vhost.name, 3, 'string'])
      const exchanges = (await rabbitctl('list_exchanges', '-p', vhost.name, 'name', 'type', 'durable', 'auto_delete')).split('\n').map((l) => l.trim())
      for (const e of ['celery.pidbox\tfanout\tfalse\tfalse', 'reply.celery.pidbox\tdirect\tfalse\tfalse', 'celeryev\ttopic\ttrue\tfalse']) assert.ok(exchanges.includes(e), `${e} in\n${exchanges.join('\n')}`)

      // A node name already listening is refused, and the refusal leaves the real worker's mailbox alone.
      const twin = new SimulatedFleet()
      await assert.rejects(twin.start({brokerUrl: vhost.url, nodes: [real.node]}), /already using this mailbox/)
      await twin.stop()

      await run(['control', 'shutdown', '-d', n2])
      await poll(() => stopped, (s) => s.length > 0, 3000)
      assert.deepEqual(stopped, [n2])
      const gone = await poll(queues, (qs) => !qs.some((q) => q[0] === `${n2}.celery.pidbox`), 5000)
      assert.ok(!gone.some((q) => q[0] === `${n2}.celery.pidbox`), 'its mailbox queue went with it')
      assert.deepEqual(Object.keys(celeryJson((await run(['inspect', 'ping', '-j'])).stdout)).sort(), [real.node, n1, n3].sort())

      await fleet.stop()
      await sleep(300)
      assert.deepEqual(celeryJson((await run(['inspect', 'ping', '-j'])).stdout), {[real.node]: {ok: 'pong'}})
      assert.deepEqual((await queues()).filter((q) => q[0].includes(`r${tag}-`)), [], 'no simulated mailbox left')

      for (const node of [n1, n2, n3]) {
        const mine = events.filter((e) => e.body.hostname === node)
        assert.equal(mine.filter((e) => e.body.type === 'worker-online').length, 1)
        assert.ok(mine.some((e) => e.body.type === 'worker-heartbeat'))
        assert.equal(mine.filter((e) => e.body.type === 'worker-offline').length, 1, `${node} said goodbye`)
        for (const e of mine) {
          assert.equal(e.routingKey, e.body.type.replace(/-/g, '.'))
          assert.equal(e.headers.hostname, node)
        }
      }
    } finally {
      await fleet.stop()
      await real?.stop()
      await monitorConnection?.close()
    }
  })

  test('a dropped connection stops the fleet: done() rejects, and RabbitMQ deletes the mailboxes', async () => {
    const tag = token()
    const stopped: [string, string][] = []
    const fleet = new SimulatedFleet()
    try {
      await fleet.start({brokerUrl: vhost.url, workers: 2, namePrefix: `f${tag}-`, hostname: HOST, onStopped: (n, why) => stopped.push([n, why])})
      const done = assert.rejects(fleet.done(), /lost the connection|closed/)
      await rabbitctl('close_all_connections', '-p', vhost.name, 'wfctl agent test')
      await done
      assert.deepEqual(stopped.map(([, why]) => why), ['failure', 'failure'])
      assert.deepEqual(fleet.nodes, [])
    } finally {
      await fleet.stop()
    }
    const left = await poll(queues, (qs) => !qs.some((q) => q[0].includes(`f${tag}-`)), 5000)
    assert.deepEqual(left.filter((q) => q[0].includes(`f${tag}-`)), [])
  })
})
