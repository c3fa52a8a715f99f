// TLS fixtures: certificates made with openssl in a temporary directory, a private TLS redis-server,
// and a TLS listener in front of the shared RabbitMQ (a node:tls server that pipes to 127.0.0.1:5672).
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {connect as netConnect, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {connect as tlsConnect, createServer, type TLSSocket} from 'node:tls'
import {promisify} from 'node:util'

import {AMQP_HOST, AMQP_PORT} from './brokers.js'
import {freePort, waitForPing} from './private-redis.js'

const exec = promisify(execFile)

/** A certificate and its private key, as PEM file paths. */
export interface Pair {
  cert: string
  key: string
}

export interface Certificates {
  dir: string
  /** The test CA's certificate: it signed every pair below. */
  ca: string
  /** A CA that signed none of them ("unknown CA" when a client trusts only it). */
  otherCa: string
  /** For IP 127.0.0.1 and DNS localhost, valid now. */
  server: Pair
  /** For 127.0.0.1 and localhost, valid only in January 2020. */
  expired: Pair
  /** For DNS wrong.example only. */
  wrongHost: Pair
  /** Self-signed (no CA), for 127.0.0.1 and localhost. */
  selfSigned: Pair
  /** A client certificate signed by the test CA. */
  client: Pair
  /** A client certificate signed by otherCa (a server that trusts the test CA refuses it). */
  strangerClient: Pair
  /** A client certificate and its key in one PEM file (Python's certfile form). */
  clientCombined: string
  remove: () => void
}

const CA_CONFIG = `[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
`

async function openssl(dir: string, ...args: string[]): Promise<void> {
  try {
    await exec('openssl', args, {cwd: dir, timeout: 30_000})
  } catch (error) {
    const e = error as {stderr?: string; message: string}
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`)
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** A CA, server certificates (valid, expired, for the wrong host, self-signed) and client certificates. */
export async function makeCertificates(): Promise<Certificates> {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-tls-'))
  const at = (name: string) => join(dir, name)
  try {
    writeFileSync(at('ca.cnf'), CA_CONFIG)
    writeFileSync(at('index.txt'), '')
    writeFileSync(at('serial'), '01\n')
    writeFileSync(at('local.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    writeFileSync(at('wrong.ext'), 'subjectAltName=DNS:wrong.example\n')
    writeFileSync(at('client.ext'), 'extendedKeyUsage=clientAuth\n')
    await Promise.all([
      openssl(dir, 'req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=wfctl test CA'),
      openssl(dir, 'req', '-x509', ...EC, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '30', '-subj', '/CN=wfctl other CA'),
      openssl(dir, 'req', '-x509', ...EC, '-keyout', 'self.key', '-out', 'self.crt', '-days', '30', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'),
      ...['server', 'expired', 'wrong', 'client', 'stranger'].map((name) => openssl(dir, 'req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=wfctl ${name}`)),
    ])
    // `openssl ca` one at a time: it keeps its serial and index in files.
    const sign = (csr: string, out: string, ext: string, ca = 'ca', dates = ['-days', '30']) =>
      openssl(dir, 'ca', '-config', 'ca.cnf', '-batch', '-notext', '-cert', `${ca}.crt`, '-keyfile', `${ca}.key`, '-in', csr, '-out', out, '-extfile', ext, ...dates)
    await sign('server.csr', 'server.crt', 'local.ext')
    await sign('expired.csr', 'expired.crt', 'local.ext', 'ca', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'])
    await sign('wrong.csr', 'wrong.crt', 'wrong.ext')
    await sign('client.csr', 'client.crt', 'client.ext')
    await sign('stranger.csr', 'stranger.crt', 'client.ext', 'other-ca')
    writeFileSync(at('client-combined.pem'), readFileSync(at('client.crt'), 'utf8') + readFileSync(at('client.key'), 'utf8'))
  } catch (error) {
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  const pair = (name: string): Pair => ({cert: at(`${name}.crt`), key: at(`${name}.key`)})
  return {
    dir,
    ca: at('ca.crt'),
    otherCa: at('other-ca.crt'),
    server: pair('server'),
    expired: pair('expired'),
    wrongHost: pair('wrong'),
    selfSigned: pair('self'),
    client: pair('client'),
    strangerClient: pair('stranger'),
    clientCombined: at('client-combined.pem'),
    remove: () => rmSync(dir, {recursive: true, force: true}),
  }
}

export interface TlsRedis {
  port: number
  /** `rediss://127.0.0.1:PORT/DB`, plus `?query` when given. */
  url: (db?: number, query?: string) => string
  log: () => string
  stop: () => Promise<void>
}

/** Resolves once the server answers PING over TLS (showing `client`; its certificate is not checked: it may be a bad one on purpose), or throws at the deadline. */
function waitForTlsPing(port: number, client: Pair, deadlineMs: number, exited: () => boolean): Promise<void> {
  const options = {host: '127.0.0.1', port, cert: readFileSync(client.cert), key: readFileSync(client.key), rejectUnauthorized: false}
  return waitForPing(port, deadlineMs, exited, () => ({socket: tlsConnect(options), ready: 'secureConnect'}))
}

/**
 * A redis-server of the test's own that speaks only TLS (`--port 0 --tls-port P`), presenting
 * `server` (default: the valid one), trusting the test CA for client certificates; with
 * `authClients` it refuses clients without one.
 */
export async function startTlsRedis(certs: Certificates, opts: {server?: Pair; authClients?: boolean} = {}): Promise<TlsRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-tls-redis-'))
  const port = await freePort()
  const server = opts.server ?? certs.server
  const args = [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', '--protected-mode', 'no', '--logfile', '',
    '--tls-cert-file', server.cert, '--tls-key-file', server.key, '--tls-ca-cert-file', certs.ca,
    '--tls-auth-clients', opts.authClients ? 'yes' : 'no',
  ]
  let output = ''
  const child: ChildProcess = spawn('redis-server', args, {cwd: dir, stdio: ['ignore', 'pipe', 'pipe']})
  let gone = false
  const exited = new Promise<void>((resolve) => child.on('close', () => {
    gone = true
    resolve()
  }))
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  child.on('error', (e) => (output += `spawn error: ${e.message}\n`))
  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, {recursive: true, force: true})
  }
  try {
    await waitForTlsPing(port, certs.client, 10_000, () => gone)
  } catch (error) {
    await stop()
    throw new Error(`${(error as Error).message}\n${output.slice(0, 4000)}`)
  }
  return {
    port,
    url: (db = 0, query?: string) => `rediss://127.0.0.1:${port}/${db}${query ? `?${query}` : ''}`,
    log: () => output,
    stop,
  }
}

export interface TlsListener {
  port: number
  /** `amqps://guest:guest@127.0.0.1:PORT/VHOST`, plus `?query` when given. */
  url: (vhost: string, query?: string) => string
  /** Connections that completed the TLS handshake so far. */
  accepted: () => number
  stop: () => Promise<void>
}

/**
 * A TLS listener on a free port of 127.0.0.1 in front of the shared RabbitMQ: each connection that
 * completes the handshake is piped to 127.0.0.1:5672. With `requireClientCert` it asks for a client
 * certificate signed by the test CA and refuses a connection without one.
 */
export async function startTlsListener(certs: Certificates, opts: {server?: Pair; requireClientCert?: boolean} = {}): Promise<TlsListener> {
  const server = opts.server ?? certs.server
  const sockets = new Set<Socket>()
  let accepted = 0
  const listener = createServer(
    {cert: readFileSync(server.cert), key: readFileSync(server.key), ca: readFileSync(certs.ca), requestCert: Boolean(opts.requireClientCert), rejectUnauthorized: Boolean(opts.requireClientCert)},
    (front: TLSSocket) => {
      accepted += 1
      const back = netConnect({host: AMQP_HOST, port: AMQP_PORT})
      sockets.add(front)
      sockets.add(back)
      const end = () => {
        front.destroy()
        back.destroy()
      }
      front.on('close', () => sockets.delete(front))
      back.on('close', () => sockets.delete(back))
      front.on('error', end)
      back.on('error', end)
      front.on('end', end)
      back.on('end', end)
      front.pipe(back)
      back.pipe(front)
    },
  )
  // A client that fails the handshake (no certificate, plain text) ends there.
  listener.on('tlsClientError', () => {})
  listener.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject)
    listener.listen(0, '127.0.0.1', () => resolve())
  })
  const {port} = listener.address() as {port: number}
  return {
    port,
    url: (vhost: string, query?: string) => `amqps://guest:guest@127.0.0.1:${port}/${encodeURIComponent(vhost)}${query ? `?${query}` : ''}`,
    accepted: () => accepted,
    stop: async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}
