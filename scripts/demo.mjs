#!/usr/bin/env node
// npm run demo: wfctl at work on a fresh machine. Starts a small simulated fleet (`wfctl simulate`)
// on the local broker under names of its own, runs status, inspect stats, check and a targeted
// add-consumer against it, shows each command line and its real output, stops the fleet and
// checks that the broker is left as it was.
//
// Broker: $WFCTL_DEMO_BROKER if set (e.g. amqp://guest:guest@localhost:5672//), else DB 14 of the
// Redis on 127.0.0.1:$WFCTL_DEMO_REDIS_PORT (6379). When nothing answers there, it starts a private
// redis-server on a free port in a temporary directory and stops it at the end (installing
// redis-server first with scripts/ensure-redis.sh when it runs as root on an apt system).
//
// Names: WFCTL_DEMO_ID (default wfctl-demo-<random>) is the control exchange and, plus ":", the
// Redis key prefix; the nodes are worker1@demo-<random> … (the ID without "wfctl-" as host part).
// So the demo never reaches a real fleet on the same broker, and what it leaves can be checked.
//
// Builds first (npm run build) when dist/ is missing or older than src/, unless
// WFCTL_DEMO_SKIP_BUILD=1. Exit 0 when every step did what it shows, 1 when one failed (2 for a bad
// WFCTL_DEMO_ID), 130 on Ctrl-C; the fleet and any private Redis are stopped on every path.
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, readdirSync, rmSync, statSync} from 'node:fs'
import {connect, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {delimiter, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'bin', 'run.js')
const DB = 14 // no fleet runs there: the test tiers use DBs 1-13 (and 14 only under prefixes of their own), the benchmark 15
const WORKERS = 3
const QUEUES = ['celery', 'reports']
const NEW_QUEUE = 'emails'
const READY_MS = 20_000 // deadline for the fleet to come up and answer a ping
const STEP_MS = 30_000 // deadline for each wfctl command
const STOP_MS = 10_000 // deadline for the fleet to exit once stopped

const color = Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env)
const bold = (s) => (color ? `\x1b[1m${s}\x1b[0m` : s)
const dim = (s) => (color ? `\x1b[2m${s}\x1b[0m` : s)
const say = (line = '') => process.stdout.write(`${line}\n`)

class DemoError extends Error {}

// ---------------------------------------------------------------------------------------------
// Names and broker
// ---------------------------------------------------------------------------------------------

const ID = process.env.WFCTL_DEMO_ID || `wfctl-demo-${randomBytes(3).toString('hex')}`
if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ID)) {
  process.stderr.write(`demo: WFCTL_DEMO_ID may hold letters, digits, "_", "." and "-" (at most 64), got ${JSON.stringify(ID)}\n`)
  process.exit(2)
}
const KEY_PREFIX = `${ID}:`
const HOST = ID.replace(/^wfctl-(?=.)/, '')
const NODES = Array.from({length: WORKERS}, (_, i) => `worker${i + 1}@${HOST}`)
const TARGET = NODES[1]

/** A broker URL with its password masked, as wfctl shows it (user and password split as kombu does). */
const maskUrl = (url) =>
  url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#]*@/i, '$1****@').replace(/((?:pass|pwd|secret|token|auth)[\w.-]*=)[^&#]*/gi, '$1****')

/** The shell form of an argument list. */
const shell = (args) => args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')

// ---------------------------------------------------------------------------------------------
// Processes we own, stopped on every exit path
// ---------------------------------------------------------------------------------------------

let interrupted = false
let fleet // the `wfctl simulate` child
let step // the wfctl child of the current step
let privateRedis // {child, dir, port}

const exited = (child) => child.exitCode !== null || child.signalCode !== null
const waitExit = (child) => (exited(child) ? Promise.resolve() : new Promise((resolve) => child.once('close', resolve)))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** SIGINT (wfctl cleans the broker up on it), then SIGKILL at the deadline. */
async function stopChild(child, signal = 'SIGINT', ms = STOP_MS) {
  if (!child || exited(child)) return
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  await waitExit(child)
  clearTimeout(timer)
}

async function stopPrivateRedis() {
  if (!privateRedis) return
  const {child, dir} = privateRedis
  privateRedis = undefined
  await stopChild(child, 'SIGTERM')
  rmSync(dir, {recursive: true, force: true})
}

// A reader that goes away (`npm run demo | head`) must not leave the fleet or a private Redis
// running: stop writing, and on any exit signal what is still running.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
process.on('exit', () => {
  if (step && !exited(step)) step.kill('SIGINT')
  if (fleet && !exited(fleet)) fleet.kill('SIGINT')
  if (privateRedis) {
    privateRedis.child.kill('SIGTERM')
    rmSync(privateRedis.dir, {recursive: true, force: true})
  }
})

/**
 * After a signal to the demo: a Ctrl-C on a terminal reached the wfctl children too (one process
 * group), and a second signal would make them exit at once, without cleaning up. So each child
 * gets a moment to exit by itself, then one SIGINT, then SIGKILL at the deadline.
 */
async function settleChild(child) {
  if (!child || exited(child)) return
  const end = performance.now() + 1500
  while (!exited(child) && performance.now() < end) await sleep(25)
  await stopChild(child)
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    say()
    say('demo: interrupted, stopping the simulated fleet')
    void (async () => {
      await Promise.all([settleChild(step), settleChild(fleet)])
      await removeLeftovers()
      await stopPrivateRedis()
      process.exit(130)
    })()
  })
}

// ---------------------------------------------------------------------------------------------
// Build
// ---------------------------------------------------------------------------------------------

/** The newest (or oldest) modification time of the files under a path. */
function mtimes(path, pick, start) {
  if (!existsSync(path)) return start
  const st = statSync(path)
  if (!st.isDirectory()) return pick(start, st.mtimeMs)
  return readdirSync(path).reduce((acc, name) => mtimes(join(path, name), pick, acc), start)
}

/**
 * Builds through `npm run build` (whatever it does) when dist/ is missing or older than what it is
 * built from; `npm ci` builds already, so the first `npm run demo` after it does not.
 */
function buildIfStale() {
  if (process.env.WFCTL_DEMO_SKIP_BUILD === '1') return
  const inputs = ['src', 'tsconfig.json', 'scripts/build.mjs', 'scripts/manifest.mjs'].map((p) => join(ROOT, p))
  const newestInput = inputs.reduce((acc, p) => mtimes(p, Math.max, acc), 0)
  const oldestOutput = mtimes(join(ROOT, 'dist'), Math.min, Infinity)
  if (oldestOutput !== Infinity && oldestOutput >= newestInput) return
  say(dim('demo: building wfctl first (npm run build)'))
  const npm = process.env.npm_execpath
  const r = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build', '--silent'], {cwd: ROOT, stdio: 'inherit'})
    : spawnSync('npm', ['run', 'build', '--silent'], {cwd: ROOT, stdio: 'inherit'})
  if (r.status !== 0) throw new DemoError(`the build failed (${r.error?.message ?? `exit ${r.status}`}): run npm run build to see why`)
}

// ---------------------------------------------------------------------------------------------
// Redis: the local one, or a private one
// ---------------------------------------------------------------------------------------------

/** 'pong', 'auth' (a Redis that wants a password), 'other' (something else answers) or 'none'. */
function probeRedis(port, ms = 1000) {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    let data = ''
    const done = (result) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done(data ? 'other' : socket.connecting ? 'none' : 'other'), ms)
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d) => {
      data += d.toString('latin1')
      if (!data.includes('\r\n')) return
      if (data.startsWith('+PONG')) done('pong')
      else if (/^-(NOAUTH|WRONGPASS|ERR AUTH|NOPERM)/.test(data)) done('auth')
      else done('other')
    })
    socket.on('error', () => done('none'))
  })
}

function onPath(cmd) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin']
  for (const dir of dirs) if (dir && existsSync(join(dir, cmd))) return join(dir, cmd)
  return undefined
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function startPrivateRedis(probedPort) {
  let server = onPath('redis-server')
  if (!server) {
    const root = process.getuid?.() === 0
    if (root && onPath('apt-get')) {
      say(`demo: no Redis answers on 127.0.0.1:${probedPort} and redis-server is not installed: installing it (scripts/ensure-redis.sh)`)
      const r = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-redis.sh'), '--install-only'], {stdio: 'inherit'})
      if (r.status !== 0) throw new DemoError('could not install redis-server')
      server = onPath('redis-server')
    }
    if (!server) {
      throw new DemoError(
        `no Redis answers on 127.0.0.1:${probedPort} and redis-server is not installed: install it (sudo apt-get install redis-server, ` +
          'or sudo bash scripts/ensure-redis.sh), or point the demo at a broker: WFCTL_DEMO_BROKER=amqp://guest:guest@localhost:5672// npm run demo',
      )
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-demo-redis-'))
  const port = await freePort()
  let output = ''
  const child = spawn(server, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', '--protected-mode', 'no', '--logfile', ''], {cwd: dir, stdio: ['ignore', 'pipe', 'pipe']})
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  child.on('error', (e) => (output += `${e.message}\n`))
  privateRedis = {child, dir, port}
  const end = performance.now() + 10_000
  while ((await probeRedis(port, 500)) !== 'pong') {
    if (exited(child) || performance.now() > end) {
      await stopPrivateRedis()
      throw new DemoError(`the private redis-server did not start:\n${output.trim().split('\n').slice(-5).join('\n')}`)
    }
    await sleep(50)
  }
  say(`demo: no Redis answers on 127.0.0.1:${probedPort}: started a private redis-server on 127.0.0.1:${port} (stopped at the end)`)
  return port
}

/** The broker URL to use, and what kind it is. */
async function chooseBroker() {
  const given = process.env.WFCTL_DEMO_BROKER
  if (given) {
    if (!/^(rediss?|amqps?|pyamqp):\/\//i.test(given)) throw new DemoError(`WFCTL_DEMO_BROKER must be a redis://, rediss://, amqp://, amqps:// or pyamqp:// URL, got ${maskUrl(given)}`)
    return {url: given, kind: /^rediss?:/i.test(given) ? 'redis' : 'amqp'}
  }
  const port = Number(process.env.WFCTL_DEMO_REDIS_PORT || 6379)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DemoError(`WFCTL_DEMO_REDIS_PORT must be a port number, got ${JSON.stringify(process.env.WFCTL_DEMO_REDIS_PORT)}`)
  const found = await probeRedis(port)
  if (found === 'pong') return {url: `redis://127.0.0.1:${port}/${DB}`, kind: 'redis'}
  if (found === 'auth') throw new DemoError(`the Redis on 127.0.0.1:${port} wants a password: WFCTL_DEMO_BROKER=redis://:PASSWORD@127.0.0.1:${port}/${DB} npm run demo`)
  if (found === 'other') throw new DemoError(`something on 127.0.0.1:${port} answers, but not as a Redis: set WFCTL_DEMO_BROKER to your broker's URL`)
  const privatePort = await startPrivateRedis(port)
  return {url: `redis://127.0.0.1:${privatePort}/${DB}`, kind: 'redis'}
}

// ---------------------------------------------------------------------------------------------
// wfctl
// ---------------------------------------------------------------------------------------------

let broker // {url, kind}
const namespace = () => ['-b', broker.url, '--control-exchange', ID, ...(broker.kind === 'redis' ? ['--redis-key-prefix', KEY_PREFIX] : [])]
const shown = (args) => `$ wfctl ${shell(args.map((a) => (a === broker.url ? maskUrl(a) : a)))}`

/** Runs wfctl quietly (no output shown) and returns its exit code and output. */
function wfctlQuiet(args, ms = STEP_MS) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, ...namespace()], {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    step = child
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGINT'), ms)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code: code ?? (signal ? 128 : 1), out})
    })
  })
}

/** Shows the command line, runs it with its own stdout and stderr, and fails the demo on an unexpected exit code. */
function wfctlStep(title, args, expect = 0) {
  if (interrupted) return new Promise(() => {})
  say()
  say(bold(`# ${title}`))
  const full = [...args, ...namespace()]
  say(shown(full))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...full], {cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit']})
    step = child
    const timer = setTimeout(() => child.kill('SIGINT'), STEP_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      step = undefined
      if (interrupted) return // the signal handler exits
      if (code === expect) resolve()
      else reject(new DemoError(`\`wfctl ${args.slice(0, 2).join(' ')}\` exited ${code ?? signal}, expected ${expect}`))
    })
  })
}

/** Starts `wfctl simulate` and waits until every worker answers a ping. */
async function startFleet() {
  const args = ['simulate', '--workers', String(WORKERS), '--name-prefix', 'worker', '--hostname', HOST, '--queues', QUEUES.join(','), ...namespace()]
  say(bold(`# Start ${WORKERS} simulated Celery workers in the background`))
  say(`${shown(args)} &`)
  let log = ''
  const child = spawn(process.execPath, [BIN, ...args], {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
  fleet = child
  const forward = (d) => {
    log += d
    if (!interrupted) process.stdout.write(d)
  }
  child.stdout.on('data', forward)
  child.stderr.on('data', forward)
  child.on('error', (e) => (log += `${e.message}\n`))
  const end = performance.now() + READY_MS
  while (!/simulated workers? \(/.test(log)) {
    if (exited(child)) throw new DemoError(`wfctl simulate exited ${child.exitCode ?? child.signalCode} before its workers were up`)
    if (performance.now() > end) throw new DemoError(`the simulated workers were not up within ${READY_MS / 1000} s`)
    await sleep(25)
  }
  for (;;) {
    const ping = await wfctlQuiet(['control', 'ping', '--expect', NODES.join(','), '-t', '1', '--json'])
    if (interrupted) return new Promise(() => {})
    if (ping.code === 0) return
    if (exited(child)) throw new DemoError(`wfctl simulate exited ${child.exitCode ?? child.signalCode}`)
    if (performance.now() > end) throw new DemoError(`the simulated workers did not answer a ping within ${READY_MS / 1000} s:\n${ping.out.trim()}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Leftovers: everything the demo's names could have created on the broker
// ---------------------------------------------------------------------------------------------

async function redisLeftovers(clean) {
  const {Redis} = await import('ioredis')
  const redis = new Redis(broker.url, {maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: () => null, lazyConnect: true})
  redis.on('error', () => {})
  try {
    await redis.connect()
    const found = new Set()
    // The key prefix, and the names anywhere else (a key written without the prefix, a member of a
    // shared binding set).
    for (const match of [`${KEY_PREFIX}*`, `*${ID}*`, `*@${HOST}.*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match.replace(/([?[\]\\])/g, '\\$1'), 'COUNT', 1000)
        for (const k of keys) found.add(k)
        cursor = next
      } while (cursor !== '0')
    }
    const members = []
    for (const set of ['_kombu.binding.celery.pidbox', '_kombu.binding.reply.celery.pidbox', '_kombu.binding.celeryev']) {
      if ((await redis.type(set)) !== 'set') continue
      for (const m of await redis.smembers(set)) if (m.includes(ID) || m.includes(`@${HOST}.`)) members.push([set, m])
    }
    if (clean) {
      if (found.size > 0) await redis.del(...found)
      for (const [set, m] of members) await redis.srem(set, m)
    }
    return [...found, ...members.map(([set, m]) => `${set} member ${JSON.stringify(m)}`)]
  } finally {
    redis.disconnect()
  }
}

async function amqpLeftovers(clean) {
  const amqp = (await import('amqplib')).default
  const conn = await amqp.connect(broker.url.replace(/^pyamqp:/i, 'amqp:'), {timeout: 3000})
  conn.on('error', () => {})
  const found = []
  try {
    // A check of a missing queue or exchange closes the channel (404): one channel per check.
    const exists = async (kind, name) => {
      const ch = await conn.createChannel()
      ch.on('error', () => {})
      try {
        await (kind === 'queue' ? ch.checkQueue(name) : ch.checkExchange(name))
        return true
      } catch {
        return false
      } finally {
        await ch.close().catch(() => {})
      }
    }
    for (const node of NODES) if (await exists('queue', `${node}.${ID}.pidbox`)) found.push(`queue ${node}.${ID}.pidbox`)
    // Celery leaves its pidbox exchanges in place; these two are the demo's own names, so it removes them.
    for (const exchange of [`${ID}.pidbox`, `reply.${ID}.pidbox`]) {
      if (!(await exists('exchange', exchange))) continue
      const ch = await conn.createChannel()
      ch.on('error', () => {})
      await ch.deleteExchange(exchange).catch(() => {})
      await ch.close().catch(() => {})
    }
    if (clean) {
      for (const node of NODES) {
        const ch = await conn.createChannel()
        ch.on('error', () => {})
        await ch.deleteQueue(`${node}.${ID}.pidbox`).catch(() => {})
        await ch.close().catch(() => {})
      }
    }
    return found
  } finally {
    await conn.close().catch(() => {})
  }
}

const leftovers = (clean = false) => (broker.kind === 'redis' ? redisLeftovers(clean) : amqpLeftovers(clean))

/** Removes what is left under the demo's own names (after a failure or an interrupt), and says so. */
async function removeLeftovers() {
  if (!broker) return
  try {
    const removed = await leftovers(true)
    if (removed.length > 0) process.stderr.write(`demo: removed what was left on the broker under the demo's names: ${removed.join(', ')}\n`)
  } catch {
    // the broker is gone: nothing to remove
  }
}

// ---------------------------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------------------------

async function demo() {
  buildIfStale()
  broker = await chooseBroker()
  say(`wfctl demo: ${WORKERS} simulated Celery workers on ${maskUrl(broker.url)}, under names of their own (control exchange ${ID}` +
    `${broker.kind === 'redis' ? `, key prefix ${KEY_PREFIX}` : ''}): a real fleet on this broker is not disturbed.`)
  say(dim(`"wfctl" below is ${BIN.replace(`${ROOT}/`, './')}; to run it by that name: npm link.`))
  say()

  await startFleet()
  await wfctlStep('Which workers are online? (one ping to all)', ['status'])
  await wfctlStep('Their statistics; --expect returns as soon as all three answered', ['inspect', 'stats', '--expect', String(WORKERS)])
  await wfctlStep('A health check, as a cron job or a probe runs it (exit 0 = OK)', ['check', '--expect', String(WORKERS), '--queue', 'reports'])
  await wfctlStep(`Tell one worker only to consume from the queue "${NEW_QUEUE}"`, ['control', 'add-consumer', NEW_QUEUE, '-d', TARGET])
  await wfctlStep(`The queues ${TARGET} consumes now`, ['inspect', 'active-queues', '-d', TARGET])

  // Ctrl-C to `wfctl simulate`: its workers send worker-offline and remove their mailboxes.
  say()
  say(bold('# Stop the fleet, as Ctrl-C does: the workers leave and remove their mailboxes'))
  say(`$ kill -INT %1   ${dim(`# wfctl simulate, pid ${fleet.pid}`)}`)
  await stopChild(fleet)
  if (interrupted) return new Promise(() => {})
  if (fleet.exitCode !== 130) throw new DemoError(`wfctl simulate exited ${fleet.exitCode ?? fleet.signalCode} on SIGINT, expected 130`)
  say(`wfctl simulate exited 130 (interrupted, after cleaning up the broker)`)

  const left = await leftovers()
  say()
  if (left.length > 0) throw new DemoError(`the broker still holds what the demo created: ${left.join(', ')}`)
  say(`✔ The broker is clean: nothing under ${broker.kind === 'redis' ? `the key prefix ${KEY_PREFIX}` : `the control exchange ${ID}`} is left on ${maskUrl(broker.url)}.`)
  say()
  say('Next: wfctl status -b redis://HOST:6379/0 against your own workers (or set WFCTL_BROKER_URL; Airflow\'s is read by itself),')
  say('wfctl --help for every command, and wfctl simulate --workers 5 for a fleet of your own to try them on.')
}

let code = 0
try {
  await demo()
} catch (error) {
  if (!interrupted) {
    process.stderr.write(`\ndemo: ${error instanceof DemoError ? error.message : (error?.stack ?? error)}\n`)
    code = 1
  }
} finally {
  if (!interrupted) {
    await stopChild(step)
    await stopChild(fleet)
    // Whatever a failed step or a killed fleet left behind under the demo's own names goes too.
    if (code !== 0) await removeLeftovers()
    await stopPrivateRedis()
  }
}
if (!interrupted) process.exit(code)
