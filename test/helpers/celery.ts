import {spawn, type ChildProcess} from 'node:child_process'
import {hostname} from 'node:os'

import {ROOT} from './cli.js'
import {token} from './brokers.js'

/** Debian's interpreter, the one python3-celery is installed for (not the python3 first on PATH). */
export const PYTHON = process.env.WFCTL_TEST_PYTHON ?? '/usr/bin/python3'
const FIXTURES = `${ROOT}test/interop/fixtures`

export interface WorkerOptions {
  broker: string
  /** The part before @; a random one by default. The host part is this machine's name, as %h gives. */
  name?: string
  /** The whole node name (`celery@airhost`), instead of `name` and this machine's name. */
  node?: string
  queues?: string[]
  pool?: 'solo' | 'prefork' | 'threads'
  concurrency?: number
  keyPrefix?: string
  controlExchange?: string
  extraArgs?: string[]
  readyTimeoutMs?: number
  /** Merged into the app's broker_transport_options (e.g. {master_name: 'mymaster'}). */
  transportOptions?: Record<string, unknown>
  /** Merged into the app's configuration (e.g. {broker_use_ssl: {...}}). */
  conf?: Record<string, unknown>
  /** More environment for the worker process. */
  env?: NodeJS.ProcessEnv
  /**
   * Which of Celery's start-up extras to keep. By default all are off, so a worker is ready in
   * about half a second; without heartbeats (and without -E) a worker has no event dispatcher.
   */
  keep?: {heartbeat?: boolean | number; gossip?: boolean; mingle?: boolean}
}

export interface Worker {
  node: string
  process: ChildProcess
  /** Resolves with the exit code when the worker process has ended. */
  exited: Promise<number | null>
  log: () => string
  /** Stops the worker if it still runs (SIGTERM, then SIGKILL), and waits for it to end. */
  stop: () => Promise<void>
}

type CeleryEnvOptions = {broker: string; keyPrefix?: string; controlExchange?: string; transportOptions?: Record<string, unknown>; conf?: Record<string, unknown>; env?: NodeJS.ProcessEnv}

function celeryEnv(opts: CeleryEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, ...opts.env, WFCTL_TEST_BROKER: opts.broker, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1'}
  if (opts.keyPrefix) env.WFCTL_TEST_KEY_PREFIX = opts.keyPrefix
  if (opts.controlExchange) env.WFCTL_TEST_CONTROL_EXCHANGE = opts.controlExchange
  if (opts.transportOptions) env.WFCTL_TEST_TRANSPORT_OPTIONS = JSON.stringify(opts.transportOptions)
  if (opts.conf) env.WFCTL_TEST_CELERY_CONF = JSON.stringify(opts.conf)
  return env
}

/** Starts a real Celery worker (Debian's python3-celery) and waits until it says it is ready. */
export async function startWorker(opts: WorkerOptions): Promise<Worker> {
  const name = opts.name ?? `w${token()}`
  const node = opts.node ?? `${name}@${hostname()}`
  const args = [
    '-m', 'celery', '-A', 'wfctl_tasks', 'worker', '-n', node, '-l', 'info',
    '-P', opts.pool ?? 'solo',
    ...(opts.keep?.heartbeat ? (typeof opts.keep.heartbeat === 'number' ? ['--heartbeat-interval', String(opts.keep.heartbeat)] : []) : ['--without-heartbeat']),
    ...(opts.keep?.gossip ? [] : ['--without-gossip']),
    ...(opts.keep?.mingle ? [] : ['--without-mingle']),
    ...(opts.concurrency ? ['-c', String(opts.concurrency)] : []),
    ...(opts.queues ? ['-Q', opts.queues.join(',')] : []),
    ...(opts.extraArgs ?? []),
  ]
  const child = spawn(PYTHON, args, {cwd: FIXTURES, env: celeryEnv(opts), stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${node} not ready in time:\n${output}`)), opts.readyTimeoutMs ?? 30_000)
    const onData = (d: Buffer) => {
      output += d
      if (output.includes(`${node} ready.`)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.on('error', (e) => reject(e))
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`worker ${node} exited with ${code} before it was ready:\n${output}`))
    })
  })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  try {
    await ready
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return {node, process: child, exited, log: () => output, stop}
}

export interface CeleryRun {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs the real `celery` CLI against the test app (`celery -A wfctl_tasks ARGS`). */
export function celery(args: string[], opts: CeleryEnvOptions & {timeoutMs?: number}): Promise<CeleryRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(PYTHON, ['-m', 'celery', '-A', 'wfctl_tasks', ...args], {cwd: FIXTURES, env: celeryEnv(opts), stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (d: string) => (stdout += d))
    child.stderr.on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr, ms: performance.now() - started})
    })
  })
}
