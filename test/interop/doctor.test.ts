// `wfctl doctor` against real Celery 5.2 workers: on Redis it names the database where the worker's
// mailbox is (with the exact flags), finds a reply route left behind and --fix removes it while a real
// celery client keeps working; on RabbitMQ it checks the pidbox exchange and the worker's mailbox queue.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {createVhost, deleteKeysWithPrefix, redisClient, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl} from '../helpers/cli.js'

const SEP = '\x06\x16'
const WORKER_DB = 3
const WRONG_DB = 4

describe('wfctl doctor on Redis', () => {
  const prefix = `wfctl-doctor-${token()}:`
  const ce = `doc${token()}`
  const redis = redisClient(WORKER_DB)
  let worker: Worker
  const flags = (db: number) => ['-b', redisUrl(db), '--redis-key-prefix', prefix, '--control-exchange', ce]

  before(async () => {
    worker = await startWorker({broker: redisUrl(WORKER_DB), keyPrefix: prefix, controlExchange: ce, keep: {heartbeat: 1}})
  })
  after(async () => {
    await worker?.stop()
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
  })

  test('pointed at the wrong database, it names the worker\'s database and the -b that reaches it', async () => {
    const run = await runWfctl(['doctor', ...flags(WRONG_DB), '--json', '--window', '2.5'])
    assert.equal(run.code, 1, run.stderr)
    const report = json(run)
    assert.equal(report.broker.from, 'flag')
    const finding = report.findings.find((f: {code: string; message: string}) => f.code === 'wrong-namespace' && f.message.includes(`${prefix}/${WORKER_DB}.${ce}.pidbox`))
    assert.ok(finding, JSON.stringify(report.findings, null, 2))
    assert.equal(finding.fix, `-b ${redisUrl(WORKER_DB)}`)
    const node = report.nodes.find((n: {node: string}) => n.node === worker.node)
    assert.ok(node?.heartbeat, 'the worker is heard in heartbeats')
    assert.equal(node.heartbeat.db, WORKER_DB)
    assert.equal(node.heartbeat.version, '5.2.6')
  })

  test('every command\'s "nobody listens" hint names the channel workers listen on', async () => {
    const run = await runWfctl(['status', ...flags(WRONG_DB)])
    assert.equal(run.code, 69)
    assert.match(run.stderr, new RegExp(`workers listen on ${prefix.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}/${WORKER_DB}\\.${ce}\\.pidbox.*try -b ${redisUrl(WORKER_DB).replace(/[./]/g, '\\$&')}`))
  })

  test('pointed at the right one: the worker answered, solo pool noted; a left-behind reply route is found, --fix removes only it, and a celery client keeps working', async () => {
    const oid = `orphan-${token()}`
    const bindingKey = `${prefix}_kombu.binding.reply.${ce}.pidbox`
    const member = `${oid}${SEP}${SEP}${oid}.reply.${ce}.pidbox`
    const list = `${prefix}${oid}.reply.${ce}.pidbox`
    await redis.sadd(bindingKey, member)
    await redis.lpush(list, '{"stale": "reply"}')
    const celeryOpts = {broker: redisUrl(WORKER_DB), keyPrefix: prefix, controlExchange: ce}
    const before = await celery(['inspect', 'ping', '-d', worker.node, '-t', '5'], celeryOpts)
    assert.equal(before.code, 0, before.stderr + before.stdout)

    const look = await runWfctl(['doctor', ...flags(WORKER_DB), '--json', '--window', '2.5'])
    const report = json(look)
    assert.equal(look.code, 1, look.stderr)
    const node = report.nodes.find((n: {node: string}) => n.node === worker.node)
    assert.equal(node?.replied, true, JSON.stringify(report.nodes))
    assert.match(node.pool, /solo/)
    assert.ok(report.findings.some((f: {code: string}) => f.code === 'reply-leftovers'), JSON.stringify(report.findings))
    assert.ok(!report.findings.some((f: {code: string}) => f.code === 'wrong-namespace' || f.code === 'no-mailboxes'), JSON.stringify(report.findings))

    const fix = await runWfctl(['doctor', ...flags(WORKER_DB), '--fix', '--json', '--window', '1'])
    assert.ok(json(fix).fixed.removedMembers >= 1, fix.stdout)
    assert.equal(await redis.sismember(bindingKey, member), 0, 'the orphaned member is gone')
    assert.equal(await redis.exists(list), 0, 'its reply list is gone')
    const mailboxes = await redis.smembers(`${prefix}_kombu.binding.${ce}.pidbox`)
    assert.ok(mailboxes.some((m) => m.endsWith(`${worker.node}.${ce}.pidbox`)), 'the worker\'s mailbox binding stays')

    const afterFix = await celery(['inspect', 'ping', '-d', worker.node, '-t', '5'], celeryOpts)
    assert.equal(afterFix.code, 0, afterFix.stderr + afterFix.stdout)
    assert.match(afterFix.stdout, /pong/)
  })
})

describe('wfctl doctor on RabbitMQ', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let worker: Worker
  const ce = `doc${token()}`

  before(async () => {
    vhost = await createVhost('wfctl-doctor')
    worker = await startWorker({broker: vhost.url, controlExchange: ce, keep: {heartbeat: 1}})
  })
  after(async () => {
    await worker?.stop()
    await vhost?.remove()
  })

  test('the right control exchange: the mailbox queue has its consumer, the heartbeat is heard', async () => {
    const run = await runWfctl(['doctor', '-b', vhost.url, '--control-exchange', ce, '--json', '--window', '2.5'])
    const report = json(run)
    const node = report.nodes.find((n: {node: string}) => n.node === worker.node)
    assert.equal(node?.replied, true, JSON.stringify(report))
    assert.equal(node.mailbox, true)
    assert.equal(node.mailboxConsumers, 1)
    assert.ok(node.heartbeat, 'heard in heartbeats')
    assert.ok(!report.findings.some((f: {severity: string}) => f.severity === 'problem'), JSON.stringify(report.findings))
    assert.ok(!run.stdout.includes('guest:guest'), 'the password is masked')
  })

  test('another control exchange: the pidbox exchange is missing, and the worker is heard without a mailbox there', async () => {
    const run = await runWfctl(['doctor', '-b', vhost.url, '--control-exchange', `${ce}x`, '--json', '--window', '2.5'])
    assert.equal(run.code, 1, run.stderr)
    const report = json(run)
    assert.ok(report.findings.some((f: {code: string}) => f.code === 'no-control-exchange'), JSON.stringify(report.findings))
    assert.ok(report.findings.some((f: {code: string; message: string}) => f.code === 'no-mailbox' && f.message.includes(worker.node)), JSON.stringify(report.findings))
  })
})
