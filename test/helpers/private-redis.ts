// A redis-server of the test's own, on a free port of 127.0.0.1, in a temporary directory: a test
// may restart it, freeze it (SIGSTOP) or create restricted users without touching the shared Redis.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, connect, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'

export interface PrivateRedis {
  port: number
  dir: string
  url: (db?: number, auth?: string) => string
  /** The current server process (changes after restart()). */
  process: () => ChildProcess
  /** A client of the admin (default) user. */
  client: (db?: number) => Redis
  /** SIGTERM, wait for the exit, start again on the same port and directory. */
  restart: () => Promise<void>
  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  pause: () => void
  /** SIGCONT. */
  resume: () => void
  /** Runs `ACL ...` as the admin user, e.g. acl('SETUSER', 'limited', 'on', '>pw', '~*', '&*', '+@all', '-del'). */
  acl: (...args: string[]) => Promise<unknown>
  /** The server's log so far (for assertion messages). */
  log: () => string
  /** Stops the server (SIGCONT first if paused) and removes its directory. */
  stop: () => Promise<void>
}

/** A TCP port nothing listens on right now (the kernel's pick). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts connections on the port and answers PING, or throws at the deadline. */
/**
 * Resolves once a redis-server answers PING on `port` (over the socket `open` makes: plain TCP by
 * default, TLS for a TLS port), or throws at the deadline or when the server exits.
 */
export async function waitForPing(
  port: number,
  deadlineMs: number,
  exited: () => boolean,
  open: () => {socket: Socket; ready: 'connect' | 'secureConnect'} = () => ({socket: connect({host: '127.0.0.1', port}), ready: 'connect'}),
): Promise<void> {
  const end = performance.now() + deadlineMs
  for (;;) {
    if (exited()) throw new Error(`redis-server on port ${port} exited while starting`)
    const ok = await new Promise<boolean>((resolve) => {
      const {socket, ready} = open()
      const timer = setTimeout(() => {
        socket.destroy()
        resolve(false)
      }, 1000)
      socket.on(ready, () => socket.write('PING\r\n'))
      socket.on('data', (d) => {
        clearTimeout(timer)
        socket.destroy()
        resolve(d.toString().startsWith('+PONG'))
      })
      socket.on('error', () => {
        clearTimeout(timer)
        socket.destroy()
        resolve(false)
      })
    })
    if (ok) return
    if (performance.now() >= end) throw new Error(`redis-server on port ${port} not ready within ${deadlineMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export async function startPrivateRedis(opts: {appendonly?: boolean; readyTimeoutMs?: number} = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-private-redis-'))
  const port = await freePort()
  let output = ''
  let child: ChildProcess
  let exited: Promise<void>
  let paused = false
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no',
    '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--protected-mode', 'no', '--logfile', '',
  ]
  const launch = async () => {
    child = spawn('redis-server', args, {cwd: dir, stdio: ['ignore', 'pipe', 'pipe']})
    let gone = false
    exited = new Promise((resolve) => child.on('close', () => {
      gone = true
      resolve()
    }))
    child.stdout!.on('data', (d) => (output += d))
    child.stderr!.on('data', (d) => (output += d))
    child.on('error', (e) => (output += `spawn error: ${e.message}\n`))
    try {
      await waitForPing(port, opts.readyTimeoutMs ?? 10_000, () => gone)
    } catch (error) {
      child.kill('SIGKILL')
      throw new Error(`${(error as Error).message}\n${output}`)
    }
  }
  const terminate = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    if (paused) child.kill('SIGCONT')
    paused = false
    child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL')
        resolve()
      }, 10_000)
    })
    await Promise.race([exited, killed])
    await exited
    clearTimeout(timer)
  }
  try {
    await launch()
  } catch (error) {
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  const client = (db = 0) => new Redis({host: '127.0.0.1', port, db, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null})
  return {
    port,
    dir,
    url: (db = 0, auth?: string) => `redis://${auth ? `${auth}@` : ''}127.0.0.1:${port}/${db}`,
    process: () => child,
    client,
    restart: async () => {
      await terminate()
      await launch()
    },
    pause: () => {
      paused = true
      child.kill('SIGSTOP')
    },
    resume: () => {
      if (!paused) return
      paused = false
      child.kill('SIGCONT')
    },
    acl: async (...aclArgs: string[]) => {
      const admin = client()
      try {
        return await admin.call('ACL', ...aclArgs)
      } finally {
        admin.disconnect()
      }
    },
    log: () => output,
    stop: async () => {
      try {
        await terminate()
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    },
  }
}
