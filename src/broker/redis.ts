import {randomUuid as randomUUID} from '../uuid.js'

import {assertSafeEnvelope, decodeEnvelope, encodeEnvelope, oversizedEnvelope} from '../wire/envelope.js'
import {MAX_REPLY_BYTES, type ReceivedMessage, type WireMessage} from '../wire/message.js'
import {OversizedBulk, RespConnection, RespError, type Reply, type RespOptions} from './resp.js'
import {CleanupError, EVENT_EXCHANGE, type EventWatch, type Inbox, type ListenersElsewhere, type PublishResult, type Transport} from '../wire/transport.js'
import {brokerFailure, withDeadline, type TransportOptions} from './common.js'
import {tlsOptions} from './tls.js'
import {assertMaster, findMaster, masterDoing} from './sentinel.js'
import {globEscape, SEP} from './redis-keys.js'

const PRIORITY_STEPS = ['3', '6', '9']
/**
 * How long Redis keeps a closed reply list that workers may still push to: a reply whose route lookup
 * came before the binding member was removed lands in it, and Redis deletes it by itself.
 */
export const LATE_REPLY_EXPIRY_MS = 5000
/** What the expiring list holds until a late reply joins it (never read: nobody pops it). */
export const CLOSED_REPLY_MARKER = 'wfctl: reply route closed'
/** Without MULTI (an ACL that refuses it): how long a worker may take between its lookup and its push. */
const STRAGGLER_GRACE_MS = 150
/** Replies drained per round trip once BRPOP has woken up (RPOP with a count, Redis >= 6.2). */
const DRAIN_BATCH = 1000
/** An envelope carries its body in base64 (4/3 of its size), plus headers: anything larger is dropped unread. */
const MAX_ENVELOPE_BYTES = Math.ceil(MAX_REPLY_BYTES / 3) * 4 + 1024 * 1024
const RETRY_PAUSE_MS = 100
/** How often an event subscription checks that its connection still stands. */
const EVENT_KEEPALIVE_MS = 2000

interface CleanupStep {
  what: string
  command: (string | number)[]
  /** Run as MULTI, these commands, EXEC (instead of `command`): all or nothing. */
  transaction?: (string | number)[][]
  /** When the broker refuses the transaction (an ACL without MULTI), these steps run instead. */
  fallback?: CleanupStep[]
  afterMs?: number
}

/** One entry of the reply list as a message: an envelope, one too large to hold, or something else. */
function received(entry: Reply, now: number): ReceivedMessage {
  try {
    if (entry instanceof OversizedBulk) return oversizedEnvelope(entry.head, entry.tail, entry.length, MAX_REPLY_BYTES, now)
    if (typeof entry !== 'string') return {body: Buffer.alloc(0), headers: {}, receivedAt: now, unreadable: 'not a message'}
    const decoded = decodeEnvelope(entry, now)
    return typeof decoded === 'string' ? {body: Buffer.alloc(0), headers: {}, receivedAt: now, unreadable: decoded} : decoded
  } catch (error) {
    return {body: Buffer.alloc(0), headers: {}, receivedAt: now, unreadable: `could not read reply: ${(error as Error).message}`}
  }
}

/**
 * kombu's key and channel names for one control namespace on one database (docs/wire-protocol.md#keys-and-channels).
 * Through Sentinel (`viaSentinel`) kombu before 5.4 never fills in its fanout prefix: its workers
 * publish and listen on the literal `/{db}.` (braces included, whatever the database), kombu 5.4
 * and later on `/0.` as on plain Redis. Both are spoken there: each worker hears one of them.
 */
export function redisNames(db: number, controlExchange: string, keyPrefix: string, viaSentinel = false) {
  const replyQueue = (oid: string) => `${oid}.reply.${controlExchange}.pidbox`
  const fanoutPrefixes = (viaSentinel ? ['/{db}.', `/${db}.`] : [`/${db}.`]).map((f) => keyPrefix + f)
  return {
    requestChannel: `${fanoutPrefixes[0]}${controlExchange}.pidbox`,
    /** Every channel a request is published on (two through Sentinel). */
    requestChannels: fanoutPrefixes.map((f) => `${f}${controlExchange}.pidbox`),
    /** What a fanout exchange's channel starts with (`{prefix}/{db}.`), events included. */
    fanoutPrefixes,
    replyBindingKey: `${keyPrefix}_kombu.binding.reply.${controlExchange}.pidbox`,
    replyQueue,
    /** The member that routes replies for `oid` to its queue; queue names inside members are never prefixed. */
    replyMember: (oid: string) => `${oid}${SEP}${SEP}${replyQueue(oid)}`,
    /** The four lists of a queue, plain first: BRPOP serves them in this order. */
    queueKeys: (queue: string) => [queue, ...PRIORITY_STEPS.map((p) => `${queue}${SEP}${p}`)].map((k) => keyPrefix + k),
  }
}

/**
 * One RESP connection to the URL's server and database within `timeoutMs`: `created` sees it before
 * it connects (so an interrupt can end it); a failure is one masked line naming the cause.
 * A broker that stops answering after connecting must not hang a command either: every command is
 * bounded by the connect timeout unless `over` says otherwise.
 */
export async function openResp(
  opts: TransportOptions,
  over: Partial<RespOptions>,
  created: (connection: RespConnection) => void,
  timeoutMs = opts.connectTimeoutMs,
): Promise<RespConnection> {
  const {url, connectTimeoutMs} = opts
  // Through Sentinel: the sentinels name the master, which is then connected to with the URL's password and database.
  const master = url.sentinels ? await findMaster(opts, timeoutMs, created) : undefined
  let connection: RespConnection | undefined
  const options: RespOptions = {
    host: url.host,
    port: url.port,
    tls: tlsOptions(url, opts.tls),
    username: url.username,
    password: url.password,
    db: url.db,
    name: 'wfctl',
    commandTimeoutMs: connectTimeoutMs,
    ...over,
    ...(master ? {host: master.host, port: master.port} : {}),
  }
  const opening = RespConnection.open(options, (c) => {
    connection = c
    created(c)
  })
  const doing = master ? masterDoing(master) : 'cannot connect to'
  try {
    const ready = await withDeadline(opening, timeoutMs, `${doing} ${url.masked}`, () => connection?.destroy())
    if (master) await withDeadline(assertMaster(ready, master, url), timeoutMs, `${doing} ${url.masked}`, () => ready.destroy())
    return ready
  } catch (error) {
    connection?.destroy()
    throw brokerFailure(url, error, doing)
  }
}

export class RedisTransport implements Transport {
  readonly kind = 'redis'
  readonly requestAddress: string
  private readonly names: ReturnType<typeof redisNames>
  private cmd?: RespConnection
  private closed = false
  /** Every connection made, so that close() and interrupts can end them all, even mid-connect. */
  private readonly connections = new Set<RespConnection>()

  constructor(private readonly opts: TransportOptions) {
    this.names = redisNames(opts.url.db, opts.namespace.controlExchange, opts.namespace.redisKeyPrefix, opts.url.sentinels !== undefined)
    this.requestAddress = this.names.requestChannels.length > 1 ? `channels ${this.names.requestChannels.join(' and ')}` : `channel ${this.names.requestChannel}`
  }

  /** Connects within `timeoutMs` (the connect timeout); the failure names the cause (refused, auth...). */
  private async open(over: Partial<RespOptions> = {}, timeoutMs = this.opts.connectTimeoutMs): Promise<RespConnection> {
    const ready = await openResp(this.opts, {name: 'wfctl', ...over}, (c) => this.connections.add(c), timeoutMs)
    if (this.closed) ready.destroy()
    return ready
  }

  async connect(): Promise<void> {
    this.cmd = await this.open()
  }

  private get command(): RespConnection {
    if (!this.cmd) throw new Error('redis transport used before connect()')
    return this.cmd
  }

  async openInbox(onMessages: (messages: ReceivedMessage[]) => void, onFailure: (error: Error) => void): Promise<Inbox> {
    const cmd = this.command
    const oid = randomUUID()
    const member = this.names.replyMember(oid)
    const keys = this.names.queueKeys(this.names.replyQueue(oid))
    const failure = (error: unknown) => brokerFailure(this.opts.url, error, 'lost the connection to')
    let blocking: RespConnection | undefined

    let closed = false
    const close = async (opts?: {repliesInFlight?: boolean}) => {
      if (closed) return
      closed = true
      blocking?.destroy()
      // The route goes first: from then on kombu finds no route and drops a reply. A worker that
      // read the members just before (kombu: SMEMBERS, then LPUSH) may still push one. When replies
      // are outstanding, the lists are deleted and the plain one (where replies land) is replaced,
      // in one transaction, by a list Redis expires by itself: a late reply joins it and goes with it.
      const lists = `the reply lists ${keys.map((k) => JSON.stringify(k)).join(', ')}`
      const del: CleanupStep = {what: lists, command: ['DEL', ...keys]}
      const steps: CleanupStep[] = [
        {what: `the reply binding member ${JSON.stringify(member)} of ${JSON.stringify(this.names.replyBindingKey)}`, command: ['SREM', this.names.replyBindingKey, member]},
      ]
      if (opts?.repliesInFlight) {
        steps.push({
          ...del,
          transaction: [['DEL', ...keys], ['RPUSH', keys[0], CLOSED_REPLY_MARKER], ['PEXPIRE', keys[0], LATE_REPLY_EXPIRY_MS]],
          fallback: [del, {...del, afterMs: STRAGGLER_GRACE_MS}],
        })
      } else {
        steps.push(del)
      }
      await this.cleanUp(cmd, steps)
    }

    try {
      // The member must exist before the request is published, or replies are dropped.
      // BRPOP blocks by design: the call's own deadline bounds it, not a command timeout.
      // Cleanup runs whatever happened here: SREM and DEL of what was never created are harmless.
      ;[blocking] = await Promise.all([
        this.open({commandTimeoutMs: undefined, maxBulkBytes: MAX_ENVELOPE_BYTES}),
        cmd.call('SADD', this.names.replyBindingKey, member),
      ])
    } catch (error) {
      await close().catch(() => {})
      throw failure(error)
    }
    const inbox = blocking

    let canDrain = true
    const receive = async () => {
      while (!closed) {
        let first: Reply
        try {
          first = await inbox.call('BRPOP', ...keys, 0)
        } catch (error) {
          if (!closed) onFailure(failure(error))
          return
        }
        if (!Array.isArray(first) || first.length < 2) continue
        // Handed over at once: a reply that completes the call need not wait for the drain's round trip.
        onMessages([received(first[1], performance.now())])
        const raw: Reply[] = []
        while (canDrain && !closed) {
          let more: Reply
          try {
            more = await inbox.call('RPOP', keys[0], DRAIN_BATCH)
          } catch (error) {
            if (!(error instanceof RespError)) break
            canDrain = false // Redis < 6.2 has no RPOP count: one reply per BRPOP still works.
            break
          }
          if (!Array.isArray(more) || more.length === 0) break
          raw.push(...more)
          if (more.length < DRAIN_BATCH) break
        }
        const now = performance.now()
        if (raw.length > 0) onMessages(raw.map((entry) => received(entry, now)))
      }
    }
    void receive()
    return {routingKey: oid, close}
  }

  /**
   * Runs each cleanup step on its own (a user may lack the right for one and not the other), on a
   * fresh connection when the broker went away (a restart), until the connect timeout runs out.
   * Throws a CleanupError naming what could not be removed.
   */
  private async cleanUp(cmd: RespConnection, steps: CleanupStep[]): Promise<void> {
    const {url, connectTimeoutMs} = this.opts
    const deadline = performance.now() + connectTimeoutMs
    const left = () => Math.max(1, deadline - performance.now())
    let client: RespConnection | undefined = cmd.status === 'ready' ? cmd : undefined
    const fresh: RespConnection[] = []
    const failed: {what: string; why: string}[] = []
    let unreachable = false
    try {
      const queue = [...steps]
      // The leading plain steps go out together on a ready connection (one round trip; Redis still
      // runs them in order), each with its own reply. A step whose first try fails is tried again
      // as before, on whichever connection is ready then.
      const sentOn = client
      const sent = new Map<CleanupStep, Promise<Reply>>()
      for (const step of sentOn ? queue : []) {
        if (step.transaction || step.afterMs) break
        const reply = sentOn!.call(...step.command)
        reply.catch(() => {})
        sent.set(step, reply)
      }
      for (let step = queue.shift(); step; step = queue.shift()) {
        if (step.afterMs) await new Promise((resolve) => setTimeout(resolve, step!.afterMs))
        for (let attempt = 0; ; attempt++) {
          try {
            if (!client || client.status !== 'ready') {
              client = await this.open({}, left())
              fresh.push(client)
            }
            const c = client
            const current = step
            const early = attempt === 0 && c === sentOn ? sent.get(current) : undefined
            await withDeadline(current.transaction ? this.transaction(c, current.transaction) : (early ?? c.call(...current.command)).then(() => undefined), left(), `cannot clean up on ${url.masked}`, () => c.destroy())
            break
          } catch (error) {
            if (error instanceof RespError && step.fallback) {
              queue.unshift(...step.fallback)
              break
            }
            if (error instanceof RespError) {
              // Refused (an ACL without SREM or DEL): no retry will change that. Lists that were
              // never created (every reply was read) are no loss, as long as the broker can tell.
              const c = client
              const exists = step.command[0] === 'DEL' && c ? await c.call('EXISTS', ...step.command.slice(1)).catch(() => undefined) : undefined
              if (exists !== 0) failed.push({what: step.what, why: error.message.split('\n')[0]})
              break
            }
            client = undefined
            if (performance.now() + RETRY_PAUSE_MS >= deadline) {
              unreachable = true
              failed.push({what: step.what, why: brokerFailure(url, error, 'cannot reach').message})
              break
            }
            await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_PAUSE_MS * 2 ** attempt, 500)))
          }
        }
        // Once the broker is gone for good, the later steps cannot fare better.
        if (unreachable) break
      }
    } finally {
      for (const c of fresh) c.destroy()
    }
    if (failed.length > 0) throw new CleanupError(failed, unreachable)
  }

  /** MULTI, the commands, EXEC; a RespError when any part is refused (then nothing was applied). */
  private async transaction(c: RespConnection, commands: (string | number)[][]): Promise<void> {
    await c.call('MULTI')
    const queued = commands.map((command) => c.call(...command).then(() => undefined, (error: unknown) => error))
    let results: Reply
    try {
      results = await c.call('EXEC')
    } catch (error) {
      // A refused command aborts the EXEC: the refusal says why.
      throw (await Promise.all(queued)).find((e) => e instanceof Error) ?? error
    }
    if (!Array.isArray(results) || results.length !== commands.length || results.at(-1) !== 1) {
      throw new RespError(`the transaction did not apply: ${JSON.stringify(results)}`)
    }
  }

  async publish(message: WireMessage): Promise<PublishResult> {
    const envelope = encodeEnvelope(message, `${this.opts.namespace.controlExchange}.pidbox`, '')
    assertSafeEnvelope(envelope)
    try {
      const data = JSON.stringify(envelope)
      // The same envelope (one delivery tag) on each channel: a worker that listens on both drops the copy.
      const counts = await Promise.all(this.names.requestChannels.map((channel) => this.command.call('PUBLISH', channel, data)))
      return counts.every((n) => typeof n === 'number') ? {listeners: counts.reduce<number>((sum, n) => sum + (n as number), 0)} : {}
    } catch (error) {
      throw brokerFailure(this.opts.url, error, 'cannot publish to')
    }
  }

  /**
   * kombu publishes Celery's events (a fanout exchange on Redis) with PUBLISH on
   * `{prefix}/{db}.celeryev/{routing key}`; a PSUBSCRIBE on its own connection hears them, as
   * kombu's receivers do (`#` becomes `*`). Nothing is written: the subscription ends with the connection.
   */
  async watchEvents(routingKeys: string[], onMessages: (messages: ReceivedMessage[]) => void, onFailure?: (error: Error) => void): Promise<EventWatch> {
    const {url, connectTimeoutMs} = this.opts
    const patterns = this.names.fanoutPrefixes.flatMap((fanout) => routingKeys.map((key) => `${globEscape(fanout)}${EVENT_EXCHANGE}/${globEscape(key).replace(/#/g, '*')}`))
    let closed = false
    let keepalive: NodeJS.Timeout | undefined
    const sub = await this.open({
      commandTimeoutMs: undefined,
      maxBulkBytes: MAX_ENVELOPE_BYTES,
      onPush: (message) => {
        if (closed) return
        const data = message[0] === 'pmessage' ? message[3] : message[2]
        onMessages([received(data, performance.now())])
      },
    })
    try {
      await withDeadline(sub.call('PSUBSCRIBE', ...patterns), connectTimeoutMs, `cannot subscribe on ${url.masked}`, () => sub.destroy())
    } catch (error) {
      sub.destroy()
      throw brokerFailure(url, error, 'cannot subscribe to events on')
    }
    if (onFailure) {
      // A subscription hears nothing when its connection is gone: a PING now and then finds out
      // (a closed connection rejects it at once, a silent broker within the connect timeout).
      keepalive = setInterval(() => {
        withDeadline(sub.call('PING'), connectTimeoutMs, `no answer from ${url.masked}`, () => sub.destroy()).catch((error: unknown) => {
          if (closed) return
          closed = true
          clearInterval(keepalive)
          sub.destroy()
          onFailure(brokerFailure(url, error, 'lost the connection to'))
        })
      }, EVENT_KEEPALIVE_MS)
      keepalive.unref()
    }
    return {
      available: true,
      close: async () => {
        closed = true
        clearInterval(keepalive)
        sub.destroy()
      },
    }
  }

  /**
   * Where else workers listen: the mailbox binding set of this namespace, of the default prefix and
   * of the default control exchange, in every database that holds keys (SCARD each), and which
   * databases have pattern subscribers (CLIENT LIST; Celery workers PSUBSCRIBE, so PUBSUB CHANNELS
   * does not show them). Nothing is published.
   */
  async listenersElsewhere(): Promise<ListenersElsewhere[]> {
    const db = this.opts.url.db
    const {controlExchange, redisKeyPrefix} = this.opts.namespace
    const c = await this.open()
    try {
      const info = await c.call('INFO', 'keyspace')
      const dbs = new Set([db, ...[...String(info).matchAll(/^db(\d+):keys=/gm)].map((m) => Number(m[1]))])
      let live: Map<number, number> | undefined = new Map()
      try {
        for (const line of String(await c.call('CLIENT', 'LIST')).split('\n')) {
          const d = /\bdb=(\d+)/.exec(line)?.[1]
          if (d !== undefined && Number(/\bpsub=(\d+)/.exec(line)?.[1] ?? 0) > 0) live.set(Number(d), (live.get(Number(d)) ?? 0) + 1)
        }
      } catch (error) {
        if (!(error instanceof RespError)) throw error
        live = undefined
      }
      const spaces = [...new Set([`${redisKeyPrefix}\n${controlExchange}`, `\n${controlExchange}`, `${redisKeyPrefix}\ncelery`, '\ncelery'])].map((s) => s.split('\n'))
      const found: ListenersElsewhere[] = []
      let selected = db
      for (const d of [...dbs].sort((a, b) => a - b)) {
        for (const [prefix, ns] of spaces) {
          if (d === db && prefix === redisKeyPrefix && ns === controlExchange) continue
          if (selected !== d) {
            await c.call('SELECT', d)
            selected = d
          }
          const mailboxes = Number(await c.call('SCARD', `${prefix}_kombu.binding.${ns}.pidbox`)) || 0
          if (mailboxes > 0) found.push({channel: redisNames(d, ns, prefix).requestChannel, db: d, prefix, controlExchange: ns, mailboxes, live: live ? (live.get(d) ?? 0) > 0 : null})
        }
      }
      return found
    } finally {
      c.destroy()
      this.connections.delete(c)
    }
  }

  /** LLEN of each queue's four lists, in one round trip (src/broker/redis-queues.ts). Read-only. */
  async queueDepths(names: string[]): Promise<import('../wire/transport.js').QueueDepth[]> {
    const {redisQueueDepths} = await import('./redis-queues.js')
    try {
      return await redisQueueDepths(this.command, names, this.names.queueKeys)
    } catch (error) {
      throw brokerFailure(this.opts.url, error, 'cannot read queue depths on')
    }
  }

  /** The task queues bound in kombu's binding sets of this key prefix (src/broker/redis-queues.ts). Read-only. */
  async knownQueues(): Promise<string[]> {
    const {redisKnownQueues} = await import('./redis-queues.js')
    try {
      return await redisKnownQueues(this.command, this.opts.namespace.redisKeyPrefix)
    } catch (error) {
      throw brokerFailure(this.opts.url, error, 'cannot list the queues on')
    }
  }

  /**
   * The nodes of the members `SEP SEP {node}.{ns}.pidbox` of `{prefix}_kombu.binding.{ns}.pidbox`
   * (docs/wire-protocol.md#publishing-a-request): bound at a worker's start, unbound at its warm
   * shutdown, left behind by a killed one. One SMEMBERS; read-only.
   */
  async boundMailboxes(): Promise<string[]> {
    const {controlExchange, redisKeyPrefix} = this.opts.namespace
    const suffix = `.${controlExchange}.pidbox`
    let members: Reply
    try {
      members = await this.command.call('SMEMBERS', `${redisKeyPrefix}_kombu.binding.${controlExchange}.pidbox`)
    } catch (error) {
      throw brokerFailure(this.opts.url, error, 'cannot read the mailbox bindings on')
    }
    const nodes: string[] = []
    if (!Array.isArray(members)) return nodes
    for (const member of members) {
      const queue = typeof member === 'string' ? member.split(SEP)[2] : undefined
      if (queue !== undefined && queue.length > suffix.length && queue.endsWith(suffix)) nodes.push(queue.slice(0, -suffix.length))
    }
    return nodes
  }

  async close(): Promise<void> {
    this.closed = true
    const cmd = this.cmd
    this.cmd = undefined
    for (const c of this.connections) if (c !== cmd) c.destroy()
    if (cmd) await cmd.quit(this.opts.connectTimeoutMs)
  }
}
