import assert from 'node:assert/strict'
import {test} from 'node:test'

import {maskSecrets, maskUrl, parseBrokerUrl} from '../../src/broker/url.ts'
import {UsageError} from '../../src/errors.ts'

test('redis URLs: host, port, DB from the path, password masked', () => {
  const u = parseBrokerUrl('redis://:s3cret@cache.internal:6380/5')
  assert.equal(u.kind, 'redis')
  assert.equal(u.host, 'cache.internal')
  assert.equal(u.port, 6380)
  assert.equal(u.db, 5)
  assert.equal(u.password, 's3cret')
  assert.equal(u.masked, 'redis://:****@cache.internal:6380/5')
  assert.equal(parseBrokerUrl('redis://localhost').db, 0)
  assert.equal(parseBrokerUrl('redis://localhost/').db, 0)
  assert.equal(parseBrokerUrl('redis://localhost').port, 6379)
  assert.equal(parseBrokerUrl('rediss://h:1/2').tls, true)
})

test('amqp URLs: vhost from the path, // is /, pyamqp is amqp, default ports', () => {
  assert.equal(parseBrokerUrl('amqp://guest:guest@localhost:5672//').vhost, '/')
  assert.equal(parseBrokerUrl('amqp://guest:guest@localhost:5672/').vhost, '/')
  assert.equal(parseBrokerUrl('amqp://localhost').vhost, '/')
  assert.equal(parseBrokerUrl('amqp://u:p@localhost/prod').vhost, 'prod')
  assert.equal(parseBrokerUrl('amqp://u:p@localhost/a%2Fb').vhost, 'a/b')
  const py = parseBrokerUrl('pyamqp://u:p@rabbit/x')
  assert.equal(py.kind, 'amqp')
  assert.equal(py.port, 5672)
  assert.equal(parseBrokerUrl('amqps://rabbit').port, 5671)
  assert.equal(parseBrokerUrl('amqps://rabbit').tls, true)
})

test('percent-encoded credentials are decoded, and masked in every form', () => {
  const u = parseBrokerUrl('amqp://ops%40corp:p%40ss%3Aword@rabbit:5672/v')
  assert.equal(u.username, 'ops@corp')
  assert.equal(u.password, 'p@ss:word')
  assert.ok(!u.masked.includes('p%40ss'))
  assert.equal(maskUrl('redis://user:hunter2@h:1/0'), 'redis://user:****@h:1/0')
  assert.equal(maskSecrets('failed: amqp://a:hunter2@h// and hunter2', 'hunter2'), 'failed: amqp://a:****@h// and ****')
})

test('bad URLs are usage errors that never echo the password', () => {
  for (const raw of ['sqs://k:topsecret@x', 'redis://:topsecret@h/notadb', 'not a url topsecret', 'redis://:topsecret@h:99999/0']) {
    assert.throws(() => parseBrokerUrl(raw), (e: unknown) => {
      assert.ok(e instanceof UsageError)
      assert.equal(e.exitCode, 2)
      assert.ok(!e.message.includes('topsecret') || raw.startsWith('not a url'), e.message)
      return true
    })
  }
})

test('TLS certificates are checked unless ssl_cert_reqs=none, as in kombu', () => {
  assert.equal(parseBrokerUrl('rediss://h:6380/0').verifyCertificate, true)
  assert.equal(parseBrokerUrl('rediss://h:6380/0?ssl_cert_reqs=none').verifyCertificate, false)
  assert.equal(parseBrokerUrl('amqps://u:p@h/v?ssl_cert_reqs=CERT_NONE').verifyCertificate, false)
  assert.equal(parseBrokerUrl('amqps://u:p@h/v?ssl_cert_reqs=required').verifyCertificate, true)
})
