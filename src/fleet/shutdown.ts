import {InterruptedError} from '../errors.js'
import type {Mailbox} from '../protocol/mailbox.js'
import type {Target} from '../protocol/request.js'
import type {TaskEventFeed} from '../protocol/task-events.js'

/**
 * What wfctl knows of a node after a shutdown. A worker stops answering (and sends worker-offline)
 * the moment its warm shutdown begins, not when its process exits, so silence alone proves the
 * process is gone only for a node that had nothing to finish.
 * - `stopped`: it was running no task (or every task it ran was seen ending) and went silent;
 * - `stopping`: it went silent with tasks still running: its process exits when they end;
 * - `running`: it still answered when --wait ran out;
 * - `unknown`: wfctl could not tell (it did not answer before the shutdown, its answer could not
 *   be read, or --no-wait).
 */
export type NodeState = 'stopped' | 'stopping' | 'running' | 'unknown'

export interface TaskRef {
  id: string
  /** null when the worker did not say (task events carry the name only when the task is received). */
  name: string | null
}

export interface NodeOutcome {
  state: NodeState
  /** Tasks it runs as far as wfctl knows now; null when unknown. */
  activeTasks: number | null
  /** The tasks still running (stopping and running nodes that have some). */
  tasks?: TaskRef[]
  /** Tasks seen ending (task events) after wfctl asked what the node runs. */
  finished?: TaskRef[]
  /** Why the state is unknown. */
  reason?: string
}

/** What each node said it was running just before the shutdown: its tasks, or why its answer could not be read. */
export type ActiveBefore = Map<string, TaskRef[] | {unreadable: string}>

export interface ShutdownOptions extends Target {
  /** Logged by each worker as the reason (`msg`). */
  reason: string
  /** How long to verify that the nodes stopped, or undefined for --no-wait. */
  waitMs?: number
  /** Deadline of each verification ping. */
  pingTimeoutMs: number
  /** Every node to report: the destinations, else the nodes that answered before the shutdown. */
  targets: string[]
  signal?: AbortSignal
}

export interface ShutdownResult {
  method: 'shutdown'
  replies: Record<string, never>
  /** Targeted (-d) nodes that did not answer before the shutdown was sent: their state is unknown. */
  missing: string[]
  errors: Record<string, never>
  duplicates: string[]
  elapsedMs: number
  /** Nodes whose process is gone, as far as wfctl can tell: idle (or every task seen ending) and silent. */
  stopped: string[]
  /** Nodes that went silent with tasks still running: their process exits when the tasks end. */
  stopping: string[]
  /** Nodes that still answered when --wait ran out. */
  running: string[]
  /** Each targeted node's state. */
  nodes: Record<string, NodeOutcome>
  /** True only when wfctl watched at least one node and knows every targeted node's state (none unknown). */
  verified: boolean
  /** False with --no-wait: wfctl returned right after publishing. */
  waited: boolean
  /** Whether wfctl listened to task events (the event exchange exists), to see running tasks end. */
  taskEvents: boolean
  /** Nodes that went silent with tasks running and from which no task event was heard (events off there?). */
  taskEventsNotHeard: string[]
}

const ROUND_PAUSE_MS = 250

/** The tasks of an `active` reply, or undefined when it is not the list Celery sends. */
export function tasksOf(payload: unknown): TaskRef[] | undefined {
  if (!Array.isArray(payload)) return undefined
  const tasks: TaskRef[] = []
  for (const item of payload) {
    if (typeof item !== 'object' || item === null) return undefined
    const {id, name} = item as Record<string, unknown>
    if (typeof id !== 'string') return undefined
    tasks.push({id, name: typeof name === 'string' ? name : null})
  }
  return tasks
}

/**
 * Sends `shutdown` (a cast: workers never reply to it, docs/wire-protocol.md#calls-and-casts), then
 * pings the nodes that answered before until they stop answering, and — with task events — waits
 * for the tasks of the nodes that went silent while busy to end, until --wait runs out.
 */
export async function shutdownNodes(mailbox: Mailbox, opts: ShutdownOptions, before: ActiveBefore | undefined, feed?: TaskEventFeed): Promise<ShutdownResult> {
  const started = performance.now()
  await mailbox.cast({method: 'shutdown', args: {msg: opts.reason}, destination: opts.destination, pattern: opts.pattern, matcher: opts.matcher, signal: opts.signal})
  const seen = before ?? new Map()
  let answering = opts.targets.filter((n) => seen.has(n))
  const silent = new Set<string>()

  /** Tasks a node runs: what it said before, plus what events saw it start, less what they saw end. */
  const running = (node: string): {open: TaskRef[]; finished: TaskRef[]} | undefined => {
    const said = seen.get(node)
    if (said === undefined || !Array.isArray(said)) return undefined
    const all = new Map(said.map((t) => [t.id, t.name]))
    for (const [id, name] of feed?.started.get(node) ?? []) if (!all.has(id)) all.set(id, name ?? null)
    const open: TaskRef[] = []
    const finished: TaskRef[] = []
    for (const [id, name] of all) (feed?.hasEnded(node, id) ? finished : open).push({id, name})
    return {open, finished}
  }
  const stillBusy = () => [...silent].some((n) => (running(n)?.open.length ?? 0) > 0)

  if (opts.waitMs !== undefined) {
    const deadline = started + opts.waitMs
    while (performance.now() < deadline) {
      if (answering.length > 0) {
        const awaited = answering
        const timeoutMs = Math.max(1, Math.min(opts.pingTimeoutMs, deadline - performance.now()))
        const round = await mailbox.call({
          method: 'ping',
          destination: awaited,
          timeoutMs,
          isComplete: (c) => awaited.every((n) => c.nodes.has(n)),
          signal: opts.signal,
        })
        const answered = new Set(round.replies.map((r) => r.node))
        for (const n of awaited) if (!answered.has(n)) silent.add(n)
        answering = awaited.filter((n) => answered.has(n))
        if (answering.length > 0 && round.complete) await pause(Math.min(ROUND_PAUSE_MS, deadline - performance.now()), opts.signal)
      } else if (feed && stillBusy()) {
        await feed.next(deadline - performance.now(), opts.signal)
      } else {
        break
      }
      if (opts.signal?.aborted) throw new InterruptedError(String(opts.signal.reason))
    }
  }

  const nodes = new Map<string, NodeOutcome>()
  for (const node of opts.targets) {
    const said = seen.get(node)
    if (opts.waitMs === undefined) {
      nodes.set(node, {state: 'unknown', activeTasks: null, reason: 'not verified (--no-wait)'})
    } else if (said === undefined) {
      nodes.set(node, {state: 'unknown', activeTasks: null, reason: 'no answer before the shutdown (not running, already shutting down, or too busy to answer: a solo pool)'})
    } else {
      const tasks = running(node)
      const detail = tasks ? {...(tasks.open.length > 0 ? {tasks: tasks.open} : {}), ...(tasks.finished.length > 0 ? {finished: tasks.finished} : {})} : {}
      if (!silent.has(node)) {
        nodes.set(node, {state: 'running', activeTasks: tasks ? tasks.open.length : null, ...detail})
      } else if (!tasks) {
        nodes.set(node, {state: 'unknown', activeTasks: null, reason: `went silent, but what it ran is unknown: ${(said as {unreadable: string}).unreadable}`})
      } else {
        nodes.set(node, {state: tasks.open.length > 0 ? 'stopping' : 'stopped', activeTasks: tasks.open.length, ...detail})
      }
    }
  }
  const inState = (state: NodeState) => [...nodes].filter(([, o]) => o.state === state).map(([n]) => n)
  const stopping = inState('stopping')
  return {
    method: 'shutdown',
    replies: {},
    missing: opts.targets.filter((n) => !seen.has(n) && (opts.destination ?? []).includes(n)),
    errors: {},
    duplicates: [],
    elapsedMs: Math.round(performance.now() - started),
    stopped: inState('stopped'),
    stopping,
    running: inState('running'),
    nodes: Object.fromEntries(nodes),
    verified: opts.waitMs !== undefined && nodes.size > 0 && inState('unknown').length === 0,
    waited: opts.waitMs !== undefined,
    taskEvents: feed !== undefined,
    taskEventsNotHeard: feed ? stopping.filter((n) => !feed.heard.has(n)) : [],
  }
}

/** Waits ms, or less if the signal aborts first (it never rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}
