// TLS option building (src/broker/tls.ts) and the ssl_* query options (src/broker/url.ts), over
// certificates made with openssl; TLS failures translated into one line each.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {brokerFailure} from '../../src/broker/common.ts'
import {effectiveUrl, serverName, tlsFailure, tlsOptions, usesTls} from '../../src/broker/tls.ts'
import {parseBrokerUrl} from '../../src/broker/url.ts'
import {BrokerError, ConnectionLostError, UsageError} from '../../src/errors.ts'
import {makeCertificates, type Certificates} from '../helpers/tls.ts'

const q = (options: Record<string, string>) => new URLSearchParams(options).toString()

describe('the ssl_* query options, as kombu reads them', () => {
  test('the four options are parsed; cert reqs in any of kombu\'s spellings, case aside', () => {
    const u = parseBrokerUrl(`rediss://h:6380/0?${q({ssl_cert_reqs: 'CERT_REQUIRED', ssl_ca_certs: '/etc/ca b.pem', ssl_certfile: 'c.pem', ssl_keyfile: 'k.pem'})}`)
    assert.deepEqual(u.ssl, {certReqs: 'required', caCerts: '/etc/ca b.pem', certfile: 'c.pem', keyfile: 'k.pem'})
    assert.equal(u.verifyCertificate, true)
    for (const [given, want] of [['required', 'required'], ['optional', 'optional'], ['CERT_OPTIONAL', 'optional'], ['none', 'none'], ['CERT_NONE', 'none'], ['Cert_None', 'none']]) {
      assert.equal(parseBrokerUrl(`rediss://h/0?ssl_cert_reqs=${given}`).ssl?.certReqs, want, given)
    }
    assert.equal(parseBrokerUrl('rediss://h/0?ssl_cert_reqs=optional').verifyCertificate, true)
    assert.equal(parseBrokerUrl('amqps://h//?ssl_cert_reqs=none').verifyCertificate, false)
    assert.equal(parseBrokerUrl('rediss://h/0').ssl, undefined)
  })

  test('a repeated key: the last one counts (kombu keeps the last)', () => {
    assert.equal(parseBrokerUrl('rediss://h/0?ssl_ca_certs=a.pem&ssl_ca_certs=b.pem').ssl?.caCerts, 'b.pem')
  })

  test('an unknown ssl_cert_reqs value or an empty file path is a usage error', () => {
    assert.throws(() => parseBrokerUrl('rediss://h/0?ssl_cert_reqs=maybe'), (e: Error) => e instanceof UsageError && /invalid ssl_cert_reqs .* use required, optional or none/.test(e.message))
    assert.throws(() => parseBrokerUrl('rediss://h/0?ssl_cert_reqs='), UsageError)
    assert.throws(() => parseBrokerUrl('rediss://h/0?ssl_ca_certs='), (e: Error) => e instanceof UsageError && /ssl_ca_certs .* is empty/.test(e.message))
  })

  test('TLS options make any URL a TLS one, as in kombu; an AMQP URL without a port then means 5671', () => {
    const r = parseBrokerUrl('redis://h:6380/0?ssl_cert_reqs=required')
    assert.equal(r.tls, true)
    assert.equal(r.port, 6380)
    const a = parseBrokerUrl('amqp://u:p@h/v?ssl_ca_certs=ca.pem')
    assert.equal(a.tls, true)
    assert.equal(a.port, 5671)
    assert.equal(parseBrokerUrl('amqp://u:p@h:5673/v?ssl_ca_certs=ca.pem').port, 5673)
    assert.equal(parseBrokerUrl('amqp://u:p@h/v').port, 5672)
    // Other ssl_* keys are ignored (nothing is checked less for them), but still mean TLS.
    assert.equal(parseBrokerUrl('redis://h/0?ssl_check_hostname=false').tls, true)
  })
})

describe('tlsOptions(): the node:tls options of a connection', () => {
  let certs: Certificates
  let encryptedKey: string
  let notPem: string
  let dir: string
  const pem = (path: string) => readFileSync(path, 'utf8').trim()

  before(async () => {
    certs = await makeCertificates()
    dir = join(certs.dir, 'extra')
    mkdirSync(dir)
    encryptedKey = join(dir, 'encrypted.key')
    execFileSync('openssl', ['pkey', '-in', certs.client.key, '-aes256', '-passout', 'pass:secret', '-out', encryptedKey])
    notPem = join(dir, 'not.pem')
    writeFileSync(notPem, 'not a certificate\n')
  })
  after(() => certs?.remove())

  const usage = (pattern: RegExp) => (e: Error) => e instanceof UsageError && pattern.test(e.message)

  test('plain text: no options; TLS files turn TLS on (as kombu\'s broker_use_ssl does)', () => {
    const plain = parseBrokerUrl('redis://h/0')
    assert.equal(tlsOptions(plain), undefined)
    assert.equal(usesTls(plain), false)
    assert.equal(usesTls(plain, {ca: certs.ca}), true)
    assert.equal(effectiveUrl(plain, {ca: certs.ca}).tls, true)
    assert.equal(effectiveUrl(plain), plain)
    assert.equal(tlsOptions(plain, {ca: certs.ca})?.rejectUnauthorized, true)
  })

  test('rediss:// alone: certificates and host names checked, Node\'s CAs, no client certificate', () => {
    assert.deepEqual(tlsOptions(parseBrokerUrl('rediss://h/0')), {rejectUnauthorized: true})
    assert.deepEqual(tlsOptions(parseBrokerUrl('rediss://h/0?ssl_cert_reqs=none')), {rejectUnauthorized: false})
  })

  test('the CA from the query, or from --tls-ca, which wins', () => {
    const url = parseBrokerUrl(`rediss://h/0?${q({ssl_ca_certs: certs.otherCa})}`)
    assert.equal(String(tlsOptions(url)?.ca).trim(), pem(certs.otherCa))
    assert.equal(String(tlsOptions(url, {ca: certs.ca})?.ca).trim(), pem(certs.ca))
  })

  test('the client certificate and key as a pair: from the query, or from the flags, which win', () => {
    const url = parseBrokerUrl(`rediss://h/0?${q({ssl_certfile: certs.strangerClient.cert, ssl_keyfile: certs.strangerClient.key})}`)
    const fromUrl = tlsOptions(url)!
    assert.equal(String(fromUrl.cert).trim(), pem(certs.strangerClient.cert))
    assert.equal(String(fromUrl.key).trim(), pem(certs.strangerClient.key))
    const fromFlags = tlsOptions(url, {cert: certs.client.cert, key: certs.client.key})!
    assert.equal(String(fromFlags.cert).trim(), pem(certs.client.cert))
    assert.equal(String(fromFlags.key).trim(), pem(certs.client.key))
  })

  test('a certificate file that holds its key too (Python\'s certfile) needs no key file', () => {
    const options = tlsOptions(parseBrokerUrl(`rediss://h/0?${q({ssl_certfile: certs.clientCombined})}`))!
    assert.equal(String(options.cert).trim(), pem(certs.client.cert))
    assert.equal(String(options.key).trim(), pem(certs.client.key))
  })

  test('files that cannot be used are usage errors naming where they were given', () => {
    const url = parseBrokerUrl('rediss://h/0')
    const missing = join(dir, 'missing.pem')
    assert.throws(() => tlsOptions(url, {ca: missing}), usage(/^cannot read the CA certificate file ".*missing\.pem" \(--tls-ca\): no such file$/))
    assert.throws(() => tlsOptions(parseBrokerUrl(`rediss://h/0?${q({ssl_ca_certs: missing})}`)), usage(/\(ssl_ca_certs in the broker URL\): no such file/))
    assert.throws(() => tlsOptions(url, {ca: dir}), usage(/\(--tls-ca\): it is a directory/))
    assert.throws(() => tlsOptions(url, {ca: notPem}), usage(/holds no PEM certificate/))
    assert.throws(() => tlsOptions(url, {ca: certs.client.key}), usage(/holds no PEM certificate/))
    assert.throws(() => tlsOptions(url, {cert: certs.client.cert}), usage(/comes without its private key: give the key file too \(--tls-key\)/))
    assert.throws(() => tlsOptions(url, {key: certs.client.key}), usage(/given without its client certificate: give the certificate too \(--tls-cert\)/))
    assert.throws(() => tlsOptions(parseBrokerUrl(`rediss://h/0?${q({ssl_keyfile: certs.client.key})}`)), usage(/ssl_keyfile .* without ssl_certfile/))
    assert.throws(() => tlsOptions(url, {cert: certs.client.cert, key: notPem}), usage(/holds no PEM private key/))
    assert.throws(() => tlsOptions(url, {cert: certs.client.cert, key: certs.strangerClient.key}), usage(/do not belong together/))
    assert.throws(() => tlsOptions(url, {cert: certs.client.cert, key: encryptedKey}), usage(/protected by a passphrase/))
  })

  test('where a file came from is named as its giver says (a context, airflow.cfg)', () => {
    const url = parseBrokerUrl('rediss://h/0')
    assert.throws(() => tlsOptions(url, {ca: join(dir, 'nope.pem'), origin: {ca: 'context prod (tls.ca)'}}), usage(/\(context prod \(tls\.ca\)\): no such file/))
    assert.throws(() => tlsOptions(url, {cert: certs.client.cert, origin: {key: 'airflow.cfg ssl_key'}}), usage(/give the key file too \(airflow\.cfg ssl_key\)/))
  })

  test('serverName(): a host name is sent as the TLS server name, an IP address never is', () => {
    assert.deepEqual(serverName('redis.internal'), {servername: 'redis.internal'})
    assert.deepEqual(serverName('localhost'), {servername: 'localhost'})
    assert.deepEqual(serverName('127.0.0.1'), {})
    assert.deepEqual(serverName('2001:db8::1'), {})
  })
})

describe('TLS failures, one line each', () => {
  const redis = parseBrokerUrl('rediss://:pw@cache:6380/0')
  const amqps = parseBrokerUrl('amqps://u:pw@rabbit:5671/v')
  const err = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`808C:error:0A000086:SSL routines:${code}\n`), {code, ...extra})

  test('an untrusted or self-signed certificate says to pass --tls-ca', () => {
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']) {
      assert.match(tlsFailure(redis, err(code))!, /not signed by a CA wfctl trusts: pass the CA that signed it with --tls-ca FILE/, code)
    }
    assert.match(tlsFailure(redis, err('DEPTH_ZERO_SELF_SIGNED_CERT'))!, /self-signed .* --tls-ca/)
  })

  test('expired, not yet valid', () => {
    assert.match(tlsFailure(redis, err('CERT_HAS_EXPIRED'))!, /has expired/)
    assert.match(tlsFailure(redis, err('CERT_NOT_YET_VALID'))!, /not valid yet/)
  })

  test('a host name mismatch names what the certificate is for', () => {
    const mismatch = err('ERR_TLS_CERT_ALTNAME_INVALID', {host: 'cache', cert: {subjectaltname: 'DNS:redis.internal, IP Address:10.0.0.5', subject: {CN: 'x'}}})
    assert.equal(tlsFailure(redis, mismatch), "the broker's certificate is for redis.internal, 10.0.0.5, not cache: connect to it by one of those names")
    const cnOnly = err('ERR_TLS_CERT_ALTNAME_INVALID', {host: 'cache', cert: {subject: {CN: 'other'}}})
    assert.equal(tlsFailure(redis, cnOnly), "the broker's certificate is for other, not cache: connect to it by that name")
  })

  test('client certificates: asked for and not given, refused', () => {
    assert.match(tlsFailure(redis, err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))!, /asks for a client certificate: pass one with --tls-cert FILE and --tls-key FILE/)
    assert.match(tlsFailure(redis, err('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'))!, /refused the TLS handshake \(it may ask for a client certificate/)
    assert.match(tlsFailure(redis, err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', {reason: 'tlsv1 alert unknown ca'}))!, /refused the client certificate \(TLS alert "unknown ca"\)/)
    assert.match(tlsFailure(amqps, new Error('Socket closed abruptly during opening handshake'))!, /during the handshake: it may not accept the client certificate/)
  })

  test('TLS to a plain-text port, plain text to a TLS port', () => {
    assert.match(tlsFailure(redis, err('ERR_SSL_WRONG_VERSION_NUMBER'))!, /^port 6380 does not speak TLS \(a plain-text port\): use redis:\/\//)
    assert.match(tlsFailure(amqps, err('ERR_SSL_WRONG_VERSION_NUMBER'))!, /use amqp:\/\//)
    assert.match(tlsFailure(parseBrokerUrl('amqp://h:5671/v'), new Error('Socket closed abruptly during opening handshake'))!, /if port 5671 speaks TLS, use amqps:\/\//)
  })

  test('anything else is no TLS failure; an unknown TLS error keeps only its reason', () => {
    assert.equal(tlsFailure(redis, Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'})), undefined)
    assert.equal(tlsFailure(redis, new ConnectionLostError('the broker closed the connection')), undefined)
    assert.equal(tlsFailure(redis, undefined), undefined)
    assert.equal(tlsFailure(redis, err('ERR_SSL_SOMETHING_NEW', {reason: 'something new'})), 'TLS handshake failed (something new)')
  })

  test('brokerFailure(): one masked line, exit 3, without OpenSSL\'s text', () => {
    const failure = brokerFailure(redis, err('CERT_HAS_EXPIRED'), 'cannot connect to')
    assert.ok(failure instanceof BrokerError)
    assert.equal(failure.exitCode, 3)
    assert.equal(failure.message, "cannot connect to rediss://:****@cache:6380/0: the broker's certificate has expired (or this machine's clock is wrong)")
  })
})
