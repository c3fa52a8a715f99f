import {ExitCode} from '../errors.js'
import {errorOf} from '../protocol/collector.js'
import type {Addressed, FleetOperation} from './operation.js'
import {exitCodeOf, own, type FleetResult} from './outcome.js'
import type {Roster} from './roster.js'

/*
 * Queue depths (`wfctl queues`, and the queue rows of `wfctl top`): which queues there are, how many
 * messages wait in each, and how many consumers each has. Names come from three places: the
 * workers' `active_queues` (one broadcast), the broker (Redis: kombu's binding sets; RabbitMQ has no
 * list without its management plugin) and the caller. Depths come from the broker, read-only. On
 * RabbitMQ the broker counts consumers; on Redis only the workers can say who consumes a queue, so
 * there a queue's consumers are the workers that answered and listed it. Nothing here prints.
 */

/** One queue as `wfctl queues --json` shows it. */
export interface QueueRow {
  name: string
  /** Messages waiting (on RabbitMQ: ready, not yet delivered); null only when the broker would not tell (see `error`). */
  messages: number | null
  /** RabbitMQ: consumers as the broker counts them. Redis: workers that answered and consume it. Null when unknown. */
  consumers: number | null
  /** Redis: messages per priority list, keyed by kombu's step ('0' the plain list for priorities 0-2, '3', '6', '9'); only when asked for. */
  byPriority?: Record<string, number>
  /** False when the broker has no such queue (RabbitMQ only: Redis cannot tell an empty queue from none). */
  exists: boolean
  /** Why the broker would not give the depth (an exclusive queue of another connection, access refused). */
  error?: string
}

/** Where the consumer counts come from: the broker (RabbitMQ), the workers' answers (Redis), or nowhere (Redis, not asked). */
export type ConsumersFrom = 'broker' | 'workers' | null

export interface QueuesResult {
  /** Every queue, in natural order of names (q2 before q10). */
  queues: QueueRow[]
  consumersFrom: ConsumersFrom
  /** Each queue with the nodes that said they consume it (from the broadcast, or `consumedBy` as given). */
  consumedBy: Record<string, string[]>
  /** The workers' answer to `active_queues`, when it was asked. */
  asked?: FleetResult
  /** How long the whole read took. */
  elapsedMs: number
}

export interface ReadQueuesOptions {
  /** Queues to show whatever else is found (`--queue`). */
  queues?: string[]
  /** Ask the workers which queues they consume: one `active_queues` broadcast (default true). */
  ask?: boolean
  /** Take the names the broker knows without a worker (Redis binding sets; default true). */
  known?: boolean
  /** Who the broadcast addresses (default: every worker). */
  target?: Addressed
  /** Who must answer it (`--expect`); the broadcast ends once they all did. */
  roster?: Roster
  /** The broadcast's deadline. */
  timeoutMs: number
  /** Keep each queue's per-priority counts (Redis). */
  priorities?: boolean
  /** Consumers already known (an earlier result's `consumedBy`), for a refresh that does not ask again. */
  consumedBy?: Record<string, string[]>
}

const EVERYONE: Addressed = {destination: []}

let natural: Intl.Collator | undefined
/** Names in natural order: numbers compared as numbers (q2 before q10). */
export function naturalCompare(a: string, b: string): number {
  return (natural ??= new Intl.Collator(undefined, {numeric: true})).compare(a, b) || (a < b ? -1 : a > b ? 1 : 0)
}

/** The queue names of one `active_queues` payload (a list of kombu queue declarations), or undefined when it is not one. */
export function queueNamesOf(payload: unknown): string[] | undefined {
  if (!Array.isArray(payload) || errorOf(payload) !== undefined) return undefined
  return payload.flatMap((q) => (typeof q === 'object' && q !== null && typeof (q as {name?: unknown}).name === 'string' ? [(q as {name: string}).name] : []))
}

/** Each queue the replies name, with the nodes that consume it (each node once, sorted). */
export function consumersOfReplies(result: FleetResult): Record<string, string[]> {
  const by = new Map<string, Set<string>>()
  for (const node of Object.keys(result.replies)) {
    for (const payload of own(result.duplicateReplies, node) ?? [own(result.replies, node)]) {
      for (const queue of queueNamesOf(payload) ?? []) {
        const nodes = by.get(queue) ?? new Set<string>()
        nodes.add(node)
        by.set(queue, nodes)
      }
    }
  }
  return Object.fromEntries([...by].map(([queue, nodes]) => [queue, [...nodes].sort(naturalCompare)]))
}

/**
 * Reads the queues on an open operation: the names (the broadcast, the broker's own list, the
 * given ones), then every depth in one go. Called once by `wfctl queues`; `wfctl top` calls it every
 * few seconds on its open operation, and for a refresh that sends no request passes
 * `{queues: names, ask: false, known: false, consumedBy: first.consumedBy, timeoutMs}`: that reads
 * depths only (one round trip on Redis, one passive declare per queue on RabbitMQ).
 */
export async function readQueues(op: FleetOperation, opts: ReadQueuesOptions): Promise<QueuesResult> {
  const started = performance.now()
  const known = opts.known === false ? [] : await op.knownQueues()
  let asked: FleetResult | undefined
  let consumedBy: Record<string, string[]> = {...opts.consumedBy}
  if (opts.ask !== false) {
    asked = await op.request({method: 'active_queues', args: {}, target: opts.target ?? EVERYONE, roster: opts.roster, timeoutMs: opts.timeoutMs})
    consumedBy = consumersOfReplies(asked)
  }
  const names = [...new Set([...(opts.queues ?? []), ...Object.keys(consumedBy), ...known])].sort(naturalCompare)
  const depths = await op.queueDepths(names)
  const fromBroker = op.broker === 'amqp'
  const fromWorkers = !fromBroker && (asked !== undefined || opts.consumedBy !== undefined)
  const queues = depths.map((d): QueueRow => {
    const consumers = fromBroker ? d.consumers : fromWorkers ? (own(consumedBy, d.name)?.length ?? 0) : null
    return {
      name: d.name,
      messages: d.error === undefined ? d.messages : null,
      consumers: d.error === undefined ? consumers : null,
      ...(opts.priorities && d.byPriority ? {byPriority: d.byPriority} : {}),
      exists: d.exists,
      ...(d.error === undefined ? {} : {error: d.error}),
    }
  })
  return {
    queues,
    consumersFrom: fromBroker ? 'broker' : fromWorkers ? 'workers' : null,
    consumedBy,
    asked,
    elapsedMs: Math.round(performance.now() - started),
  }
}

/**
 * `wfctl queues`' exit code. The depths are the answer, so a broadcast nobody answered is no
 * failure as long as there are queues to show: 0. Partial (1): a depth the broker would not give,
 * or a broadcast that came back short (a -d or --expect node silent, an error or unreadable reply),
 * which makes the consumer counts short too. Nothing found at all, and no worker answered: 69.
 */
export function queuesExitCode(result: QueuesResult): number {
  if (result.queues.some((q) => q.error !== undefined)) return ExitCode.partial
  const asked = result.asked ? exitCodeOf(result.asked) : ExitCode.ok
  if (asked === ExitCode.noReply) return result.queues.length > 0 ? ExitCode.ok : ExitCode.noReply
  return asked
}

/** The `--json` shape of `wfctl queues`. */
export interface QueuesJson {
  queues: QueueRow[]
  consumersFrom: ConsumersFrom
  /** The nodes that answered the broadcast (null when none was sent). */
  workers: string[] | null
  /** Targeted or expected nodes that stayed silent. */
  missing: string[]
  elapsedMs: number
}

export function queuesJson(result: QueuesResult): QueuesJson {
  const asked = result.asked
  return {
    queues: result.queues,
    consumersFrom: result.consumersFrom,
    workers: asked ? [...new Set([...Object.keys(asked.replies), ...Object.keys(asked.errors)])].sort(naturalCompare) : null,
    missing: asked?.missing ?? [],
    elapsedMs: result.elapsedMs,
  }
}
