import {createPrivateKey, X509Certificate} from 'node:crypto'
import {readFileSync, statSync} from 'node:fs'
import {isIP} from 'node:net'
import type {ConnectionOptions, PeerCertificate} from 'node:tls'

import {UsageError} from '../errors.js'
import type {BrokerUrl} from './url.js'

/*
 * TLS for broker connections: the node:tls options of a URL (kombu's ssl_* query options) and the
 * files given outside it (--tls-ca, --tls-cert, --tls-key, a context, airflow.cfg), and TLS failures
 * as one line each. node:tls itself is loaded only where a TLS socket is made.
 */

/**
 * TLS files as paths (from --tls-ca / --tls-cert / --tls-key, a context, or airflow.cfg's ssl_*);
 * the URL's own kombu query options (ssl_ca_certs, ssl_certfile, ssl_keyfile) fill what is unset.
 */
export interface TlsFiles {
  ca?: string
  cert?: string
  key?: string
  /** Where each file was given, for error messages (default: the flag, e.g. `--tls-ca`); e.g. `context prod (tls.ca)`. */
  origin?: {ca?: string; cert?: string; key?: string}
}

/** A PEM file larger than this is no certificate or key (and reading it is refused before it is read). */
const MAX_PEM_BYTES = 16 * 1024 * 1024
const CERTIFICATE_BLOCK = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----[^-]*-----END (?:TRUSTED )?CERTIFICATE-----/g
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----[^]*?-----END \1-----/

/** Whether a connection to `url` speaks TLS: a TLS URL (rediss://, amqps://, any ssl_* option), or TLS files given for it. */
export function usesTls(url: BrokerUrl, files?: TlsFiles): boolean {
  return url.tls || Boolean(files?.ca || files?.cert || files?.key)
}

/** The URL as a connection to it speaks: `tls` is true when TLS files turned TLS on (as kombu's broker_use_ssl does). */
export function effectiveUrl(url: BrokerUrl, files?: TlsFiles): BrokerUrl {
  return !url.tls && usesTls(url, files) ? {...url, tls: true} : url
}

/** Node's `servername` for a host: host names only (SNI carries no IP address, and Node warns about one). */
export function serverName(host: string): {servername?: string} {
  return isIP(host) ? {} : {servername: host}
}

interface Source {
  path: string
  /** Where the path was given, as the operator would recognise it: `--tls-ca`, `ssl_ca_certs in the broker URL`. */
  origin: string
}

const FROM_URL = (key: string) => `${key} in the broker URL`

function readPem(source: Source, what: string): string {
  const fail = (why: string): never => {
    throw new UsageError(`cannot read the ${what} ${JSON.stringify(source.path)} (${source.origin}): ${why}`)
  }
  let text: string
  try {
    const stat = statSync(source.path)
    if (stat.isDirectory()) fail('it is a directory')
    if (!stat.isFile()) fail('it is not a regular file')
    if (stat.size > MAX_PEM_BYTES) fail('it is too large for a PEM file')
    text = readFileSync(source.path, 'latin1')
  } catch (error) {
    if (error instanceof UsageError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') fail('no such file')
    if (code === 'EACCES' || code === 'EPERM') fail('permission denied')
    fail((error as Error).message.split('\n')[0])
  }
  return text!
}

function certificates(text: string, source: Source, what: string): string {
  const blocks = text.match(CERTIFICATE_BLOCK) ?? []
  if (blocks.length === 0) throw new UsageError(`the ${what} ${JSON.stringify(source.path)} (${source.origin}) holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`)
  for (const block of blocks) {
    try {
      new X509Certificate(block.replace(/TRUSTED CERTIFICATE/g, 'CERTIFICATE'))
    } catch {
      throw new UsageError(`the ${what} ${JSON.stringify(source.path)} (${source.origin}) holds a certificate that does not parse`)
    }
  }
  return blocks.join('\n')
}

/** The client certificate and its key, checked to belong together; the key may be in the certificate's file (Python's certfile). */
function clientPair(cert: Source, key: Source | undefined, keyOrigin: string): {cert: string; key: string} {
  const certText = readPem(cert, 'client certificate')
  const chain = certificates(certText, cert, 'client certificate')
  const keySource = key ?? cert
  const keyText = key ? readPem(key, 'private key') : certText
  const block = KEY_BLOCK.exec(keyText)?.[0]
  if (!block) {
    throw new UsageError(key
      ? `the private key ${JSON.stringify(key.path)} (${key.origin}) holds no PEM private key ("-----BEGIN PRIVATE KEY-----")`
      : `the client certificate ${JSON.stringify(cert.path)} (${cert.origin}) comes without its private key: give the key file too (${keyOrigin})`)
  }
  if (/^-----BEGIN ENCRYPTED|Proc-Type: 4,ENCRYPTED/m.test(block)) {
    throw new UsageError(`the private key ${JSON.stringify(keySource.path)} (${keySource.origin}) is protected by a passphrase, which wfctl cannot take: give an unencrypted key`)
  }
  let privateKey
  try {
    privateKey = createPrivateKey(block)
  } catch {
    throw new UsageError(`the private key ${JSON.stringify(keySource.path)} (${keySource.origin}) does not parse`)
  }
  if (!new X509Certificate(chain.match(CERTIFICATE_BLOCK)![0].replace(/TRUSTED CERTIFICATE/g, 'CERTIFICATE')).checkPrivateKey(privateKey)) {
    throw new UsageError(`the client certificate ${JSON.stringify(cert.path)} (${cert.origin}) and the private key ${JSON.stringify(keySource.path)} (${keySource.origin}) do not belong together`)
  }
  return {cert: chain, key: block}
}

/**
 * The node:tls options of a connection to `url`, or undefined for plain text. Files given outside
 * the URL win over the URL's ssl_* options (the client certificate and its key as a pair). Every
 * file is read and checked here, before anything connects: a file that cannot be read, or holds no
 * certificate or key, is a usage error naming where it was given. Certificates are checked, and the
 * host name against them, unless `ssl_cert_reqs=none`. The server name is left to where the socket
 * is made (`serverName()`): the host connected to may not be the URL's (a Sentinel's master).
 */
export function tlsOptions(url: BrokerUrl, files?: TlsFiles): ConnectionOptions | undefined {
  if (!usesTls(url, files)) return undefined
  const origin = files?.origin ?? {}
  const ssl = url.ssl ?? {}
  const options: ConnectionOptions = {rejectUnauthorized: url.verifyCertificate}

  const ca: Source | undefined = files?.ca
    ? {path: files.ca, origin: origin.ca ?? '--tls-ca'}
    : ssl.caCerts ? {path: ssl.caCerts, origin: FROM_URL('ssl_ca_certs')} : undefined
  if (ca) options.ca = certificates(readPem(ca, 'CA certificate file'), ca, 'CA certificate file')

  let cert: Source | undefined
  let key: Source | undefined
  let keyOrigin = 'ssl_keyfile'
  if (files?.cert || files?.key) {
    keyOrigin = origin.key ?? '--tls-key'
    if (!files.cert) throw new UsageError(`a private key (${keyOrigin}) is given without its client certificate: give the certificate too (${origin.cert ?? '--tls-cert'})`)
    cert = {path: files.cert, origin: origin.cert ?? '--tls-cert'}
    key = files.key ? {path: files.key, origin: keyOrigin} : undefined
  } else if (ssl.certfile || ssl.keyfile) {
    if (!ssl.certfile) throw new UsageError(`ssl_keyfile in ${url.masked} is given without ssl_certfile: give the client certificate too`)
    cert = {path: ssl.certfile, origin: FROM_URL('ssl_certfile')}
    key = ssl.keyfile ? {path: ssl.keyfile, origin: FROM_URL('ssl_keyfile')} : undefined
  }
  if (cert) Object.assign(options, clientPair(cert, key, keyOrigin))
  return options
}

// ---------------------------------------------------------------------------------------------
// TLS failures as one line each.
// ---------------------------------------------------------------------------------------------

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA',
])
/** Alerts a broker sends when it does not accept the client certificate it was shown. */
const CLIENT_CERT_REFUSED = /^ERR_SSL_(?:TLSV1_ALERT_(?:UNKNOWN_CA|ACCESS_DENIED|DECRYPT_ERROR)|SSLV3_ALERT_(?:BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE))$/
/** What OpenSSL says when what came back is not TLS at all. */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LENGTH_MISMATCH'])

const PASS_CA = 'pass the CA that signed it with --tls-ca FILE (or ssl_ca_certs=FILE in the URL)'
const PASS_CLIENT = 'pass one with --tls-cert FILE and --tls-key FILE (or ssl_certfile and ssl_keyfile in the URL)'

/** The names a certificate is for: its subject alternative names, else its common name. */
function namesOf(cert: PeerCertificate | undefined): string[] {
  const alt = cert?.subjectaltname
  if (alt) return alt.split(/,\s*/).map((n) => n.replace(/^(?:DNS|IP Address):/, '')).filter((n) => n !== '')
  const cn = cert?.subject?.CN
  return cn ? (Array.isArray(cn) ? cn : [cn]) : []
}

function plainScheme(url: BrokerUrl): string {
  return url.kind === 'redis' ? 'redis://' : 'amqp://'
}

/**
 * Why a connection failed, in one line, when the failure is about TLS (or a plain-text connection
 * to a TLS port); undefined otherwise. `url.tls` says whether the connection spoke TLS.
 */
export function tlsFailure(url: BrokerUrl, error: unknown): string | undefined {
  const e = error as {code?: unknown; message?: unknown; reason?: unknown; host?: unknown; cert?: PeerCertificate}
  const code = typeof e?.code === 'string' ? e.code : ''
  const message = typeof e?.message === 'string' ? e.message : ''
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return `the broker's certificate is self-signed and not trusted: pass it with --tls-ca FILE (or ssl_ca_certs=FILE in the URL)`
  if (UNTRUSTED.has(code)) return `the broker's certificate is not signed by a CA wfctl trusts: ${PASS_CA}`
  if (code === 'CERT_HAS_EXPIRED') return "the broker's certificate has expired (or this machine's clock is wrong)"
  if (code === 'CERT_NOT_YET_VALID') return "the broker's certificate is not valid yet (or this machine's clock is wrong)"
  if (code === 'CERT_REVOKED') return "the broker's certificate has been revoked"
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = namesOf(e.cert)
    const host = typeof e.host === 'string' ? e.host : url.host
    return names.length > 0
      ? `the broker's certificate is for ${names.join(', ')}, not ${host}: connect to it by ${names.length === 1 ? 'that name' : 'one of those names'}`
      : `the broker's certificate is not for ${host}`
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return `the broker asks for a client certificate: ${PASS_CLIENT}`
  if (code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') return `the broker refused the TLS handshake (it may ask for a client certificate: ${PASS_CLIENT})`
  if (CLIENT_CERT_REFUSED.test(code)) {
    const alert = typeof e.reason === 'string' ? e.reason.replace(/^(?:tlsv1|sslv3) alert /, '') : code
    return `the broker refused the client certificate (TLS alert "${alert}"): it must be signed by a CA the broker trusts`
  }
  if (code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' || code === 'ERR_SSL_UNSUPPORTED_PROTOCOL') {
    return 'the broker and wfctl have no TLS version in common (wfctl speaks TLS 1.2 and 1.3)'
  }
  if (NOT_TLS.has(code)) return `port ${url.port} does not speak TLS (a plain-text port): use ${plainScheme(url)}, or the broker's TLS port`
  if (url.kind === 'amqp' && /^Socket closed abruptly during opening handshake/.test(message)) {
    return url.tls
      ? 'the broker closed the connection during the handshake: it may not accept the client certificate given (or want one: --tls-cert, --tls-key)'
      : `the broker closed the connection before the AMQP handshake: if port ${url.port} speaks TLS, use amqps://`
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return `TLS handshake failed (${typeof e.reason === 'string' ? e.reason : code})`
  }
  return undefined
}
