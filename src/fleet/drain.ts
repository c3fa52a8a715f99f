import {InterruptedError} from '../errors.js'
import type {Addressed, FleetOperation} from './operation.js'
import {own, type FleetResult} from './outcome.js'
import {pause, tasksOf, type ShutdownResult, type TaskRef} from './shutdown.js'

/*
 * Draining nodes for maintenance and migrations: make each targeted node stop taking work (cancel
 * every queue it consumes), wait until it runs and holds nothing (no active and no reserved task),
 * and optionally shut it down, which is then a clean stop since it is idle. Nothing here reads
 * flags or prints: the command turns the DrainResult into text, and onProgress feeds its live view.
 */

/** A queue a node consumed, with what `add_consumer` needs to bind it again as it was. */
export interface ConsumedQueue {
  queue: string
  /** Set only where it differs from add_consumer's default (the queue name). */
  exchange?: string
  /** Set only where it differs from add_consumer's default (direct). */
  exchangeType?: string
  /** Set only where it differs from add_consumer's default (the queue name). */
  routingKey?: string
}

/** What restores one cancelled queue on one node: the add_consumer arguments, and the exact command line. */
export interface Restore extends ConsumedQueue {
  node: string
  /** add_consumer's arguments, as `wfctl call add_consumer` would send them. */
  args: Record<string, string>
  /** The wfctl command line that sends it. */
  command: string
}

/** An ETA/countdown task a node holds: it goes back to the broker when the node stops. */
export interface ScheduledTask extends TaskRef {
  eta: string | null
}

/**
 * Each node's end state:
 * - `drained`: its cancelled queues were seen gone from active_queues, and it ran and held no task;
 * - `busy`: it still had active or reserved tasks (or still consumed a cancelled queue) when --wait ran out;
 * - `silent`: it answered at the start, but not in the last round (a solo pool busy with a task, or it ended);
 * - `no-answer`: it did not answer at the start (or its answer could not be read): nothing was changed on it.
 */
export type DrainState = 'drained' | 'busy' | 'silent' | 'no-answer'

export interface DrainNode {
  state: DrainState
  /** Counts of the last round it answered; null when it never did. */
  active: number | null
  reserved: number | null
  scheduled: number | null
  /** The active and reserved tasks of the last round it answered (busy nodes). */
  tasks?: TaskRef[]
  /** ETA/countdown tasks held when last asked. */
  scheduledTasks?: ScheduledTask[]
  /** Queues wfctl cancelled (or tried to) on this node. */
  cancelled: string[]
  /** Cancelled queues it still listed in its last active_queues answer. */
  stillConsuming?: string[]
  /** cancel_consumer requests it did not confirm: queue → why. */
  cancelErrors?: Record<string, string>
  /** Why it is silent or did not answer. */
  reason?: string
  /** Milliseconds from the start of the drain until it was seen drained. */
  drainedAfterMs?: number
}

/** A live view of the wait, after every round. */
export interface DrainProgress {
  elapsedMs: number
  waitMs: number
  nodes: {node: string; active: number | null; reserved: number | null; scheduled: number | null; drained: boolean; answered: boolean}[]
}

export interface DrainOptions {
  target: Addressed
  /** Deadline of each request (the command's --timeout). */
  timeoutMs: number
  /** How long to wait for the nodes to become idle (--wait). */
  waitMs: number
  /** With --shutdown: shut the drained nodes down, with this reason, verifying for waitMs. */
  shutdown?: {reason: string; waitMs: number}
  /** Flags the restore lines need besides the queue and node (a control exchange or key prefix that is not the default). */
  restoreFlags?: string[]
  /** Pause between two rounds of the wait. */
  roundMs?: number
  onProgress?: (progress: DrainProgress) => void
  signal?: AbortSignal
}

export type DrainPhase = 'asking' | 'cancelling' | 'waiting' | 'shutting down'

export interface DrainResult {
  method: 'drain'
  /** Every node drained: those that answered at the start, and -d nodes that did not. */
  nodes: Record<string, DrainNode>
  /** -d nodes that did not answer at the start (nothing was changed on them). */
  missing: string[]
  drained: string[]
  /** Nodes that answered at the start but were not drained within --wait. */
  notDrained: string[]
  /** How to restore every queue cancelled, node by node, in order. */
  restore: Restore[]
  /** With --shutdown: what shutting down the drained nodes did; null without --shutdown or when no node drained. */
  shutdown: ShutdownResult | null
  /** Whether --shutdown was asked for. */
  shutdownRequested: boolean
  elapsedMs: number
  waitMs: number
  /** Set when SIGINT/SIGTERM ended the drain early: in which phase. */
  interrupted: DrainPhase | null
}

const ROUND_MS = 1000
const DEFAULTS = {exchangeType: 'direct'}

/** A worker's active_queues entry as add_consumer needs it, or undefined when it is not one. */
export function consumedQueue(entry: unknown): ConsumedQueue | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined
  const {name, exchange, routing_key: routingKey} = entry as Record<string, unknown>
  if (typeof name !== 'string' || name === '') return undefined
  const q: ConsumedQueue = {queue: name}
  if (typeof exchange === 'object' && exchange !== null) {
    const {name: ex, type} = exchange as Record<string, unknown>
    if (typeof ex === 'string' && ex !== '' && ex !== name) q.exchange = ex
    if (typeof type === 'string' && type !== '' && type !== DEFAULTS.exchangeType) q.exchangeType = type
  }
  if (typeof routingKey === 'string' && routingKey !== '' && routingKey !== name) q.routingKey = routingKey
  return q
}

/** The queues of an active_queues reply, or undefined when it is not the list Celery sends. */
export function queuesOf(payload: unknown): ConsumedQueue[] | undefined {
  if (!Array.isArray(payload)) return undefined
  const queues: ConsumedQueue[] = []
  for (const entry of payload) {
    const q = consumedQueue(entry)
    if (!q) return undefined
    if (!queues.some((o) => o.queue === q.queue)) queues.push(q)
  }
  return queues
}

/** The ETA tasks of a `scheduled` reply ({eta, priority, request: {id, name}}), or undefined. */
export function scheduledOf(payload: unknown): ScheduledTask[] | undefined {
  if (!Array.isArray(payload)) return undefined
  const tasks: ScheduledTask[] = []
  for (const item of payload) {
    if (typeof item !== 'object' || item === null) return undefined
    const {eta, request} = item as Record<string, unknown>
    const req = (typeof request === 'object' && request !== null ? request : item) as Record<string, unknown>
    if (typeof req.id !== 'string') return undefined
    tasks.push({id: req.id, name: typeof req.name === 'string' ? req.name : null, eta: typeof eta === 'string' ? eta : null})
  }
  return tasks
}

/** A word as a POSIX shell reads it back: bare when it is safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** The add_consumer that binds a cancelled queue again on its node, as arguments and as a wfctl command line. */
export function restoreOf(node: string, q: ConsumedQueue, extraFlags: string[] = []): Restore {
  const args: Record<string, string> = {queue: q.queue}
  const argv = ['control', 'add-consumer', q.queue, '-d', node]
  if (q.exchange !== undefined) {
    args.exchange = q.exchange
    argv.push('--exchange', q.exchange)
  }
  if (q.exchangeType !== undefined) {
    args.exchange_type = q.exchangeType
    argv.push('--exchange-type', q.exchangeType)
  }
  if (q.routingKey !== undefined) {
    args.routing_key = q.routingKey
    argv.push('--routing-key', q.routingKey)
  }
  argv.push(...extraFlags)
  return {node, ...q, args, command: ['wfctl', ...argv].map(shellWord).join(' ')}
}

/** What one round learnt of a node. */
interface Round {
  answered: boolean
  active?: TaskRef[]
  reserved?: TaskRef[]
  scheduled?: ScheduledTask[]
  /** Cancelled queues it still lists; undefined when not asked this round (already confirmed gone). */
  stillConsuming?: string[]
}

/** Whether a node is drained after a round: it answered everything, its cancelled queues are gone, and it has no task to run. */
export function isDrained(round: {answered: boolean; active?: unknown[]; reserved?: unknown[]}, queuesGone: boolean): boolean {
  return round.answered && queuesGone && round.active !== undefined && round.reserved !== undefined && round.active.length === 0 && round.reserved.length === 0
}

/** 0 when every node drained (and, with --shutdown, stopped); 1 otherwise, no node at all included; 130 when interrupted. */
export function drainExitCode(result: DrainResult): number {
  if (result.interrupted) return 130
  const nodes = Object.values(result.nodes)
  if (nodes.length === 0 || nodes.some((n) => n.state !== 'drained')) return 1
  if (result.shutdownRequested) {
    const states = result.shutdown ? result.shutdown.nodes : {}
    if (result.drained.some((n) => own(states, n)?.state !== 'stopped')) return 1
  }
  return 0
}

/** The tasks of a reply, or undefined when the node did not answer or its answer cannot be read. */
function listOf<T>(result: FleetResult, node: string, parse: (payload: unknown) => T[] | undefined): T[] | undefined {
  if (!Object.hasOwn(result.replies, node) || own(result.errors, node) !== undefined) return undefined
  return parse(own(result.replies, node))
}

/**
 * Drains the targeted nodes on an open operation. An interrupt (the operation's signal) ends it
 * early with `interrupted` set and what was cancelled so far in `restore`, never with an error.
 */
export async function drain(operation: FleetOperation, opts: DrainOptions): Promise<DrainResult> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  const nodes = new Map<string, DrainNode>()
  const consumed = new Map<string, ConsumedQueue[]>()
  const restore: Restore[] = []
  const drained = new Map<string, number>()
  let shutdown: ShutdownResult | null = null
  let phase: DrainPhase = 'asking'
  let interrupted: DrainPhase | null = null
  const {target, timeoutMs} = opts

  try {
    // 1. What each node consumes: the nodes that answer are the ones drained.
    const asked = await operation.request({method: 'active_queues', args: {}, target, timeoutMs})
    for (const node of Object.keys(asked.replies).sort()) {
      const error = own(asked.errors, node)
      const queues = error === undefined ? queuesOf(own(asked.replies, node)) : undefined
      if (!queues) {
        nodes.set(node, noAnswer(error ?? 'its answer to "active_queues" is not a list of queues: nothing was changed on it'))
        continue
      }
      consumed.set(node, queues)
      nodes.set(node, {state: 'busy', active: null, reserved: null, scheduled: null, cancelled: []})
    }
    for (const node of Object.keys(asked.errors)) if (!nodes.has(node)) nodes.set(node, noAnswer(own(asked.errors, node)!))
    for (const node of asked.missing) nodes.set(node, noAnswer('did not answer at the start (not running, or a solo pool busy with a task): nothing was changed on it'))

    // 2. Cancel every queue of every node, one node at a time: what restores it is recorded before it is sent.
    phase = 'cancelling'
    for (const [node, queues] of consumed) {
      const outcome = nodes.get(node)!
      for (const q of queues) {
        restore.push(restoreOf(node, q, opts.restoreFlags))
        outcome.cancelled.push(q.queue)
        const reply = await operation.request({method: 'cancel_consumer', args: {queue: q.queue}, target: {destination: [node]}, timeoutMs})
        const error = own(reply.errors, node) ?? (Object.hasOwn(reply.replies, node) ? undefined : 'no reply to cancel_consumer')
        if (error !== undefined) outcome.cancelErrors = {...outcome.cancelErrors, [q.queue]: error}
      }
    }

    // 3. Wait until each node no longer consumes what was cancelled and has no active and no reserved task.
    phase = 'waiting'
    const waitStart = performance.now()
    const deadline = waitStart + opts.waitMs
    const confirmed = new Set<string>([...consumed].filter(([, q]) => q.length === 0).map(([n]) => n))
    const draining = [...consumed.keys()]
    while (draining.length > 0) {
      // Each request of a round gets the whole --timeout: a round begun before the deadline is not cut short.
      const rounds = await round(operation, draining, confirmed, nodes, timeoutMs)
      for (const node of draining) {
        const r = rounds.get(node)!
        const outcome = nodes.get(node)!
        if (r.stillConsuming !== undefined) {
          if (r.stillConsuming.length === 0) confirmed.add(node)
          if (r.stillConsuming.length > 0) outcome.stillConsuming = r.stillConsuming
          else delete outcome.stillConsuming
        }
        if (r.answered) {
          outcome.active = r.active!.length
          outcome.reserved = r.reserved!.length
          const tasks = [...r.active!, ...r.reserved!]
          if (tasks.length > 0) outcome.tasks = tasks
          else delete outcome.tasks
          if (r.scheduled !== undefined) {
            outcome.scheduled = r.scheduled.length
            if (r.scheduled.length > 0) outcome.scheduledTasks = r.scheduled
            else delete outcome.scheduledTasks
          }
          delete outcome.reason
        } else {
          outcome.reason = 'stopped answering while draining (a solo pool busy with a task, or the worker ended)'
        }
        const idle = isDrained(r, confirmed.has(node))
        if (idle && !drained.has(node)) drained.set(node, elapsed())
        if (!idle) drained.delete(node)
        outcome.state = idle ? 'drained' : r.answered ? 'busy' : 'silent'
      }
      opts.onProgress?.({
        elapsedMs: Math.round(performance.now() - waitStart),
        waitMs: opts.waitMs,
        nodes: draining.map((node) => {
          const o = nodes.get(node)!
          return {node, active: o.active, reserved: o.reserved, scheduled: o.scheduled, drained: o.state === 'drained', answered: rounds.get(node)!.answered}
        }),
      })
      // Every node idle in the same round: done. Else another round, the last one at the deadline.
      if (draining.every((n) => nodes.get(n)!.state === 'drained')) break
      const left = deadline - performance.now()
      if (left <= 0) break
      await pause(Math.min(opts.roundMs ?? ROUND_MS, left), opts.signal)
      if (opts.signal?.aborted) throw new InterruptedError(String(opts.signal.reason))
    }
    for (const [node, ms] of drained) nodes.get(node)!.drainedAfterMs = ms

    // 4. Shut the drained nodes down: idle, so "stopped" is what a clean stop looks like.
    const idle = [...drained.keys()].sort()
    if (opts.shutdown && idle.length > 0) {
      phase = 'shutting down'
      shutdown = await operation.shutdown({target: {destination: idle}, reason: opts.shutdown.reason, waitMs: opts.shutdown.waitMs, pingTimeoutMs: timeoutMs})
    }
  } catch (error) {
    if (!(error instanceof InterruptedError)) throw error
    interrupted = phase
  }

  const inState = (state: DrainState) => [...nodes].filter(([, o]) => o.state === state).map(([n]) => n).sort()
  const result: DrainResult = {
    method: 'drain',
    nodes: Object.fromEntries([...nodes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    missing: inState('no-answer').filter((n) => (target.destination ?? []).includes(n)),
    drained: inState('drained'),
    notDrained: [...nodes].filter(([, o]) => o.state !== 'no-answer' && o.state !== 'drained').map(([n]) => n).sort(),
    restore,
    shutdown,
    shutdownRequested: opts.shutdown !== undefined,
    elapsedMs: elapsed(),
    waitMs: opts.waitMs,
    interrupted,
  }
  return result
}

function noAnswer(reason: string): DrainNode {
  return {state: 'no-answer', active: null, reserved: null, scheduled: null, cancelled: [], reason}
}

/** One round: active_queues of the nodes not yet seen without their cancelled queues, then active, reserved and scheduled of all. */
async function round(operation: FleetOperation, draining: string[], confirmed: Set<string>, nodes: Map<string, DrainNode>, timeoutMs: number): Promise<Map<string, Round>> {
  const rounds = new Map<string, Round>(draining.map((n) => [n, {answered: true}]))
  const ask = async (method: string, who: string[]) => operation.request({method, args: {}, target: {destination: who}, timeoutMs})
  const unconfirmed = draining.filter((n) => !confirmed.has(n))
  if (unconfirmed.length > 0) {
    const queues = await ask('active_queues', unconfirmed)
    for (const node of unconfirmed) {
      const listed = listOf(queues, node, queuesOf)
      const r = rounds.get(node)!
      if (!listed) r.answered = false
      else r.stillConsuming = nodes.get(node)!.cancelled.filter((q) => listed.some((l) => l.queue === q))
    }
  }
  const [active, reserved, scheduled] = [await ask('active', draining), await ask('reserved', draining), await ask('scheduled', draining)]
  for (const node of draining) {
    const r = rounds.get(node)!
    r.active = listOf(active, node, tasksOf)
    r.reserved = listOf(reserved, node, tasksOf)
    r.scheduled = listOf(scheduled, node, scheduledOf)
    if (r.active === undefined || r.reserved === undefined) r.answered = false
  }
  return rounds
}
