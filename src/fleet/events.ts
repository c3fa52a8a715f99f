import {UsageError} from '../errors.js'
import {ALL_EVENTS, TASK_EVENTS, WORKER_EVENTS, type CeleryEvent, type EventStream, type EventStreamOptions, type UndecodableEvent} from '../protocol/event-stream.js'
import {globProblem, matchesNode} from '../protocol/pattern.js'
import {CONTROL} from './arguments.js'
import {abortable, type FleetOperation} from './operation.js'
import {nodeNameOf, type Assumed} from './roster.js'

/*
 * Watching the fleet's events (`wfctl events`, and the live view of `wfctl top`): which events an
 * operator asked for, the subscription on an open operation, and one run of the stream until a
 * count, a duration, an interrupt or a lost broker ends it. Nothing here prints.
 */

export type {CeleryEvent, UndecodableEvent} from '../protocol/event-stream.js'
export {ALL_EVENTS, TASK_EVENTS, WORKER_EVENTS} from '../protocol/event-stream.js'

/** The event types Celery itself sends (custom events exist too). */
export const CELERY_EVENT_TYPES: ReadonlySet<string> = new Set([
  'worker-online', 'worker-heartbeat', 'worker-offline', 'worker-elect', 'worker-elect-ack',
  'task-sent', 'task-received', 'task-started', 'task-succeeded', 'task-failed', 'task-retried',
  'task-rejected', 'task-revoked', 'task-cancelled',
])

/** Which events to show: globs over the type and over the node name (empty: every one). */
export interface EventSelection {
  types: string[]
  nodes: string[]
}

/** A glob the selection is to match (`--type`, `--node`): comma lists split, Python fnmatch's rules, checked. */
export function eventGlobs(values: string[] | undefined, flag: string): string[] {
  const out: string[] = []
  for (const value of values ?? []) {
    for (const part of value.split(',')) {
      const glob = part.trim()
      if (glob === '') throw new UsageError(`${flag} must not be empty`)
      if (CONTROL.test(glob)) throw new UsageError(`${flag} holds a control or invisible character`)
      const problem = globProblem(glob)
      if (problem !== undefined) throw new UsageError(`invalid ${flag} ${JSON.stringify(glob)}: ${problem}`)
      if (!out.includes(glob)) out.push(glob)
    }
  }
  return out
}

/**
 * `--node` globs: a plain name without `@` (no glob character either) means `celery@NAME`, as for
 * `-d`, and `assumed` says which were taken so; a glob is matched as given (`*web*`).
 */
export function nodeGlobs(values: string[] | undefined): {globs: string[]; assumed: Assumed[]} {
  const assumed: Assumed[] = []
  const globs: string[] = []
  for (const glob of eventGlobs(values, '--node')) {
    const node = /[@*?[]/.test(glob) ? glob : nodeNameOf(glob)
    if (node !== glob) assumed.push({given: glob, node})
    if (!globs.includes(node)) globs.push(node)
  }
  return {globs, assumed}
}

/** The --type globs that can match no event Celery sends (a typo, or a custom event). */
export function unknownTypes(types: string[]): string[] {
  return types.filter((glob) => ![...CELERY_EVENT_TYPES].some((type) => matchesNode(glob, 'glob', type)))
}

/** Whether a type glob can only match task events (`task-*`, `task-failed`), or only worker events. */
function family(glob: string): 'task' | 'worker' | undefined {
  if (glob.startsWith('task-')) return 'task'
  if (glob.startsWith('worker-')) return 'worker'
  return undefined
}

/**
 * The routing keys to subscribe to for these type globs: the narrowest that loses nothing. Task
 * events come one by one (`task.succeeded`) or batched (`task.multi`), so task types need `task.#`.
 */
export function routingKeysFor(types: string[]): string[] {
  if (types.length === 0) return [ALL_EVENTS]
  const families = new Set(types.map(family))
  if (families.size === 1 && families.has('task')) return [TASK_EVENTS]
  if (families.size === 1 && families.has('worker')) return [WORKER_EVENTS]
  return [ALL_EVENTS]
}

/** Whether the selection asks for task events only (they need workers with task events on). */
export function onlyTaskEvents(selection: EventSelection): boolean {
  return selection.types.length > 0 && selection.types.every((t) => family(t) === 'task')
}

/** A bounded memo: a fleet has a few thousand node names and a dozen types. */
const MEMO_LIMIT = 100_000

function memo(match: (value: string) => boolean): (value: string) => boolean {
  const seen = new Map<string, boolean>()
  return (value) => {
    let hit = seen.get(value)
    if (hit === undefined) {
      if (seen.size >= MEMO_LIMIT) seen.clear()
      hit = match(value)
      seen.set(value, hit)
    }
    return hit
  }
}

/** The selection as one test per event, each name matched once and then remembered. */
export function eventMatcher(selection: EventSelection): (event: CeleryEvent) => boolean {
  const {types, nodes} = selection
  const type = types.length === 0 ? () => true : memo((t) => types.some((g) => matchesNode(g, 'glob', t)))
  const node = nodes.length === 0 ? () => true : memo((n) => nodes.some((g) => matchesNode(g, 'glob', n)))
  return (event) => type(event.type) && node(event.hostname)
}

/** How often a subscription where no event can arrive yet (RabbitMQ: no event exchange) is tried again. */
export const EVENT_EXCHANGE_RETRY_MS = 2000

/** A subscription to the fleet's events on an open operation. */
export interface FleetEvents {
  /** False while no event can reach wfctl (RabbitMQ: no worker has declared the event exchange yet). */
  readonly available: boolean
  /** Removes the subscription from the broker. Safe to call twice. */
  close(): Promise<void>
}

export interface FleetEventsOptions extends EventStreamOptions {
  /** Called once when no event can reach wfctl yet, while the subscription is tried again. */
  onWaiting?: () => void
  /** Called once when the subscription is in place after waiting. */
  onAvailable?: () => void
}

/**
 * Subscribes to the fleet's events: `routingKeys` as for the transport (`worker.#` for heartbeats,
 * `task.#`, `#`). Where no event can reach wfctl yet (a RabbitMQ vhost without the event exchange:
 * no worker ever ran there), it says so once and tries again every two seconds, creating nothing.
 * Events come decoded, in batches; `onFailure` says the broker was lost (then nothing more comes).
 */
export async function openFleetEvents(operation: FleetOperation, opts: FleetEventsOptions): Promise<FleetEvents> {
  let stream: EventStream | undefined = await operation.openEvents(opts)
  if (stream.available) return {available: true, close: () => stream!.close()}
  stream = undefined
  opts.onWaiting?.()
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const handle = {
    available: false,
    close: async () => {
      closed = true
      clearTimeout(timer)
      await stream?.close()
    },
  }
  const retry = () => {
    timer = setTimeout(async () => {
      if (closed) return
      try {
        const next = await operation.openEvents(opts)
        if (closed) return void (await next.close())
        if (!next.available) return retry()
        stream = next
        handle.available = true
        opts.onAvailable?.()
      } catch (error) {
        if (!closed) opts.onFailure?.(error as Error)
      }
    }, EVENT_EXCHANGE_RETRY_MS)
  }
  retry()
  return handle
}

/** One run of `wfctl events`: what to show and when to stop. */
export interface EventsPlan {
  selection: EventSelection
  /** Stop after this many events shown. */
  count?: number
  /** Stop after this long. */
  durationMs?: number
  /** When to say that nothing arrived (see EventHint). */
  hintAfterMs?: number
}

/** Why nothing is being shown, said once, `afterMs` after the start with nothing shown. */
export type EventHint =
  | {kind: 'waiting'}
  | {kind: 'available'}
  | {kind: 'silent'; afterMs: number}
  | {kind: 'no-task-events'; afterMs: number; heard: number}
  | {kind: 'no-match'; afterMs: number; heard: number; nodes: string[]}

/** Where the events go: the command's renderer. */
export interface EventSink {
  /** Events that match the selection, in order; at most `count` in all. */
  events(batch: CeleryEvent[]): void
  undecodable?(items: UndecodableEvent[]): void
  hint?(hint: EventHint): void
}

export interface EventsResult {
  /** Events shown. */
  shown: number
  /** Events heard, shown or not. */
  heard: number
  undecodable: number
  ended: 'count' | 'duration' | 'stopped'
}

/** Seconds of silence after which `wfctl events` says why nothing shows: twice a default heartbeat, and one more. */
export const EVENTS_HINT_MS = 5000

/**
 * Shows the fleet's events until `count` were shown, `durationMs` passed, or `stop` aborts (the
 * output was closed): `ended` says which. An interrupt (the operation's signal) rejects with
 * InterruptedError, a lost broker with its BrokerError; the subscription is removed in every case.
 */
export async function followEvents(operation: FleetOperation, plan: EventsPlan, sink: EventSink, signal: AbortSignal, stop?: AbortSignal): Promise<EventsResult> {
  const matches = eventMatcher(plan.selection)
  const result: EventsResult = {shown: 0, heard: 0, undecodable: 0, ended: 'stopped'}
  const heardNodes = new Set<string>()
  let heardTask = 0
  let finish: (ended: EventsResult['ended']) => void = () => {}
  let fail: (error: Error) => void = () => {}
  const done = new Promise<EventsResult['ended']>((resolve, reject) => {
    finish = resolve
    fail = reject
  })
  let over = false
  const onEvents = (events: CeleryEvent[]) => {
    if (over) return
    result.heard += events.length
    const shown: CeleryEvent[] = []
    for (const event of events) {
      if (heardNodes.size < 1000) heardNodes.add(event.hostname)
      if (event.type.startsWith('task-')) heardTask += 1
      if (!matches(event)) continue
      shown.push(event)
      if (plan.count !== undefined && result.shown + shown.length >= plan.count) break
    }
    if (shown.length === 0) return
    result.shown += shown.length
    sink.events(shown)
    if (plan.count !== undefined && result.shown >= plan.count) {
      over = true
      finish('count')
    }
  }
  const events = await openFleetEvents(operation, {
    routingKeys: routingKeysFor(plan.selection.types),
    onEvents,
    onUndecodable: (items) => {
      if (over) return
      result.undecodable += items.length
      sink.undecodable?.(items)
    },
    onFailure: (error) => fail(error),
    onWaiting: () => sink.hint?.({kind: 'waiting'}),
    onAvailable: () => sink.hint?.({kind: 'available'}),
  })
  const timers: NodeJS.Timeout[] = []
  const hintAfterMs = plan.hintAfterMs ?? EVENTS_HINT_MS
  timers.push(setTimeout(() => {
    if (result.shown > 0 || over || !events.available) return
    if (result.heard === 0) sink.hint?.({kind: 'silent', afterMs: hintAfterMs})
    else if (onlyTaskEvents(plan.selection) && heardTask === 0) sink.hint?.({kind: 'no-task-events', afterMs: hintAfterMs, heard: result.heard})
    else sink.hint?.({kind: 'no-match', afterMs: hintAfterMs, heard: result.heard, nodes: [...heardNodes].sort().slice(0, 5)})
  }, hintAfterMs))
  if (plan.durationMs !== undefined) timers.push(setTimeout(() => finish('duration'), plan.durationMs))
  const onStop = () => finish('stopped')
  stop?.addEventListener('abort', onStop, {once: true})
  if (stop?.aborted) onStop()
  try {
    result.ended = await abortable(done, signal)
    return result
  } finally {
    over = true
    for (const timer of timers) clearTimeout(timer)
    stop?.removeEventListener('abort', onStop)
    await events.close()
  }
}
