// Shared pieces of the interop tier (not a test file: the runner only picks *.test.ts).
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Redis} from 'ioredis'

import {keysWithPrefix} from '../helpers/brokers.js'
import {celery, type Worker} from '../helpers/celery.js'
import {BIN, runWfctl, type CliOptions, type CliRun} from '../helpers/cli.js'

/**
 * One broker namespace wfctl is pointed at: the broker URL plus the namespace flags, and how to
 * list what wfctl may have left behind there (reply bindings and lists, reply queues).
 */
export interface Namespace {
  label: string
  flags: string[]
  leftovers: () => Promise<string[]>
}

/** Runs wfctl against a namespace, then checks at once that it left no reply route behind. */
export async function wf(ns: Namespace, args: string[], opts?: CliOptions): Promise<CliRun> {
  const run = await runWfctl([...args, ...ns.flags], opts)
  assert.deepEqual(await ns.leftovers(), [], `wfctl ${args.join(' ')} left reply routes behind in ${ns.label}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
  return run
}

/** Explains a run in an assertion message. */
export function show(run: CliRun): string {
  return `exit ${run.code} (signal ${run.signal})\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until `probe` returns something truthy, or the deadline passes (then returns the last value). */
export async function poll<T>(probe: () => Promise<T>, ok: (value: T) => boolean, deadlineMs: number, pauseMs = 200): Promise<T> {
  const end = performance.now() + deadlineMs
  for (;;) {
    const value = await probe()
    if (ok(value) || performance.now() >= end) return value
    await sleep(pauseMs)
  }
}

/** True when the worker process ended within `ms`. */
export async function endsWithin(worker: Worker, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  const ended = await Promise.race([worker.exited.then(() => true as const), timeout])
  clearTimeout(timer)
  return ended
}

export function isRunning(worker: Worker): boolean {
  return worker.process.exitCode === null && worker.process.signalCode === null
}

/** Stops every worker given (each one that still runs), whatever happens to the others. */
export async function stopAll(workers: (Worker | undefined)[]): Promise<void> {
  await Promise.allSettled(workers.map((w) => w?.stop()))
}

/** Deletes the keys under a prefix that this test owns (worker queues, bindings): tidiness, not a check. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysWithPrefix(redis, prefix)
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500))
}

/** A roster file for `--expect @FILE`, in a temporary directory; remove() deletes it. */
export function rosterFile(content: string): {path: string; remove: () => void} {
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-roster-'))
  const path = join(dir, 'workers.txt')
  writeFileSync(path, content)
  return {path, remove: () => rmSync(dir, {recursive: true, force: true})}
}

export interface ActiveQueue {
  name: string
  exchange: {name: string; type: string}
  routing_key: string
}

/** The queues a node consumes from, as the real `celery inspect active_queues -d NODE -j` reports them. */
export async function activeQueues(node: string, opts: {broker: string; keyPrefix?: string; controlExchange?: string}): Promise<ActiveQueue[]> {
  const run = await celery(['inspect', 'active_queues', '-d', node, '-j', '-t', '5'], {...opts, timeoutMs: 30_000})
  assert.equal(run.code, 0, `celery inspect active_queues failed:\n${run.stdout}\n${run.stderr}`)
  const start = run.stdout.indexOf('{')
  const parsed = JSON.parse(run.stdout.slice(start)) as Record<string, ActiveQueue[]>
  assert.ok(node in parsed, `celery inspect active_queues: ${node} did not reply:\n${run.stdout}`)
  return parsed[node]
}

/**
 * Runs wfctl as runWfctl does, but sends `signal` only once `ready()` says wfctl's reply route exists
 * in the broker, so the interrupt lands while wfctl waits for replies and its cleanup has something to
 * remove. Gives up waiting after `maxWaitMs` (then signals anyway, and `routeSeen` is false).
 */
export function interruptWhileWaiting(
  args: string[],
  signal: NodeJS.Signals,
  ready: () => Promise<boolean>,
  maxWaitMs = 8000,
): Promise<CliRun & {routeSeen: boolean}> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = {...process.env, NO_COLOR: '1'}
    for (const key of ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL']) delete env[key]
    const started = performance.now()
    const child = spawn(process.execPath, [BIN, ...args], {env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let done = false
    let routeSeen = false
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    void (async () => {
      const end = performance.now() + maxWaitMs
      while (!done && performance.now() < end) {
        if (await ready().catch(() => false)) {
          routeSeen = true
          break
        }
        await sleep(50)
      }
      if (!done) child.kill(signal)
    })()
    child.on('error', reject)
    child.on('close', (code, sig) => {
      done = true
      clearTimeout(killer)
      resolve({code, signal: sig, stdout, stderr, ms: performance.now() - started, routeSeen})
    })
  })
}
