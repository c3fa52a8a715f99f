/*
 * What `wfctl doctor` reads from a broker, and the interface a broker implements to read it. Pure
 * types: src/broker gathers the facts, src/fleet/doctor.ts turns them into findings.
 */

/** One `worker-heartbeat` heard during the listening window. */
export interface HeardHeartbeat {
  hostname: string
  /** The sender's clock (seconds since the epoch), as in the event. */
  timestamp: number
  /** When wfctl received it (ms since the epoch, this machine's clock). */
  receivedAtMs: number
  swIdent?: string
  swVer?: string
  swSys?: string
  active?: number
  freq?: number
  /** Redis: the database and key prefix of the event channel it came on. */
  db?: number
  prefix?: string
  /** The event exchange (`celeryev` unless the fleet changed it). */
  exchange?: string
}

/** A control namespace found on Redis: where a mailbox binding set exists. */
export interface RedisNamespace {
  db: number
  prefix: string
  controlExchange: string
  /** The request channel workers of this namespace listen on. */
  channel: string
  /** Node names whose mailbox is bound (members of `_kombu.binding.{ns}.pidbox`). */
  mailboxes: string[]
  /** SUBSCRIBEd clients of the channel (PUBSUB NUMSUB); Celery workers PSUBSCRIBE and are not counted here. */
  subscribers: number
}

/** A reply route a client left in a Redis database: a binding member, its lists, or both. */
export interface ReplyLeftover {
  db: number
  prefix: string
  controlExchange: string
  /** The reply binding set (`{prefix}_kombu.binding.reply.{ns}.pidbox`). */
  bindingKey: string
  /** The member (`oid SEP pattern SEP queue`), when one routes to the lists. */
  member?: string
  /** The reply routing key (kombu's oid). */
  oid: string
  /** The reply lists that exist, with how many replies nobody read. */
  lists: {key: string; length: number}[]
}

export interface RedisFacts {
  kind: 'redis'
  /** Databases that hold keys (INFO keyspace), always with the URL's. */
  databases: number[]
  namespaces: RedisNamespace[]
  /** Pattern subscriptions server-wide (PUBSUB NUMPAT); null when refused. */
  patternSubscriptions: number | null
  /** Connections that pattern-subscribe, per selected database (CLIENT LIST); null when refused. */
  patternSubscribersByDb: Record<string, number> | null
  /** Channels with SUBSCRIBEd clients whose name holds `pidbox` (PUBSUB CHANNELS), with their count. */
  subscribedChannels: {channel: string; subscribers: number}[]
  leftovers: ReplyLeftover[]
  /** Whether every database could be scanned to the end. */
  problems: string[]
}

/** One mailbox queue on RabbitMQ, checked passively. */
export interface AmqpMailbox {
  node: string
  queue: string
  exists: boolean
  consumers?: number
  messages?: number
}

export interface AmqpFacts {
  kind: 'amqp'
  vhost: string
  controlExchange: string
  /** Whether `{ns}.pidbox` exists: some worker with remote control ran in this vhost. */
  controlExchangeExists: boolean
  /** Whether the event exchange exists: some worker sent events here. */
  eventExchangeExists: boolean
  mailboxes: AmqpMailbox[]
  problems: string[]
}

export type BrokerFacts = RedisFacts | AmqpFacts

/** What removing leftovers did. */
export interface FixOutcome {
  removedMembers: number
  removedLists: number
  failed: string[]
}

/**
 * A read-only look at a broker's pidbox layout, with one writing operation (`fix`) that removes
 * only reply routes. Opened by the fleet layer beside the transport that sends the one request.
 */
export interface DoctorProbe {
  connect(): Promise<void>
  /** Listens for worker heartbeats for `windowMs`, leaving nothing in the broker. */
  heartbeats(windowMs: number, signal: AbortSignal): Promise<HeardHeartbeat[]>
  /** The layout; `nodes` are node names whose mailboxes to check (RabbitMQ). */
  inspect(nodes: string[]): Promise<BrokerFacts>
  /** Removes the reply routes given (Redis); other brokers remove nothing. */
  fix(leftovers: ReplyLeftover[]): Promise<FixOutcome>
  close(): Promise<void>
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** The fields of a `worker-heartbeat` body the doctor reads. */
export function heartbeatBody(body: Buffer, receivedAtMs: number): HeardHeartbeat | undefined {
  let event: Record<string, unknown>
  try {
    event = JSON.parse(body.toString('utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof event !== 'object' || event === null || event.type !== 'worker-heartbeat') return undefined
  const hostname = str(event.hostname)
  const timestamp = num(event.timestamp)
  if (!hostname || timestamp === undefined) return undefined
  return {hostname, timestamp, receivedAtMs, swIdent: str(event.sw_ident), swVer: str(event.sw_ver), swSys: str(event.sw_sys), active: num(event.active), freq: num(event.freq)}
}
