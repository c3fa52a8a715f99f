import {BrokerError, InterruptedError} from '../errors.js'
import {buildRequest, encodeRequest, type Target} from '../protocol/request.js'
import {CleanupError, type QueueDepth, type Transport} from '../wire/transport.js'
import {own, summarize, type FleetResult} from './outcome.js'
import {completionOf, type Roster} from './roster.js'
import {brokerName, FleetSession, requestAddress, type SessionOptions} from './session.js'
import {fixFlags, rankElsewhere} from './fix-flags.js'
import {shutdownNodes, tasksOf, type ActiveBefore, type ShutdownResult} from './shutdown.js'
import {TaskEventFeed} from '../protocol/task-events.js'
import {openEventStream, type EventStream, type EventStreamOptions} from '../protocol/event-stream.js'

/*
 * The fleet-operation layer: what wfctl does to a fleet, whoever asks (a command, the explorer, a
 * live view). A plan is decided and checked before anything connects; an operation is an open
 * connection on which planned requests and shutdowns run, and whose close() removes everything
 * wfctl created in the broker. Nothing here reads flags, prompts or prints.
 */

/** Nodes addressed by name (possibly none: a broadcast), or by a pattern the workers match. */
export type Addressed = Target & {destination: string[]}

/** One request to the fleet, checked: sending it publishes exactly what a dry run shows. */
export interface RequestPlan {
  kind: 'request'
  session: SessionOptions
  method: string
  args: Record<string, unknown>
  target: Addressed
  /** The nodes expected to answer (`--expect`); replies stop being awaited once all of them did. */
  roster?: Roster
  /** The deadline for replies after publishing. */
  timeoutMs: number
}

/** A shutdown: a request no worker answers, then pings until the targeted nodes stop answering. */
export interface ShutdownPlan {
  kind: 'shutdown'
  session: SessionOptions
  target: Addressed
  /** Logged by each worker as the reason. */
  reason: string
  /** How long to verify that the nodes stopped; undefined: do not verify. */
  waitMs?: number
  /** Deadline of each verification ping. */
  pingTimeoutMs: number
}

export type Plan = RequestPlan | ShutdownPlan

/** What --dry-run prints instead of sending: where the request would go and the exact message. */
export interface DryRun {
  dryRun: true
  broker: string
  address: string
  headers: Record<string, unknown>
  properties: {contentType: string; contentEncoding: string; deliveryMode?: number}
  body: ReturnType<typeof buildRequest>
}

/** Seconds a shutdown waits to see the nodes stop, unless told otherwise (--wait). */
export const SHUTDOWN_WAIT_SECONDS = 10

/** Checks a request against what harms workers (a refused one has published nothing), and plans it. */
export function planRequest(plan: Omit<RequestPlan, 'kind'>): RequestPlan {
  buildRequest({method: plan.method, args: plan.args, ...plan.target, controlExchange: plan.session.namespace.controlExchange})
  return {kind: 'request', ...plan}
}

export function planShutdown(plan: Omit<ShutdownPlan, 'kind'>): ShutdownPlan {
  buildRequest({method: 'shutdown', args: {msg: plan.reason}, ...plan.target, controlExchange: plan.session.namespace.controlExchange})
  return {kind: 'shutdown', ...plan}
}

/** The exact message a plan would publish, built without connecting. */
export async function dryRun(plan: Plan): Promise<DryRun> {
  const {session} = plan
  const address = await requestAddress(session)
  const method = plan.kind === 'shutdown' ? 'shutdown' : plan.method
  const args = plan.kind === 'shutdown' ? {msg: plan.reason} : plan.args
  const wantsReply = plan.kind === 'request'
  const body = buildRequest({
    method, args, ...plan.target,
    controlExchange: session.namespace.controlExchange,
    replyRoutingKey: wantsReply ? '<reply routing key>' : undefined,
  })
  const message = encodeRequest(body, (plan.kind === 'request' ? plan.timeoutMs : 1000) / 1000)
  return {
    dryRun: true,
    broker: brokerName(session),
    address,
    headers: message.headers,
    properties: {contentType: message.contentType, contentEncoding: message.contentEncoding, deliveryMode: message.deliveryMode},
    body,
  }
}

/** What a one-shot operation learnt: the fleet's answer, where it was sent, and what could not be cleaned up. */
export interface Performed<T> {
  result: T
  address: string
  /** Set when something wfctl created could not be removed from the broker. */
  cleanup?: CleanupError
}

/** An open connection to the fleet. */
export class FleetOperation {
  private closed = false

  private constructor(
    private readonly session: FleetSession,
    private readonly signal: AbortSignal,
    private readonly options?: SessionOptions,
  ) {}

  /**
   * Connects, bounded by the session's connect timeout and by the signal. The transport is handed
   * to `hold` before connecting, so that whoever owns the process can close it if it must exit.
   */
  static async open(options: SessionOptions, signal: AbortSignal, hold: (transport: Transport) => void = () => {}): Promise<FleetOperation> {
    const session = await abortable(FleetSession.open(options, hold), signal)
    return new FleetOperation(session, signal, options)
  }

  /** Where requests go, for hints ("exchange celery.pidbox in vhost /"). */
  get address(): string {
    return this.session.transport.requestAddress
  }

  /** Sends one request to the targeted nodes and collects the replies until complete or the deadline. */
  async request(plan: Pick<RequestPlan, 'method' | 'args' | 'target' | 'roster' | 'timeoutMs'>): Promise<FleetResult> {
    const {method, args, target, roster, timeoutMs} = plan
    const call = await this.session.mailbox.call({
      method, args, ...target, timeoutMs,
      isComplete: completionOf(target.destination, roster),
      signal: this.signal,
    })
    const result = summarize(method, call, target.destination, roster)
    if (result.listeners === 0 && Object.keys(result.replies).length === 0) await this.lookElsewhere(result)
    return result
  }

  /** Nobody could hear the request: one cheap look for where workers of this broker do listen, for the hint. */
  private async lookElsewhere(result: FleetResult): Promise<void> {
    const look = this.session.transport.listenersElsewhere
    if (!look || !this.options) return
    const {url, namespace} = this.options
    const from = {masked: url.masked, db: url.db, prefix: namespace.redisKeyPrefix, controlExchange: namespace.controlExchange}
    try {
      const found = await abortable(look.call(this.session.transport), this.signal)
      const ranked = rankElsewhere(from, found)
      if (ranked.length > 0) result.listenersElsewhere = ranked.map((f) => ({...f, fix: fixFlags(from, f)}))
    } catch (error) {
      // Only a hint: a broker that refuses the look (an ACL) leaves the plain one.
      if (error instanceof InterruptedError) throw error
    }
  }

  /**
   * Shuts the targeted nodes down. When it is to verify, it first listens to task events and asks
   * the targets what they run (`active`), so that afterwards "stopped" means a node was seen idle
   * (or seen finishing every task it ran) and then silent, and "stopping" names what it still runs.
   */
  async shutdown(plan: Pick<ShutdownPlan, 'target' | 'reason' | 'waitMs' | 'pingTimeoutMs'>): Promise<ShutdownResult> {
    const {target, waitMs, pingTimeoutMs} = plan
    const {mailbox, transport} = this.session
    const options = {...target, reason: plan.reason, waitMs, pingTimeoutMs, signal: this.signal}
    if (waitMs === undefined) return shutdownNodes(mailbox, {...options, targets: target.destination}, undefined)
    // Listening starts first: a task that ends between the answer and the shutdown is not missed.
    const feed = await abortable(TaskEventFeed.open(transport), this.signal)
    try {
      const active = await this.request({method: 'active', args: {}, target, timeoutMs: pingTimeoutMs})
      const before: ActiveBefore = new Map()
      for (const [node, payload] of Object.entries(active.replies)) {
        const error = own(active.errors, node)
        const tasks = error === undefined ? tasksOf(payload) : undefined
        before.set(node, tasks ?? {unreadable: error ?? 'its answer to "active" is not a list of tasks'})
      }
      for (const [node, error] of Object.entries(active.errors)) if (!before.has(node)) before.set(node, {unreadable: error})
      const targets = target.destination.length > 0 ? target.destination : [...before.keys()].sort()
      return await shutdownNodes(mailbox, {...options, targets}, before, feed)
    } finally {
      await feed?.close()
    }
  }

  /** Which broker this is: on RabbitMQ it counts each queue's consumers, on Redis only the workers can say (src/fleet/queues.ts). */
  get broker(): Transport['kind'] {
    return this.session.transport.kind
  }

  /** How many messages wait in each named queue, as the broker says; read-only, creates nothing (src/fleet/queues.ts). */
  async queueDepths(names: string[]): Promise<QueueDepth[]> {
    const {transport} = this.session
    if (!transport.queueDepths) throw new Error(`the ${transport.kind} transport cannot read queue depths`)
    if (names.length === 0) return []
    return abortable(transport.queueDepths(names), this.signal)
  }

  /** Queue names the broker knows without asking a worker (Redis: kombu's binding sets); none where it cannot tell. */
  async knownQueues(): Promise<string[]> {
    const {transport} = this.session
    return transport.knownQueues ? abortable(transport.knownQueues(), this.signal) : []
  }

  /**
   * Subscribes to Celery's events on this connection (src/fleet/events.ts); the subscription is the
   * caller's to close, and goes with the connection at the latest.
   */
  async openEvents(opts: EventStreamOptions): Promise<EventStream> {
    return abortable(openEventStream(this.session.transport, opts), this.signal)
  }

  /** The nodes whose mailbox the broker keeps bound (Redis: kombu's pidbox binding set); undefined where it keeps no such record. Read-only. */
  async boundMailboxes(): Promise<string[] | undefined> {
    const {transport} = this.session
    return transport.boundMailboxes ? abortable(transport.boundMailboxes(), this.signal) : undefined
  }

  /** Removes what wfctl created in the broker and disconnects; returns what could not be removed. */
  async close(): Promise<CleanupError | undefined> {
    if (this.closed) return undefined
    this.closed = true
    try {
      await this.session.close()
    } catch (error) {
      if (error instanceof CleanupError) return error
      throw error
    }
    return undefined
  }
}

/**
 * Runs one plan on an open operation and then cleans up the broker — before the caller prints
 * anything, so a long table or an interrupt while it prints leaves nothing behind. When the plan
 * fails, the operation is left to its owner to close (and to report what that could not remove).
 */
export async function perform(plan: RequestPlan, operation: FleetOperation): Promise<Performed<FleetResult>>
export async function perform(plan: ShutdownPlan, operation: FleetOperation): Promise<Performed<ShutdownResult>>
export async function perform(plan: Plan, operation: FleetOperation): Promise<Performed<FleetResult | ShutdownResult>> {
  const result = plan.kind === 'request' ? await operation.request(plan) : await operation.shutdown(plan)
  const address = operation.address
  const cleanup = await operation.close()
  if (cleanup && plan.kind === 'request') {
    const heard = Object.keys(result.replies).length + (result as FleetResult).undecodable.length
    // Silence from a broker that then cannot be reached is the broker's failure, not the fleet's.
    if (cleanup.unreachable && heard === 0) throw new BrokerError(`the broker stopped answering: ${cleanup.message}`)
  }
  return {result, address, cleanup}
}

/** Races work against the signal: an interrupt ends the wait at once (InterruptedError). */
export async function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw new InterruptedError(String(signal.reason))
  let onAbort: () => void = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new InterruptedError(String(signal.reason)))
    signal.addEventListener('abort', onAbort, {once: true})
  })
  work.catch(() => {})
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
