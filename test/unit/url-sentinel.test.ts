// Sentinel URLs and failover lists: parsed as kombu reads them, masked in every URL of a list.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {maskArgv, maskSecrets, maskUrl, parseBrokerUrl, parseBrokerUrls, sentinelMasterProblem} from '../../src/broker/url.ts'
import {redisNames} from '../../src/broker/redis.ts'
import {UsageError} from '../../src/errors.ts'

const refusal = (raw: string): string => {
  try {
    parseBrokerUrls(raw)
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error))
    assert.equal(error.exitCode, 2)
    return error.message
  }
  return 'parsed'
}

test('sentinel://: a Redis broker reached through its sentinels, port 26379 by default', () => {
  const one = parseBrokerUrl('sentinel://:Mpw-1@s1.internal/2')
  assert.equal(one.kind, 'redis')
  assert.equal(one.scheme, 'sentinel')
  assert.equal(one.tls, false)
  assert.deepEqual(one.sentinels, [{host: 's1.internal', port: 26379}])
  assert.equal(one.host, 's1.internal')
  assert.equal(one.port, 26379)
  assert.equal(one.db, 2)
  assert.equal(one.password, 'Mpw-1')
  assert.equal(one.masked, 'sentinel://:****@s1.internal/2')
  assert.deepEqual(parseBrokerUrls('SENTINEL://h:26380').map((u) => [u.scheme, u.port, u.db, u.sentinels]), [['sentinel', 26380, 0, [{host: 'h', port: 26380}]]])
})

test('a ";" list of sentinels is ONE broker; its password, user and database are the first URL\'s, as kombu reads them', () => {
  const raw = 'sentinel://u:Mpw-2@127.0.0.1:26379/3;sentinel://:Other-3@[::1]:26380;sentinel://s3/7'
  const urls = parseBrokerUrls(raw)
  assert.equal(urls.length, 1)
  const [u] = urls
  assert.deepEqual(u.sentinels, [{host: '127.0.0.1', port: 26379}, {host: '::1', port: 26380}, {host: 's3', port: 26379}])
  assert.equal(u.db, 3)
  assert.equal(u.username, 'u')
  assert.equal(u.password, 'Mpw-2')
  assert.equal(u.masked, 'sentinel://u:****@127.0.0.1:26379/3;sentinel://:****@[::1]:26380;sentinel://s3/7')
  for (const out of [u.masked, maskUrl(raw), maskArgv(['-b', raw]).join(' '), maskSecrets(`cannot connect to ${raw}`)]) {
    assert.ok(!out.includes('Mpw-2') && !out.includes('Other-3'), out)
  }
  // The single-URL parser (the simulated fleet's) takes it too: it is one broker.
  assert.deepEqual(parseBrokerUrl(raw).sentinels, u.sentinels)
  // The kombu way: a database given only on a later URL is not the one used.
  assert.equal(parseBrokerUrls('sentinel://h1:26379;sentinel://h2:26379/5')[0].db, 0)
})

test('sentinels mixed with other schemes are refused, masked', () => {
  for (const raw of ['sentinel://:Mx-4@h1;redis://:Mx-4b@h2', 'redis://:Mx-5@h1;sentinel://:Mx-5b@h2']) {
    const m = refusal(raw)
    assert.match(m, /sentinel|failover/, m)
    assert.ok(!m.includes('Mx-'), m)
  }
  assert.match(refusal('sentinel://h1;redis://h2'), /^a Sentinel broker is a list of sentinel:\/\/ URLs only/)
  assert.match(refusal('sentinel://h/x'), /the Redis database in sentinel:\/\/h\/x must be a number/)
  assert.match(refusal('sentinel://h:99999'), /^invalid port/)
})

test('failover lists: each URL parsed on its own, in order, each masked; the second password never shows', () => {
  const redis = parseBrokerUrls('redis://:First-6@a:6379/1;rediss://u:Second-7@b:6380/2')
  assert.deepEqual(redis.map((u) => [u.host, u.port, u.db, u.tls, u.username, u.password, u.masked, u.sentinels]), [
    ['a', 6379, 1, false, undefined, 'First-6', 'redis://:****@a:6379/1', undefined],
    ['b', 6380, 2, true, 'u', 'Second-7', 'rediss://u:****@b:6380/2', undefined],
  ])
  const amqp = parseBrokerUrls('amqp://guest:First-8@h1//;pyamqp://ops:Second-9@h2:5673/prod')
  assert.deepEqual(amqp.map((u) => [u.kind, u.host, u.port, u.vhost, u.password, u.masked]), [
    ['amqp', 'h1', 5672, '/', 'First-8', 'amqp://guest:****@h1//'],
    ['amqp', 'h2', 5673, 'prod', 'Second-9', 'pyamqp://ops:****@h2:5673/prod'],
  ])
  for (const raw of ['redis://:First-6@a:6379/1;rediss://u:Second-7@b:6380/2', 'amqp://guest:First-8@h1//;pyamqp://ops:Second-9@h2:5673/prod', 'redis://a;redis://:Second-10@b;redis://:Third-11@c']) {
    for (const out of [maskUrl(raw), maskArgv(['status', '-b', raw]).join(' '), maskArgv([`--broker=${raw}`]).join(' '), maskSecrets(`Error: failed ${raw} (ECONNREFUSED)`)]) {
      assert.ok(!/First-|Second-|Third-/.test(out), `${raw} → ${out}`)
    }
  }
  assert.equal(maskUrl('redis://a;redis://:Second-10@b;redis://:Third-11@c'), 'redis://a;redis://:****@b;redis://:****@c')
})

test('a failover list is all Redis or all RabbitMQ; an empty member is refused; a bad member refuses the whole list', () => {
  const m = refusal('redis://:Mix-12@a;amqp://u:Mix-13@b//')
  assert.match(m, /^a broker failover list is all Redis or all RabbitMQ URLs/)
  assert.ok(!m.includes('Mix-'), m)
  assert.match(refusal('redis://a;;redis://b'), /^empty URL in the broker failover list/)
  const bad = refusal('redis://:Ok-14@a;redis://:Bad-15@b/notadb')
  assert.match(bad, /must be a number/)
  assert.ok(!bad.includes('Ok-14') && !bad.includes('Bad-15'), bad)
})

test('--sentinel-master: required for a sentinel URL, a plain name', () => {
  const s = parseBrokerUrl('sentinel://:Mpw-16@h:26379/0')
  assert.match(sentinelMasterProblem(s, undefined) ?? '', /^sentinel:\/\/:\*\*\*\*@h:26379\/0 is a Redis Sentinel URL: name the master with --sentinel-master NAME/)
  assert.ok(sentinelMasterProblem(s, '') !== undefined)
  assert.equal(sentinelMasterProblem(s, 'mymaster'), undefined)
  assert.match(sentinelMasterProblem(s, 'my master') ?? '', /^invalid --sentinel-master/)
  assert.match(sentinelMasterProblem(s, 'x\u001b[2J') ?? '', /^invalid --sentinel-master: /)
  assert.ok(!(sentinelMasterProblem(s, 'x\u001b[2J') ?? '').includes('\u001b'))
  assert.equal(sentinelMasterProblem(parseBrokerUrl('redis://h/0'), undefined), undefined)
})

test('through Sentinel requests go to both channel forms: the literal /{db}. of kombu < 5.4 and /N. of later ones', () => {
  const via = redisNames(3, 'celery', 'pfx:', true)
  assert.deepEqual(via.requestChannels, ['pfx:/{db}.celery.pidbox', 'pfx:/3.celery.pidbox'])
  assert.deepEqual(via.fanoutPrefixes, ['pfx:/{db}.', 'pfx:/3.'])
  assert.equal(via.requestChannel, 'pfx:/{db}.celery.pidbox')
  const plain = redisNames(3, 'celery', '')
  assert.deepEqual(plain.requestChannels, ['/3.celery.pidbox'])
  assert.equal(plain.requestChannel, '/3.celery.pidbox')
  // The reply route is the database's own either way.
  assert.equal(via.replyBindingKey, plain.replyBindingKey.replace(/^/, 'pfx:'))
})
