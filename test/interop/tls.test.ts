// TLS against the real thing: a private redis-server speaking only TLS (--tls-port, certificates
// made with openssl) and a TLS listener in front of the shared RabbitMQ, each with a real Celery
// worker connected through TLS. wfctl reaches the workers with kombu's query options and with the
// --tls-* flags; each TLS failure is one line on stderr (and nothing else there: no Node warning).
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {createVhost} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {json, runWfctl, startSimulatedFleet, type CliRun} from '../helpers/cli.js'
import {makeCertificates, startTlsListener, startTlsRedis, type Certificates, type TlsListener, type TlsRedis} from '../helpers/tls.js'
import {show} from './support.js'

/** The query options of a URL: kombu's names, values percent-encoded as a URL needs them. */
function query(options: Record<string, string>): string {
  return new URLSearchParams(options).toString()
}

/** A run that failed with exactly one line on stderr (no Node warning, no stack), matching `pattern`. */
function assertOneLine(run: CliRun, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, show(run))
  const lines = run.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `one line on stderr:\n${run.stderr}`)
  assert.match(lines[0], pattern, show(run))
  assert.doesNotMatch(run.stderr, /Warning|DEP0123|^\s+at /m, show(run))
}

/** Nothing on stderr at all: a run that worked warns about nothing (in particular, no Node warning). */
function assertQuiet(run: CliRun): void {
  assert.equal(run.stderr, '', show(run))
}

describe('TLS Redis (redis-server --tls-port, client certificates required)', () => {
  let certs: Certificates
  let redis: TlsRedis
  let expired: TlsRedis
  let wrongHost: TlsRedis
  let selfSigned: TlsRedis
  let worker: Worker
  let url: string
  const flagsOf = (c: Certificates) => ['--tls-ca', c.ca, '--tls-cert', c.client.cert, '--tls-key', c.client.key]

  before(async () => {
    certs = await makeCertificates()
    ;[redis, expired, wrongHost, selfSigned] = await Promise.all([
      startTlsRedis(certs, {authClients: true}),
      startTlsRedis(certs, {server: certs.expired}),
      startTlsRedis(certs, {server: certs.wrongHost}),
      startTlsRedis(certs, {server: certs.selfSigned}),
    ])
    // The URL a Celery worker is given, as kombu and redis-py read it.
    url = redis.url(0, query({ssl_cert_reqs: 'required', ssl_ca_certs: certs.ca, ssl_certfile: certs.client.cert, ssl_keyfile: certs.client.key}))
    worker = await startWorker({broker: url})
  })
  after(async () => {
    await worker?.stop()
    await Promise.allSettled([redis, expired, wrongHost, selfSigned].map((r) => r?.stop()))
    certs?.remove()
  })

  test('the worker\'s own URL (kombu\'s ssl_* options): status lists the worker', async () => {
    const run = await runWfctl(['status', '-b', url, '--expect', worker.node, '-t', '10', '--json'])
    assert.equal(run.code, 0, show(run))
    assertQuiet(run)
    assert.ok(JSON.stringify(json(run)).includes(worker.node), run.stdout)
  })

  test('the same with --tls-ca, --tls-cert, --tls-key: control ping -d answers pong', async () => {
    const run = await runWfctl(['control', 'ping', '-d', worker.node, '-b', redis.url(0), ...flagsOf(certs), '-t', '10'])
    assert.equal(run.code, 0, show(run))
    assertQuiet(run)
    assert.match(run.stdout, new RegExp(`${worker.node.replace(/[.]/g, '\\.')}\\s+OK.*pong`))
  })

  test('by host name (localhost, checked against the certificate): inspect active_queues shows the worker\'s queue', async () => {
    const run = await runWfctl(['inspect', 'active-queues', '-d', worker.node, '-b', `rediss://localhost:${redis.port}/0`, ...flagsOf(certs), '-t', '10', '--json'])
    assert.equal(run.code, 0, show(run))
    assertQuiet(run)
    assert.match(run.stdout, /"celery"/)
  })

  test('the certificate and key in one file (Python\'s certfile form) are taken from ssl_certfile alone', async () => {
    const run = await runWfctl(['control', 'ping', '-d', worker.node, '-b', redis.url(0, query({ssl_ca_certs: certs.ca, ssl_certfile: certs.clientCombined})), '-t', '10'])
    assert.equal(run.code, 0, show(run))
    assertQuiet(run)
  })

  test('flags win over the query options: a wrong CA in the URL, the right one as --tls-ca', async () => {
    const wrongInUrl = redis.url(0, query({ssl_ca_certs: certs.otherCa, ssl_certfile: certs.strangerClient.cert, ssl_keyfile: certs.strangerClient.key}))
    const right = await runWfctl(['control', 'ping', '-d', worker.node, '-b', wrongInUrl, ...flagsOf(certs), '-t', '10'])
    assert.equal(right.code, 0, show(right))
    assertQuiet(right)
    const wrongFlag = await runWfctl(['control', 'ping', '-d', worker.node, '-b', url, '--tls-ca', certs.otherCa])
    assertOneLine(wrongFlag, 3, /not signed by a CA wfctl trusts: pass the CA that signed it with --tls-ca/)
  })

  test('the simulated worker (wfctl simulate) takes the same options', async () => {
    const prefix = `simtls${process.pid}-`
    const sim = await startSimulatedFleet(['-n', '1', '--name-prefix', prefix, '--hostname', 'tlshost', '--duration', '30', '-b', redis.url(0), ...flagsOf(certs)], {}, 15_000)
    try {
      const run = await runWfctl(['control', 'ping', '-d', `${prefix}1@tlshost`, '-b', url, '-t', '10'])
      assert.equal(run.code, 0, `${show(run)}\nsimulate: ${sim.stderr()}`)
      assert.match(run.stdout, /pong/)
    } finally {
      sim.kill('SIGINT')
      await sim.done
    }
    assert.doesNotMatch(sim.stderr(), /Warning|DEP0123/, sim.stderr())
  })

  test('an unknown CA (none given, or another one): one line saying to pass --tls-ca', async () => {
    assertOneLine(await runWfctl(['status', '-b', redis.url(0)]), 3, /^Error: cannot connect to rediss:\/\/127\.0\.0\.1:\d+\/0: the broker's certificate is not signed by a CA wfctl trusts: pass the CA that signed it with --tls-ca FILE/)
    assertOneLine(await runWfctl(['status', '-b', redis.url(0, query({ssl_ca_certs: certs.otherCa}))]), 3, /not signed by a CA wfctl trusts/)
  })

  test('a self-signed certificate: one line saying to pass it with --tls-ca', async () => {
    assertOneLine(await runWfctl(['status', '-b', selfSigned.url(0), '--tls-ca', certs.ca]), 3, /the broker's certificate is self-signed and not trusted: pass it with --tls-ca/)
  })

  test('an expired certificate: one line saying so', async () => {
    assertOneLine(await runWfctl(['status', '-b', expired.url(0), '--tls-ca', certs.ca]), 3, /the broker's certificate has expired/)
  })

  test('a certificate for another host: one line naming the names it is for', async () => {
    assertOneLine(await runWfctl(['status', '-b', wrongHost.url(0), '--tls-ca', certs.ca]), 3, /the broker's certificate is for wrong\.example, not 127\.0\.0\.1/)
    assertOneLine(await runWfctl(['status', '-b', `rediss://localhost:${wrongHost.port}/0`, '--tls-ca', certs.ca]), 3, /is for wrong\.example, not localhost/)
  })

  test('ssl_cert_reqs=none checks nothing: the wrong host and the expired certificate connect (nobody listens there)', async () => {
    for (const server of [wrongHost, expired]) {
      const run = await runWfctl(['status', '-b', server.url(0, 'ssl_cert_reqs=none'), '-t', '1'])
      assert.equal(run.code, 69, show(run))
      assert.doesNotMatch(run.stderr, /Error|Warning/, show(run))
    }
  })

  test('no client certificate where the broker asks for one; one it does not trust', async () => {
    assertOneLine(await runWfctl(['status', '-b', redis.url(0), '--tls-ca', certs.ca]), 3, /the broker asks for a client certificate: pass one with --tls-cert FILE and --tls-key FILE/)
    const stranger = ['--tls-ca', certs.ca, '--tls-cert', certs.strangerClient.cert, '--tls-key', certs.strangerClient.key]
    assertOneLine(await runWfctl(['status', '-b', redis.url(0), ...stranger]), 3, /the broker refused the client certificate \(TLS alert "unknown ca"\)/)
  })

  test('rediss:// to a plain-text port, redis:// to a TLS port: one line each saying which to use', async () => {
    const plain = await runWfctl(['status', '-b', 'rediss://127.0.0.1:6379/0', '--tls-ca', certs.ca, '--connect-timeout', '1'])
    assertOneLine(plain, 3, /never answered the TLS handshake: if port 6379 is plain text, use redis:\/\//)
    assertOneLine(await runWfctl(['status', '-b', `redis://127.0.0.1:${redis.port}/0`]), 3, new RegExp(`if port ${redis.port} speaks TLS, use rediss://`))
  })

  test('a missing or unusable file is a usage error (exit 2) naming the flag or option, before connecting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wfctl-tls-files-'))
    try {
      const missing = join(dir, 'nope.pem')
      const notPem = join(dir, 'not.pem')
      writeFileSync(notPem, 'hello\n')
      assertOneLine(await runWfctl(['status', '-b', redis.url(0), '--tls-ca', missing]), 2, new RegExp(`cannot read the CA certificate file ".*nope\\.pem" \\(--tls-ca\\): no such file`))
      assertOneLine(await runWfctl(['status', '-b', redis.url(0, query({ssl_ca_certs: missing}))]), 2, /\(ssl_ca_certs in the broker URL\): no such file/)
      assertOneLine(await runWfctl(['status', '-b', redis.url(0), '--tls-ca', notPem]), 2, /holds no PEM certificate/)
      assertOneLine(await runWfctl(['status', '-b', redis.url(0), '--tls-ca', certs.ca, '--tls-cert', certs.client.cert, '--tls-key', missing]), 2, /cannot read the private key .* \(--tls-key\): no such file/)
      assertOneLine(await runWfctl(['status', '-b', redis.url(0), '--tls-ca', certs.ca, '--tls-key', certs.client.key]), 2, /given without its client certificate: give the certificate too \(--tls-cert\)/)
      assertOneLine(await runWfctl(['status', '-b', redis.url(0), '--tls-ca', certs.ca, '--tls-cert', certs.client.cert, '--tls-key', certs.strangerClient.key]), 2, /do not belong together/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('TLS in front of RabbitMQ (a TLS listener piping to 127.0.0.1:5672)', () => {
  let certs: Certificates
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let listener: TlsListener
  let wrongHost: TlsListener
  let expired: TlsListener
  let worker: Worker
  const flagsOf = (c: Certificates) => ['--tls-ca', c.ca, '--tls-cert', c.client.cert, '--tls-key', c.client.key]

  before(async () => {
    certs = await makeCertificates()
    vhost = await createVhost('wfctl-tls')
    ;[listener, wrongHost, expired] = await Promise.all([
      startTlsListener(certs, {requireClientCert: true}),
      startTlsListener(certs, {server: certs.wrongHost}),
      startTlsListener(certs, {server: certs.expired}),
    ])
    // py-amqp takes its TLS settings from broker_use_ssl (Airflow's ssl_* settings become these).
    worker = await startWorker({
      broker: listener.url(vhost.name),
      conf: {broker_use_ssl: {ca_certs: certs.ca, cert_reqs: 2, certfile: certs.client.cert, keyfile: certs.client.key}},
    })
  })
  after(async () => {
    await worker?.stop()
    await Promise.allSettled([listener, wrongHost, expired].map((l) => l?.stop()))
    await vhost?.remove()
    certs?.remove()
  })

  test('kombu\'s ssl_* options in the URL: status lists the worker', async () => {
    const url = listener.url(vhost.name, query({ssl_cert_reqs: 'required', ssl_ca_certs: certs.ca, ssl_certfile: certs.client.cert, ssl_keyfile: certs.client.key}))
    const run = await runWfctl(['status', '-b', url, '--expect', worker.node, '-t', '10', '--json'])
    assert.equal(run.code, 0, show(run))
    assertQuiet(run)
    assert.ok(JSON.stringify(json(run)).includes(worker.node), run.stdout)
  })

  test('--tls-* flags: control ping -d answers pong (an IP address: no server name, no Node warning)', async () => {
    const run = await runWfctl(['control', 'ping', '-d', worker.node, '-b', listener.url(vhost.name), ...flagsOf(certs), '-t', '10'])
    assert.equal(run.code, 0, show(run))
    assertQuiet(run)
    assert.match(run.stdout, /pong/)
  })

  test('by host name: inspect active_queues shows the worker\'s queue', async () => {
    const run = await runWfctl(['inspect', 'active-queues', '-d', worker.node, '-b', `amqps://guest:guest@localhost:${listener.port}/${encodeURIComponent(vhost.name)}`, ...flagsOf(certs), '-t', '10', '--json'])
    assert.equal(run.code, 0, show(run))
    assertQuiet(run)
    assert.match(run.stdout, /"celery"/)
  })

  test('failures, one line each: unknown CA, expired, wrong host, no client certificate', async () => {
    assertOneLine(await runWfctl(['status', '-b', listener.url(vhost.name)]), 3, /^Error: cannot connect to amqps:\/\/guest:\*\*\*\*@127\.0\.0\.1:\d+\/wfctl-tls-\w+: the broker's certificate is not signed by a CA wfctl trusts: pass the CA that signed it with --tls-ca/)
    assertOneLine(await runWfctl(['status', '-b', expired.url(vhost.name), '--tls-ca', certs.ca]), 3, /the broker's certificate has expired/)
    assertOneLine(await runWfctl(['status', '-b', wrongHost.url(vhost.name), '--tls-ca', certs.ca]), 3, /the broker's certificate is for wrong\.example, not 127\.0\.0\.1/)
    assertOneLine(await runWfctl(['status', '-b', listener.url(vhost.name), '--tls-ca', certs.ca]), 3, /the broker asks for a client certificate: pass one with --tls-cert FILE and --tls-key FILE/)
  })

  test('amqps:// to the plain-text port, amqp:// to the TLS port: one line each saying which to use', async () => {
    assertOneLine(await runWfctl(['status', '-b', `amqps://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost.name)}`, '--tls-ca', certs.ca]), 3, /port 5672 does not speak TLS \(a plain-text port\): use amqp:\/\//)
    assertOneLine(await runWfctl(['status', '-b', `amqp://guest:guest@127.0.0.1:${listener.port}/${encodeURIComponent(vhost.name)}`]), 3, new RegExp(`if port ${listener.port} speaks TLS, use amqps://`))
  })
})
