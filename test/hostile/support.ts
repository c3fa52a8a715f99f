// Shared pieces of the hostile tier (not a test file: the runner only picks *.test.ts).
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'

import {BIN, type CliRun} from '../helpers/cli.js'

/** The Redis DB of this tier; every test still owns its key prefix and control exchange. */
export const HOSTILE_DB = 9

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function show(run: CliRun): string {
  const cut = (s: string) => (s.length > 4000 ? `${s.slice(0, 2000)}\n[... ${s.length - 4000} chars ...]\n${s.slice(-2000)}` : s)
  return `exit ${run.code} (signal ${run.signal}) after ${Math.round(run.ms)} ms\nstdout:\n${cut(run.stdout)}\nstderr:\n${cut(run.stderr)}`
}

/** Errors are one or two lines on stderr, no stack trace. */
export function assertShortError(run: CliRun, maxLines = 2): void {
  const lines = run.stderr.trim().split('\n').filter((l) => l.trim() !== '')
  assert.ok(lines.length >= 1 && lines.length <= maxLines, `stderr should be 1-${maxLines} lines, got ${lines.length}:\n${show(run)}`)
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace:\n${show(run)}`)
  assert.doesNotMatch(run.stderr, /internal error/i, `no internal error:\n${show(run)}`)
}

export interface LiveRun {
  /** stdout and stderr so far. */
  stdout: () => string
  stderr: () => string
  stdoutBytes: () => number
  pid: () => number | undefined
  kill: (signal: NodeJS.Signals) => void
  done: Promise<CliRun>
}

/**
 * Runs the built wfctl as runWfctl does (no terminal, NO_COLOR, no broker variables), but lets the
 * test watch the output while it runs and signal it at the right moment. SIGKILL after timeoutMs.
 */
export function spawnWfctl(args: string[], opts: {env?: Record<string, string | undefined>; timeoutMs?: number} = {}): LiveRun {
  const env: Record<string, string | undefined> = {...process.env, NO_COLOR: '1', ...opts.env}
  for (const key of ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL']) if (!(opts.env && key in opts.env)) delete env[key]
  const started = performance.now()
  const child = spawn(process.execPath, [BIN, ...args], {env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']})
  const out: Buffer[] = []
  let outBytes = 0
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    out.push(d)
    outBytes += d.length
  })
  child.stderr.on('data', (d) => (stderr += d))
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      resolve({code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr, ms: performance.now() - started})
    })
  })
  return {
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => stderr,
    stdoutBytes: () => outBytes,
    pid: () => child.pid,
    kill: (signal) => void child.kill(signal),
    done,
  }
}

/** Polls until `probe()` is truthy or the deadline passes; returns whether it became truthy. */
export async function waitFor(probe: () => boolean | Promise<boolean>, deadlineMs: number, pauseMs = 20): Promise<boolean> {
  const end = performance.now() + deadlineMs
  for (;;) {
    if (await probe()) return true
    if (performance.now() >= end) return false
    await sleep(pauseMs)
  }
}

/** Characters that must never reach a terminal raw: ESC, BEL, a C1 control (CSI) and a bidi override. */
export const HOSTILE_CHARS: [string, string][] = [
  ['ESC', '\x1b'],
  ['BEL', '\x07'],
  ['C1 CSI (U+009B)', '\u009b'],
  ['bidi RLO (U+202E)', '\u202e'],
]

export function assertNoHostileChars(text: string, where: string): void {
  for (const [name, ch] of HOSTILE_CHARS) {
    const at = text.indexOf(ch)
    assert.ok(at < 0, `${where} holds a raw ${name} at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}`)
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await work(items[i])
    }
  }))
  return results
}
