import {loadavg} from 'node:os'

/** A Lamport clock as Celery keeps them: `forward` for own events, `adjust` on receipt (docs/wire-protocol.md#clocks). */
export class LamportClock {
  value = 0

  forward(): number {
    this.value += 1
    return this.value
  }

  adjust(other: number): number {
    this.value = Math.max(this.value, Number.isFinite(other) ? Math.floor(other) : 0) + 1
    return this.value
  }
}

/** One element of `active_queues`: kombu's `Queue.as_dict(recurse=True)`. */
export interface QueueDescription {
  name: string
  exchange: {
    name: string
    type: string
    arguments: unknown
    durable: boolean
    passive: boolean
    auto_delete: boolean
    delivery_mode: unknown
    no_declare: boolean
  }
  routing_key: string
  queue_arguments: unknown
  binding_arguments: unknown
  consumer_arguments: unknown
  durable: boolean
  exclusive: boolean
  auto_delete: boolean
  no_ack: boolean
  alias: unknown
  bindings: unknown[]
  no_declare: unknown
  expires: unknown
  message_ttl: unknown
  max_length: unknown
  max_length_bytes: unknown
  max_priority: unknown
}

function option<T>(options: Record<string, unknown>, ...keys: string[]): T | undefined {
  for (const key of keys) {
    const value = options[key]
    if (value !== undefined && value !== null) return value as T
  }
  return undefined
}

/**
 * The queue a worker consumes after `add_consumer(queue, exchange, exchange_type, routing_key,
 * **options)`: kombu's `Queue.from_dict` defaults (durable, not auto-deleted, direct exchange named
 * like the queue, routing key = queue name).
 */
export function describeQueue(name: string, options: Record<string, unknown> = {}): QueueDescription {
  const exclusive = Boolean(option(options, 'exclusive'))
  const durable = option<boolean>(options, 'queue_durable', 'durable') ?? true
  const autoDelete = option<boolean>(options, 'queue_auto_delete', 'auto_delete') ?? false
  return {
    name,
    exchange: {
      name: option<string>(options, 'exchange') ?? name,
      type: option<string>(options, 'exchange_type') ?? 'direct',
      arguments: option(options, 'exchange_arguments') ?? null,
      durable: option<boolean>(options, 'exchange_durable', 'durable') ?? true,
      passive: false,
      auto_delete: option<boolean>(options, 'exchange_auto_delete', 'auto_delete') ?? false,
      delivery_mode: option(options, 'delivery_mode') ?? null,
      no_declare: false,
    },
    routing_key: option<string>(options, 'binding_key', 'routing_key') ?? name,
    queue_arguments: option(options, 'queue_arguments') ?? null,
    binding_arguments: option(options, 'binding_arguments') ?? null,
    consumer_arguments: option(options, 'consumer_arguments') ?? null,
    // kombu: an exclusive queue is always auto-deleted, and never durable.
    durable: exclusive ? false : Boolean(durable),
    exclusive,
    auto_delete: exclusive ? true : Boolean(autoDelete),
    no_ack: Boolean(option(options, 'no_ack')),
    alias: null,
    bindings: [],
    no_declare: null,
    expires: option(options, 'expires') ?? null,
    message_ttl: option(options, 'message_ttl') ?? null,
    max_length: option(options, 'max_length') ?? null,
    max_length_bytes: option(options, 'max_length_bytes') ?? null,
    max_priority: option(options, 'max_priority') ?? null,
  }
}

/** A registered task's attributes that control commands change (`rate_limit`, `time_limit`). */
export interface TaskSettings {
  rate_limit?: unknown
  time_limit?: unknown
  soft_time_limit?: unknown
  exchange?: unknown
  routing_key?: unknown
}

/** The tasks every Celery app registers (celery/app/builtins.py); `registered` hides them unless asked. */
export const BUILTIN_TASKS = [
  'celery.accumulate',
  'celery.backend_cleanup',
  'celery.chain',
  'celery.chord',
  'celery.chord_unlock',
  'celery.chunks',
  'celery.group',
  'celery.map',
  'celery.starmap',
]

/** Celery's `worker_prefetch_multiplier` default: prefetch_count = pool size × 4. */
export const PREFETCH_MULTIPLIER = 4
/** Celery's revoked set: at most 50,000 ids, each kept three hours (worker/state.py). */
const REVOKES_MAX = 50_000
const REVOKE_EXPIRES_S = 10_800

/** Process-wide figures shared by every worker hosted in the process, sampled at most every 250 ms. */
export interface ProcessSample {
  rssBytes: number
  loadavg: [number, number, number]
  rusage: Record<string, number>
}

let sample: {at: number; value: ProcessSample} | undefined

export function processSample(): ProcessSample {
  const now = performance.now()
  if (sample && now - sample.at < 250) return sample.value
  const r = process.resourceUsage()
  const round2 = (n: number) => Math.round(n * 100) / 100
  const [l1, l5, l15] = loadavg()
  const value: ProcessSample = {
    rssBytes: process.memoryUsage.rss(),
    loadavg: [round2(l1), round2(l5), round2(l15)],
    // Python's resource.getrusage(RUSAGE_SELF), field for field; times in seconds, maxrss in KB.
    rusage: {
      utime: r.userCPUTime / 1e6,
      stime: r.systemCPUTime / 1e6,
      maxrss: r.maxRSS,
      ixrss: r.sharedMemorySize,
      idrss: r.unsharedDataSize,
      isrss: r.unsharedStackSize,
      minflt: r.minorPageFault,
      majflt: r.majorPageFault,
      nswap: r.swappedOut,
      inblock: r.fsRead,
      oublock: r.fsWrite,
      msgsnd: r.ipcSent,
      msgrcv: r.ipcReceived,
      nsignals: r.signalsCount,
      nvcsw: r.voluntaryContextSwitches,
      nivcsw: r.involuntaryContextSwitches,
    },
  }
  sample = {at: now, value}
  return value
}

/** Shared, read-only defaults of a fleet; each worker copies a part only when a command changes it. */
export interface StateTemplate {
  tasks: readonly string[]
  queues: readonly QueueDescription[]
  concurrency: number
  autoscale?: {max: number; min: number}
  /** Like `celery worker -E`: no event group filter, so enable/disable_events change nothing. */
  taskEvents: boolean
}

/**
 * What one simulated worker remembers between commands. Kept small, because a process hosts
 * thousands: collections start out shared with the template and are copied on first change.
 */
export class WorkerState {
  /** The app clock: `clock`, events, hello (docs/wire-protocol.md#clocks). */
  readonly appClock = new LamportClock()
  /** The mailbox clock: the `clock` header of replies. */
  readonly mailboxClock = new LamportClock()
  readonly startedAt = Date.now()
  poolSize: number
  autoscaler?: {max: number; min: number; current: number}
  /** Event groups sent; null means no filter (all groups, `-E`). */
  eventGroups: Set<string> | null
  processed = 0
  private revokedIds?: Map<string, number>
  private taskOverrides?: Map<string, TaskSettings>
  private consuming?: Map<string, QueueDescription>
  /** Queue definitions seen before: Celery reuses one when a cancelled queue is added again. */
  private knownQueues?: Map<string, QueueDescription>
  memSamples: number[] = []

  constructor(readonly template: StateTemplate) {
    this.poolSize = template.autoscale ? template.autoscale.min : template.concurrency
    if (template.autoscale) this.autoscaler = {...template.autoscale, current: template.autoscale.min}
    this.eventGroups = template.taskEvents ? null : new Set(['worker'])
  }

  get prefetchCount(): number {
    return (this.autoscaler ? this.autoscaler.max : this.poolSize) * PREFETCH_MULTIPLIER
  }

  /** The pool's `max-concurrency` as stats report it: the autoscaler's ceiling when it has one. */
  get maxConcurrency(): number {
    return this.autoscaler ? this.autoscaler.max : this.poolSize
  }

  // -- tasks

  hasTask(name: unknown): name is string {
    return typeof name === 'string' && this.template.tasks.includes(name)
  }

  task(name: string): TaskSettings {
    return this.taskOverrides?.get(name) ?? {}
  }

  updateTask(name: string, change: TaskSettings): void {
    this.taskOverrides ??= new Map()
    this.taskOverrides.set(name, {...this.task(name), ...change})
  }

  // -- revoked ids

  revoke(ids: string[], at = Date.now() / 1000): void {
    this.revokedIds ??= new Map()
    for (const id of ids) {
      this.revokedIds.delete(id)
      this.revokedIds.set(id, at)
    }
    this.purgeRevoked()
  }

  /** LimitedSet.purge: drops expired ids, then the oldest beyond the limit. */
  purgeRevoked(now = Date.now() / 1000): void {
    if (!this.revokedIds) return
    for (const [id, at] of this.revokedIds) {
      if (now - at <= REVOKE_EXPIRES_S && this.revokedIds.size <= REVOKES_MAX) break
      this.revokedIds.delete(id)
    }
  }

  revoked(): string[] {
    this.purgeRevoked()
    return [...(this.revokedIds?.keys() ?? [])]
  }

  /** The revoked set as mingle exchanges it: `{id: [timestamp, id]}`. */
  revokedData(): Record<string, [number, string]> {
    this.purgeRevoked()
    const data: Record<string, [number, string]> = {}
    for (const [id, at] of this.revokedIds ?? []) data[id] = [at, id]
    return data
  }

  // -- queues

  private consumingMap(): Map<string, QueueDescription> {
    this.consuming ??= new Map(this.template.queues.map((q) => [q.name, q]))
    return this.consuming
  }

  activeQueues(): QueueDescription[] {
    return this.consuming ? [...this.consuming.values()] : [...this.template.queues]
  }

  addQueue(name: string, options: Record<string, unknown>): void {
    const consuming = this.consumingMap()
    if (consuming.has(name)) return
    this.knownQueues ??= new Map(this.template.queues.map((q) => [q.name, q]))
    let queue = this.knownQueues.get(name)
    if (!queue) {
      queue = describeQueue(name, options)
      this.knownQueues.set(name, queue)
    }
    consuming.set(name, queue)
  }

  cancelQueue(name: string): void {
    this.consumingMap().delete(name)
  }
}
