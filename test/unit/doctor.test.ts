// The doctor's analysis: facts in, findings out (no broker).
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {diagnose, poolOf, type DoctorFacts} from '../../src/fleet/doctor.js'
import {fixFlags, rankElsewhere, withDb} from '../../src/fleet/fix-flags.js'
import type {RedisFacts} from '../../src/wire/doctor.js'

const redis = (over: Partial<RedisFacts> = {}): RedisFacts => ({
  kind: 'redis', databases: [0, 1], namespaces: [], patternSubscriptions: 1, patternSubscribersByDb: {1: 1}, subscribedChannels: [], leftovers: [], problems: [], ...over,
})
const facts = (over: Partial<DoctorFacts> = {}): DoctorFacts => ({
  source: {from: 'default', masked: 'redis://:****@cache:6379/0'}, kind: 'redis', address: 'channel /0.celery.pidbox', db: 0, prefix: '', controlExchange: 'celery',
  stats: {replies: {}, listeners: 0, errors: {}}, heartbeats: [], broker: redis(), windowMs: 2500, ...over,
})

test('the fix flags name only what differs, with the masked URL', () => {
  assert.equal(withDb('redis://:****@cache:6379/0?ssl_cert_reqs=none', 3), 'redis://:****@cache:6379/3?ssl_cert_reqs=none')
  assert.equal(withDb('redis://cache', 2), 'redis://cache/2')
  const from = {masked: 'redis://cache:6379/0', db: 0, prefix: '', controlExchange: 'celery'}
  assert.equal(fixFlags(from, {db: 1, prefix: '', controlExchange: 'celery'}), '-b redis://cache:6379/1')
  assert.equal(fixFlags(from, {db: 0, prefix: 'airflow:', controlExchange: 'af'}), '--redis-key-prefix airflow: --control-exchange af')
  assert.equal(fixFlags({...from, prefix: 'x'}, {db: 0, prefix: '', controlExchange: 'celery'}), "--redis-key-prefix ''")
})

test('the "nobody listens" hint names the likeliest mistake first: live, then fewest flags away, then most mailboxes', () => {
  const from = {db: 3, prefix: 'app:', controlExchange: 'ops'}
  const at = (db: number, prefix: string, controlExchange: string, mailboxes: number, live: boolean | null) => ({channel: `${prefix}/${db}.${controlExchange}.pidbox`, db, prefix, controlExchange, mailboxes, live})
  const otherFleet = at(14, '', 'celery', 50, true)
  const ours = at(4, 'app:', 'ops', 1, true)
  const stale = at(3, 'app:', 'celery', 9, false)
  assert.deepEqual(rankElsewhere(from, [otherFleet, stale, ours]).map((f) => f.channel), [ours.channel, otherFleet.channel, stale.channel])
  // Equally far: the bigger fleet first; a broker that would not say who is live counts as not live.
  const big = at(5, 'app:', 'ops', 7, null)
  assert.deepEqual(rankElsewhere(from, [ours, big]).map((f) => f.channel), [ours.channel, big.channel])
  assert.deepEqual(rankElsewhere(from, [at(5, 'app:', 'ops', 7, true), ours]).map((f) => f.db), [5, 4])
})

test('nobody listens here, a worker has its mailbox in DB 1: a problem naming it, with -b', () => {
  const r = diagnose(facts({broker: redis({namespaces: [{db: 1, prefix: '', controlExchange: 'celery', channel: '/1.celery.pidbox', mailboxes: ['w1@h'], subscribers: 0}]})}))
  assert.equal(r.ok, false)
  const f = r.findings.find((x) => x.code === 'wrong-namespace')
  assert.match(f!.message, /\/1\.celery\.pidbox/)
  assert.equal(f!.fix, "-b 'redis://:****@cache:6379/1'")
})

test('nothing anywhere: no mailboxes at all; heartbeats without a mailbox: remote control disabled', () => {
  const r = diagnose(facts({heartbeats: [{hostname: 'w9@h', timestamp: Date.now() / 1000, receivedAtMs: Date.now(), db: 0, prefix: '', swVer: '5.2.6'}], broker: redis({databases: [0]})}))
  assert.ok(r.findings.some((f) => f.code === 'no-mailboxes'))
  assert.ok(r.findings.some((f) => f.code === 'no-mailbox' && f.message.includes('w9@h')))
})

test('a healthy fleet is ok; solo pool and a single version are information only', () => {
  const now = Date.now()
  const stats = {'w1@h': {pid: 7, pool: {processes: [7], 'max-concurrency': 1}}}
  const r = diagnose(facts({
    stats: {replies: stats, listeners: 1, errors: {}},
    heartbeats: [{hostname: 'w1@h', timestamp: now / 1000, receivedAtMs: now, db: 0, prefix: '', swVer: '5.2.6'}],
    broker: redis({namespaces: [{db: 0, prefix: '', controlExchange: 'celery', channel: '/0.celery.pidbox', mailboxes: ['w1@h'], subscribers: 0}]}),
  }))
  assert.equal(r.ok, true, JSON.stringify(r.findings))
  assert.ok(r.findings.some((f) => f.code === 'solo-pool'))
  assert.equal(poolOf({pid: 7, pool: {implementation: 'celery.concurrency.prefork:TaskPool'}}), 'celery.concurrency.prefork:TaskPool')
})

test('clock skew beyond Celery\'s drift limit, mixed versions, leftovers with the namespace to fix', () => {
  const now = Date.now()
  const r = diagnose(facts({
    stats: {replies: {'a@h': {}, 'b@h': {}}, listeners: 2, errors: {}},
    heartbeats: [
      {hostname: 'a@h', timestamp: now / 1000 + 60, receivedAtMs: now, db: 0, prefix: '', swVer: '5.2.6'},
      {hostname: 'b@h', timestamp: now / 1000, receivedAtMs: now, db: 0, prefix: '', swVer: '5.3.1'},
    ],
    broker: redis({leftovers: [
      {db: 0, prefix: '', controlExchange: 'celery', bindingKey: '_kombu.binding.reply.celery.pidbox', member: 'x', oid: 'x', lists: [{key: 'x.reply.celery.pidbox', length: 3}]},
      {db: 2, prefix: 'p:', controlExchange: 'celery', bindingKey: 'p:_kombu.binding.reply.celery.pidbox', oid: 'y', lists: []},
    ]}),
  }))
  assert.ok(r.findings.some((f) => f.code === 'clock-skew' && f.message.includes('a@h') && f.message.includes('ahead')))
  assert.ok(r.findings.some((f) => f.code === 'mixed-versions'))
  const left = r.findings.filter((f) => f.code === 'reply-leftovers')
  assert.deepEqual(left.map((f) => f.fix), ['--fix', "-b 'redis://:****@cache:6379/2' --redis-key-prefix p: --fix"])
  assert.equal(r.leftovers.unreadReplies, 3)
})

test('RabbitMQ: a missing pidbox exchange, a mailbox with no consumer', () => {
  const r = diagnose(facts({kind: 'amqp', broker: {kind: 'amqp', vhost: '/', controlExchange: 'celery', controlExchangeExists: false, eventExchangeExists: true, mailboxes: [{node: 'w@h', queue: 'w@h.celery.pidbox', exists: true, consumers: 0, messages: 0}], problems: []}}))
  assert.ok(r.findings.some((f) => f.code === 'no-control-exchange'))
  assert.ok(r.findings.some((f) => f.code === 'mailbox-without-consumer'))
})
