// The one way tests start wfctl as a process (bin/run.js, no terminal, no broker variables).
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {poll} from './poll.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = `${ROOT}bin/run.js`

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

export interface LiveRun {
  /** stdout and stderr so far. */
  stdout: () => string
  stderr: () => string
  stdoutBytes: () => number
  pid: () => number | undefined
  kill: (signal: NodeJS.Signals) => void
  /** True until the process has ended. */
  running: () => boolean
  done: Promise<CliRun>
}

/** Where the broker and its settings could come from outside the test's own flags: removed unless a test sets them. */
export const ISOLATED = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL_CMD', 'WFCTL_CONTEXT', 'WFCTL_CONFIG', 'AIRFLOW_CONFIG', 'WFCTL_SENTINEL_PASSWORD']
/** A folder that does not exist, for XDG_CONFIG_HOME and AIRFLOW_HOME. */
export const NO_CONFIG = `${ROOT}test/.no-config-here`

export interface SpawnOptions {
  env?: Record<string, string | undefined>
  /** SIGKILL after this long: a hang guard, not a speed check (default 60 s). */
  timeoutMs?: number
}

/**
 * Starts the built wfctl and lets the test watch its output while it runs and signal it at the
 * right moment. The broker variables are removed from the environment unless `env` sets them; the
 * audit log is off (WFCTL_AUDIT_LOG=off) unless `env` moves it.
 */
export function spawnWfctl(args: string[], opts: SpawnOptions = {}): LiveRun {
  // The audit log is off unless a test moves it to its own temp dir: the suite never writes to ~/.local/state.
  const env: Record<string, string | undefined> = {...process.env, NO_COLOR: '1', WFCTL_AUDIT_LOG: 'off', ...opts.env}
  for (const key of ISOLATED) if (!(opts.env && key in opts.env)) delete env[key]
  // Never the developer's own ~/.config/wfctl/config.yaml or ~/airflow/airflow.cfg: a folder that does not exist.
  for (const key of ['XDG_CONFIG_HOME', 'AIRFLOW_HOME']) if (!(opts.env && key in opts.env)) env[key] = NO_CONFIG
  const started = performance.now()
  const child = spawn(process.execPath, [BIN, ...args], {env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']})
  const out: Buffer[] = []
  let outBytes = 0
  let stderr = ''
  let ended = false
  child.stdout.on('data', (d: Buffer) => {
    out.push(d)
    outBytes += d.length
  })
  // Decoded as a stream: a character split across two chunks stays one character.
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => (stderr += d))
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', (error) => {
      ended = true
      clearTimeout(killer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      ended = true
      clearTimeout(killer)
      resolve({code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr, ms: performance.now() - started})
    })
  })
  return {
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => stderr,
    stdoutBytes: () => outBytes,
    pid: () => child.pid,
    kill: (signal) => void (ended || child.kill(signal)),
    running: () => !ended,
    done,
  }
}

export interface CliOptions extends SpawnOptions {
  /** Sends this signal once `signalWhen()` is true (polled every 20 ms), or after `signalAfterMs`. */
  signal?: NodeJS.Signals
  signalWhen?: () => boolean | Promise<boolean>
  signalAfterMs?: number
}

/** Runs wfctl to its end, as a user would, without a terminal (SIGKILL after 30 s by default). */
export async function runWfctl(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const live = spawnWfctl(args, {env: opts.env, timeoutMs: opts.timeoutMs ?? 30_000})
  let timer: NodeJS.Timeout | undefined
  if (opts.signal && opts.signalWhen) {
    const when = opts.signalWhen
    const signal = opts.signal
    void (async () => {
      while (live.running()) {
        if (await Promise.resolve(when()).catch(() => false)) return live.kill(signal)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
  } else if (opts.signal) {
    const signal = opts.signal
    timer = setTimeout(() => live.kill(signal), opts.signalAfterMs ?? 500)
  }
  try {
    return await live.done
  } finally {
    clearTimeout(timer)
  }
}

/** Parses stdout as the one JSON object --json promises. */
export function json(run: CliRun): any {
  try {
    return JSON.parse(run.stdout)
  } catch {
    throw new Error(`stdout is not one JSON object:\n${run.stdout}\nstderr:\n${run.stderr}`)
  }
}

/**
 * Starts `wfctl simulate ARGS` and resolves once it says its workers are up ("N simulated
 * workers (...)"); throws with its stderr when it ends first or is not up within `readyMs`. The
 * caller stops it (SIGINT, then `done`).
 */
export async function startSimulatedFleet(args: string[], opts: SpawnOptions = {}, readyMs = 30_000): Promise<LiveRun> {
  const fleet = spawnWfctl(['simulate', ...args], {timeoutMs: 600_000, ...opts})
  const up = await poll(() => fleet.stderr(), (s) => /simulated workers? \(/.test(s) || !fleet.running(), readyMs)
  if (!/simulated workers? \(/.test(up) || !fleet.running()) {
    fleet.kill('SIGKILL')
    throw new Error(`wfctl simulate ${args.join(' ')} was not up within ${readyMs} ms:\n${up}`)
  }
  return fleet
}

/** Whether the process is gone (signal 0 says it no longer exists). */
export function gone(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}
