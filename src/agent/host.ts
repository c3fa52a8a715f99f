import type {Namespace} from '../wire/transport.js'
import {parseBrokerUrl, type BrokerUrl} from '../broker/url.js'
import type {TlsFiles} from '../broker/tls.js'
import type {WorkerEvent} from '../wire/events.js'
import type {AgentLink, IncomingRequest, LogEntry, ReplyBatch} from '../wire/link.js'
import {WorkerResponder, workerProfile, type ProfileOptions, type WorkerProfile} from './responder.js'
import {addressees, isAddressed} from './targeting.js'

export interface HostOptions {
  /** `redis://…/db`, `rediss://…`, `amqp://…/vhost`, as the real workers' broker_url. */
  brokerUrl: string | BrokerUrl
  /** Celery's `control_exchange` (default `celery`). */
  controlExchange?: string
  /** kombu's Redis `global_keyprefix` (default empty). */
  redisKeyPrefix?: string
  /** Celery's `event_exchange` (default `celeryev`). */
  eventExchange?: string
  /** Interval of worker-heartbeat events in seconds (default 2, Celery's). */
  heartbeatSeconds?: number
  connectTimeoutMs?: number
  /** TLS files given outside the URL (--tls-ca, --tls-cert, --tls-key). */
  tls?: TlsFiles
  onLog?: (entry: LogEntry) => void
  /** A node stopped: by a remote `shutdown`, or because the host removed it. */
  onStopped?: (node: string, reason: StopReason) => void
  /** The broker connection is gone for good; the host has stopped every node it could. */
  onFailure?: (error: Error) => void
}

export type StopReason = 'shutdown' | 'stop' | 'failure'

/**
 * Hosts any number of WorkerResponders on ONE broker connection: requests are read once and
 * dispatched in-process, replies and events are batched, one timer drives every heartbeat.
 * Nodes can be added and removed while it runs; close() removes everything it created.
 */
export class ResponderHost {
  readonly url: BrokerUrl
  readonly namespace: Namespace & {eventExchange: string}
  readonly heartbeatSeconds: number
  private readonly responders = new Map<string, WorkerResponder>()
  /** When each node's next heartbeat is due (performance.now() ms). */
  private readonly nextBeat = new Map<string, number>()
  private link?: AgentLink
  private timer?: NodeJS.Timeout
  private closed = false
  private emptyWaiters: (() => void)[] = []

  constructor(private readonly opts: HostOptions) {
    this.url = typeof opts.brokerUrl === 'string' ? parseBrokerUrl(opts.brokerUrl) : opts.brokerUrl
    this.namespace = {
      controlExchange: opts.controlExchange ?? 'celery',
      redisKeyPrefix: opts.redisKeyPrefix ?? '',
      eventExchange: opts.eventExchange ?? 'celeryev',
    }
    this.heartbeatSeconds = opts.heartbeatSeconds ?? 2
    if (!(this.heartbeatSeconds > 0)) throw new RangeError(`heartbeatSeconds must be positive, got ${this.heartbeatSeconds}`)
  }

  /** Connects the shared link. Loads only the client library the URL needs. */
  async open(): Promise<void> {
    const linkOptions = {url: this.url, namespace: this.namespace, connectTimeoutMs: this.opts.connectTimeoutMs ?? 5000, tls: this.opts.tls}
    if (this.url.kind === 'redis') {
      const {RedisAgentLink} = await import('../broker/redis-agent.js')
      this.link = new RedisAgentLink(linkOptions)
    } else {
      const {AmqpAgentLink} = await import('../broker/amqp-agent.js')
      this.link = new AmqpAgentLink(linkOptions)
    }
    await this.link.connect({
      onRequest: (request, node) => this.handle(request, node),
      onFailure: (error) => void this.fail(error),
      onLog: (entry) => this.log(entry),
    })
    // Closed while connecting (an interrupt): do not keep a connection nobody will close.
    if (this.closed) {
      await this.link.close()
      return
    }
    const periodMs = this.heartbeatSeconds * 1000
    this.timer = setInterval(() => this.beat(), Math.min(1000, Math.max(50, periodMs / 10)))
  }

  /** A profile for responders on this host: its broker, namespace and heartbeat interval. */
  profile(options: Omit<ProfileOptions, 'broker' | 'namespace' | 'heartbeatSeconds'> = {}): WorkerProfile {
    return workerProfile({...options, broker: this.url, namespace: this.namespace, heartbeatSeconds: this.heartbeatSeconds})
  }

  get nodes(): string[] {
    return [...this.responders.keys()]
  }

  get size(): number {
    return this.responders.size
  }

  responder(node: string): WorkerResponder | undefined {
    return this.responders.get(node)
  }

  /** Resolves when no node is left (all shut down remotely, or removed). */
  whenEmpty(): Promise<void> {
    if (this.responders.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.emptyWaiters.push(resolve))
  }

  private log(entry: LogEntry): void {
    this.opts.onLog?.(entry)
  }

  private get connected(): AgentLink {
    if (!this.link || this.closed) throw new Error('responder host used before open() or after close()')
    return this.link
  }

  /**
   * Makes the nodes reachable and announces them (worker-online). Throws, having removed them
   * again, if any could not get a mailbox (for example a same-named node already listening).
   */
  async add(responders: WorkerResponder[]): Promise<void> {
    const link = this.connected
    const fresh = responders.filter((r) => !this.responders.has(r.node))
    if (new Set(fresh.map((r) => r.node)).size !== fresh.length || fresh.length !== responders.length) {
      throw new RangeError('node names must be unique on a host')
    }
    // In the table before the mailbox exists, so a request arriving at once finds its node.
    for (const r of fresh) this.responders.set(r.node, r)
    let refused: {node: string; reason: string}[]
    try {
      refused = await link.attach(fresh.map((r) => r.node))
    } catch (error) {
      for (const r of fresh) this.responders.delete(r.node)
      await link.detach(fresh.map((r) => r.node)).catch(() => {})
      throw error
    }
    if (refused.length > 0) {
      for (const r of fresh) this.responders.delete(r.node)
      await link.detach(fresh.map((r) => r.node)).catch(() => {})
      throw new Error(`cannot start ${refused.length} node(s): ${refused.slice(0, 3).map((r) => `${r.node}: ${r.reason}`).join('; ')}`)
    }
    const now = performance.now()
    const periodMs = this.heartbeatSeconds * 1000
    // Spread over one period: 10,000 nodes beating in the same millisecond would be a burst, not a fleet.
    for (const r of fresh) this.nextBeat.set(r.node, now + Math.random() * periodMs)
    await link.publishEvents(fresh.map((r) => r.event('worker-online')))
  }

  /** Says goodbye (worker-offline) and removes the nodes' mailboxes. */
  async remove(nodes: string[], reason: StopReason = 'stop'): Promise<void> {
    const leaving = nodes.map((n) => this.responders.get(n)).filter((r): r is WorkerResponder => r !== undefined)
    // Out of the table first: a request arriving meanwhile no longer reaches them.
    for (const r of leaving) {
      this.responders.delete(r.node)
      this.nextBeat.delete(r.node)
    }
    if (leaving.length === 0) return
    const link = this.link
    if (link && reason !== 'failure') {
      try {
        await link.publishEvents(leaving.map((r) => r.event('worker-offline')))
      } catch (error) {
        this.log({level: 'error', message: `cannot send worker-offline: ${(error as Error).message}`})
      }
      try {
        await link.detach(leaving.map((r) => r.node))
      } catch (error) {
        this.log({level: 'error', message: `cannot remove mailboxes: ${(error as Error).message}`})
      }
    }
    for (const r of leaving) this.opts.onStopped?.(r.node, reason)
    if (this.responders.size === 0) for (const resolve of this.emptyWaiters.splice(0)) resolve()
  }

  /** One request, read once for every node it reached (all on Redis, one mailbox on AMQP). */
  private handle(request: IncomingRequest, mailboxNode?: string): void {
    const {body} = request
    let reached: Iterable<WorkerResponder>
    if (mailboxNode !== undefined) {
      const one = this.responders.get(mailboxNode)
      if (!one) return
      reached = [one]
    } else {
      reached = this.responders.values()
    }
    const target = addressees(body)
    const addressed: WorkerResponder[] = []
    for (const r of reached) {
      r.observe(request.clock)
      if (target.kind === 'none' || target.kind === 'nodes') continue
      if (isAddressed(target, r.node)) addressed.push(r)
    }
    if (target.kind === 'nodes') {
      // A destination list is looked up, not scanned: ten names in a fleet of 10,000 cost ten lookups.
      for (const node of target.nodes) {
        const r = this.responders.get(node)
        if (r && (mailboxNode === undefined || node === mailboxNode)) addressed.push(r)
      }
    }
    if (target.kind === 'none') {
      // A real Redis worker would stop listening over this (docs/wire-protocol.md#what-wfctl-never-sends); we only refuse it.
      this.log({level: 'error', message: `ignored a ${JSON.stringify(body.method)} request: ${target.why}`})
      return
    }
    if (addressed.length === 0) return

    const replyTo = body.reply_to as Record<string, unknown> | undefined
    const wantsReply = typeof replyTo === 'object' && replyTo !== null && typeof replyTo.exchange === 'string' && typeof replyTo.routing_key === 'string'
    const batch: ReplyBatch | undefined = wantsReply
      ? {exchange: replyTo.exchange as string, routingKey: replyTo.routing_key as string, ticket: body.ticket ?? null, replies: []}
      : undefined
    const events: WorkerEvent[] = []
    const stopping: string[] = []
    for (const r of addressed) {
      const outcome = r.dispatch(body)
      if (outcome.kind === 'shutdown') {
        this.log({level: 'warning', node: r.node, message: outcome.message})
        stopping.push(r.node)
      } else if (outcome.kind === 'reply') {
        batch?.replies.push({node: r.node, payload: outcome.payload, clock: r.replyClock()})
        events.push(...outcome.events)
      }
    }
    // Off the table now, before any later request is read; the goodbye follows asynchronously.
    if (stopping.length > 0) void this.remove(stopping, 'shutdown')
    const link = this.link
    if (!link || this.closed) return
    if (batch && batch.replies.length > 0) {
      link.reply(batch).catch((error: Error) => this.log({level: 'error', message: `cannot reply to ${batch.routingKey}: ${error.message}`}))
    }
    if (events.length > 0) {
      link.publishEvents(events).catch((error: Error) => this.log({level: 'error', message: `cannot send events: ${error.message}`}))
    }
  }

  private beat(): void {
    const link = this.link
    if (!link || this.closed) return
    const now = performance.now()
    const periodMs = this.heartbeatSeconds * 1000
    const due: WorkerEvent[] = []
    for (const [node, at] of this.nextBeat) {
      if (at > now) continue
      due.push(this.responders.get(node)!.event('worker-heartbeat'))
      // Late (a busy loop): keep the rhythm from now rather than catching up with a burst.
      this.nextBeat.set(node, at + periodMs > now ? at + periodMs : now + periodMs)
    }
    if (due.length > 0) link.publishEvents(due).catch((error: Error) => this.log({level: 'error', message: `cannot send heartbeats: ${error.message}`}))
  }

  private async fail(error: Error): Promise<void> {
    if (this.closed) return
    this.log({level: 'error', message: error.message})
    clearInterval(this.timer)
    // Reported before the nodes go, so whoever waits for them learns why.
    this.opts.onFailure?.(error)
    await this.remove(this.nodes, 'failure')
  }

  /** Stops every node (worker-offline, mailboxes removed) and closes the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    clearInterval(this.timer)
    try {
      if (this.link) await this.remove(this.nodes, 'stop')
    } finally {
      this.closed = true
      await this.link?.close()
    }
  }
}
