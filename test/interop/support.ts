// Shared pieces of the interop tier (not a test file: the runner only picks *.test.ts).
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {watchAmqpReplies} from '../helpers/brokers.js'
import {celery, type Worker} from '../helpers/celery.js'
import {runWfctl, spawnWfctl, type CliOptions, type CliRun} from '../helpers/cli.js'
import {waitFor} from '../helpers/poll.js'

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

export {poll, sleep} from '../helpers/poll.js'
export {deleteKeysWithPrefix} from '../helpers/brokers.js'

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
export async function interruptWhileWaiting(
  args: string[],
  signal: NodeJS.Signals,
  ready: () => Promise<boolean>,
  maxWaitMs = 8000,
): Promise<CliRun & {routeSeen: boolean}> {
  const live = spawnWfctl(args, {timeoutMs: 30_000})
  const routeSeen = await waitFor(async () => !live.running() || (await ready().catch(() => false)), maxWaitMs, 50) && live.running()
  live.kill(signal)
  return {...(await live.done), routeSeen}
}

/**
 * A vhost namespace for wf(): its leftovers are the reply queues named by the requests published on
 * the control exchange, each checked by name (see watchAmqpReplies). close() stops the watch.
 */
export async function amqpNamespace(vhost: {name: string; url: string}, controlExchange = 'celery'): Promise<Namespace & {routeExists: () => Promise<boolean>; close: () => Promise<void>}> {
  const watch = await watchAmqpReplies(vhost.url, controlExchange)
  const custom = controlExchange === 'celery' ? [] : ['--control-exchange', controlExchange]
  return {
    label: `vhost ${vhost.name}${custom.length > 0 ? `, control exchange ${controlExchange}` : ''}`,
    flags: ['-b', vhost.url, ...custom],
    leftovers: () => watch.leftovers(),
    routeExists: async () => (await watch.existing()).length > 0,
    close: () => watch.close(),
  }
}
