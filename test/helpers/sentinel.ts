// A real Redis Sentinel of the test's own (`redis-server --sentinel`), on a free port of 127.0.0.1,
// with a generated configuration in a temporary directory, monitoring masters the test started
// (test/helpers/private-redis.ts). stop() ends only the process it started and removes the directory.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'

import {freePort} from './private-redis.js'
import {poll} from './poll.js'

export interface SentinelOptions {
  /** The masters to monitor, each by name (a quorum of 1: this sentinel alone decides). */
  masters: {name: string; port: number; host?: string; authPass?: string}[]
  /** The sentinel's own password (requirepass), apart from the masters'. */
  password?: string
  readyTimeoutMs?: number
}

export interface Sentinel {
  port: number
  dir: string
  process: ChildProcess
  /** `sentinel://[:pw@]127.0.0.1:PORT/DB`: `auth` is the MASTER's password, as kombu reads the URL. */
  url: (db?: number, auth?: string) => string
  /** `SENTINEL get-master-addr-by-name` as this sentinel answers it now. */
  masterOf: (name: string) => Promise<[string, string] | null>
  /** Connections this sentinel has accepted so far (INFO stats total_connections_received). */
  connectionsReceived: () => Promise<number>
  log: () => string
  /** SIGTERM (SIGKILL after 10 s), wait for the exit, remove the directory. */
  stop: () => Promise<void>
}

export async function startSentinel(opts: SentinelOptions): Promise<Sentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-sentinel-'))
  const port = await freePort()
  const lines = [
    `port ${port}`, 'bind 127.0.0.1', 'daemonize no', 'protected-mode no', `dir ${dir}`, 'logfile ""',
    ...(opts.password ? [`requirepass ${opts.password}`] : []),
    ...opts.masters.flatMap((m) => [
      `sentinel monitor ${m.name} ${m.host ?? '127.0.0.1'} ${m.port} 1`,
      ...(m.authPass ? [`sentinel auth-pass ${m.name} ${m.authPass}`] : []),
    ]),
  ]
  // Sentinel rewrites its configuration file: it must be a file of its own, writable.
  const config = join(dir, 'sentinel.conf')
  writeFileSync(config, `${lines.join('\n')}\n`)
  let output = ''
  const child = spawn('redis-server', [config, '--sentinel'], {cwd: dir, stdio: ['ignore', 'pipe', 'pipe']})
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  child.on('error', (e) => (output += `spawn error: ${e.message}\n`))
  const client = () => new Redis({host: '127.0.0.1', port, password: opts.password, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null})
  const ask = async (...args: string[]): Promise<unknown> => {
    const c = client()
    c.on('error', () => {})
    try {
      await c.connect()
      return await c.call(...(args as [string, ...string[]]))
    } finally {
      c.disconnect()
    }
  }
  const masterOf = async (name: string) => (await ask('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null
  const stop = async () => {
    try {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }
  // Ready once it answers for every master it monitors.
  const ready = await poll(async () => {
    if (child.exitCode !== null) return false
    try {
      for (const m of opts.masters) if ((await masterOf(m.name))?.[1] !== String(m.port)) return false
      return true
    } catch {
      return false
    }
  }, Boolean, opts.readyTimeoutMs ?? 10_000, 50)
  if (!ready) {
    await stop()
    throw new Error(`redis-server --sentinel on port ${port} not ready:\n${output}`)
  }
  return {
    port,
    dir,
    process: child,
    url: (db = 0, auth?: string) => `sentinel://${auth ? `:${auth}@` : ''}127.0.0.1:${port}/${db}`,
    masterOf,
    connectionsReceived: async () => Number(/total_connections_received:(\d+)/.exec(String(await ask('INFO', 'stats')))?.[1] ?? NaN),
    log: () => output,
    stop,
  }
}
