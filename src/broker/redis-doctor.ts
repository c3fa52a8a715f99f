import {decodeEnvelope} from '../wire/envelope.js'
import {heartbeatBody, type BrokerFacts, type DoctorProbe, type FixOutcome, type HeardHeartbeat, type RedisNamespace, type ReplyLeftover} from '../wire/doctor.js'
import {RespConnection, RespError, type Reply, type RespOptions} from './resp.js'
import {openResp, redisNames} from './redis.js'
import {SEP} from './redis-keys.js'
import {brokerFailure, listenFor, type TransportOptions} from './common.js'

/*
 * `wfctl doctor` on Redis. Pub/sub is server-wide: a channel name carries the database and key
 * prefix (`{prefix}/{db}.{ns}.pidbox`), and Celery workers PSUBSCRIBE the literal channel, which
 * PUBSUB CHANNELS and NUMSUB do not show. So the namespaces are found where kombu binds the
 * mailboxes: `{prefix}_kombu.binding.{ns}.pidbox` in each database (SCAN, never KEYS), and
 * heartbeats are heard by one PSUBSCRIBE on every database's event channels.
 */

const BINDING = '_kombu.binding.'
/** SCAN calls per database before giving up on a huge keyspace (COUNT 1000 each). */
const MAX_SCANS = 2000
const PRIORITY_SUFFIXES = ['', `${SEP}3`, `${SEP}6`, `${SEP}9`]
/**
 * `{prefix}/{db}.{exchange}/worker.heartbeat`: the channel a heartbeat is PUBLISHed on; workers
 * connected through Sentinel (kombu < 5.4) send it on the literal `/{db}.`, whatever their database.
 */
const HEARTBEAT_CHANNEL = /^(.*)\/(\d+|\{db\})\.([^/]+)\/worker\.heartbeat$/

function asString(reply: Reply): string | undefined {
  return typeof reply === 'string' ? reply : undefined
}

/** Databases that hold keys, from INFO keyspace. */
export function keyspaceDatabases(info: string): number[] {
  return [...info.matchAll(/^db(\d+):keys=/gm)].map((m) => Number(m[1]))
}

/** Connections that pattern-subscribe, per selected database, from CLIENT LIST. */
export function patternSubscribersByDb(list: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of list.split('\n')) {
    const db = /\bdb=(\d+)/.exec(line)?.[1]
    const psub = Number(/\bpsub=(\d+)/.exec(line)?.[1] ?? 0)
    if (db !== undefined && psub > 0) out[db] = (out[db] ?? 0) + 1
  }
  return out
}

/** A binding set's key split into key prefix and exchange; undefined when it is not a pidbox binding. */
export function parseBindingKey(key: string): {prefix: string; exchange: string; reply: boolean; controlExchange: string} | undefined {
  const at = key.lastIndexOf(BINDING)
  if (at < 0 || !key.endsWith('.pidbox')) return undefined
  const prefix = key.slice(0, at)
  const exchange = key.slice(at + BINDING.length)
  const reply = exchange.startsWith('reply.')
  const controlExchange = exchange.slice(reply ? 'reply.'.length : 0, -'.pidbox'.length)
  if (controlExchange === '') return undefined
  return {prefix, exchange, reply, controlExchange}
}

/** A binding member: `routing_key SEP pattern SEP queue`. */
export function parseMember(member: string): {routingKey: string; pattern: string; queue: string} | undefined {
  const parts = member.split(SEP)
  if (parts.length !== 3) return undefined
  return {routingKey: parts[0], pattern: parts[1], queue: parts[2]}
}

export class RedisDoctor implements DoctorProbe {
  private cmd?: RespConnection
  private readonly connections = new Set<RespConnection>()
  private selected: number

  constructor(private readonly opts: TransportOptions) {
    this.selected = opts.url.db
  }

  private open(over: Partial<RespOptions> = {}): Promise<RespConnection> {
    return openResp(this.opts, {name: 'wfctl-doctor', ...over}, (c) => this.connections.add(c))
  }

  async connect(): Promise<void> {
    this.cmd = await this.open()
  }

  private get c(): RespConnection {
    if (!this.cmd) throw new Error('redis doctor used before connect()')
    return this.cmd
  }

  private async call(...args: (string | number)[]): Promise<Reply> {
    try {
      return await this.c.call(...args)
    } catch (error) {
      if (error instanceof RespError) throw error
      throw brokerFailure(this.opts.url, error, 'lost the connection to')
    }
  }

  private async select(db: number): Promise<void> {
    if (this.selected === db) return
    await this.call('SELECT', db)
    this.selected = db
  }

  async heartbeats(windowMs: number, signal: AbortSignal): Promise<HeardHeartbeat[]> {
    const heard: HeardHeartbeat[] = []
    const onPush = (message: Reply[]) => {
      // ['pmessage', pattern, channel, data]
      const channel = asString(message[2])
      const data = asString(message[3])
      if (message[0] !== 'pmessage' || channel === undefined || data === undefined) return
      const where = HEARTBEAT_CHANNEL.exec(channel)
      const beat = heartbeatOf(data, Date.now())
      if (!beat) return
      const literal = where?.[2] === '{db}'
      // The literal form says no database: through Sentinel it is taken to be the URL's (where the mailboxes were looked for).
      if (where && !(literal && !this.opts.url.sentinels)) heard.push({...beat, prefix: where[1], db: literal ? this.opts.url.db : Number(where[2]), exchange: where[3]})
      else heard.push(beat)
    }
    // A connection of its own: subscribed, it can do nothing else. Closing it unsubscribes.
    const sub = await this.open({onPush, name: 'wfctl-doctor-events'})
    try {
      await sub.call('PSUBSCRIBE', '*/worker.heartbeat')
      await listenFor(windowMs, signal)
    } catch (error) {
      throw brokerFailure(this.opts.url, error, 'cannot listen for heartbeats on')
    } finally {
      sub.destroy()
      this.connections.delete(sub)
    }
    return heard
  }

  /** Every key of a database whose name holds `pidbox`, with SCAN. */
  private async scan(db: number, problems: string[]): Promise<string[]> {
    await this.select(db)
    const keys: string[] = []
    let cursor = '0'
    let scans = 0
    do {
      const reply = await this.call('SCAN', cursor, 'MATCH', '*pidbox*', 'COUNT', 1000)
      if (!Array.isArray(reply) || reply.length !== 2) break
      cursor = asString(reply[0]) ?? '0'
      if (Array.isArray(reply[1])) for (const k of reply[1]) if (typeof k === 'string') keys.push(k)
      if (++scans >= MAX_SCANS && cursor !== '0') {
        problems.push(`database ${db} has too many keys to scan them all; what it holds beyond the first ${MAX_SCANS * 1000} is not counted`)
        break
      }
    } while (cursor !== '0')
    return keys
  }

  async inspect(): Promise<BrokerFacts> {
    const problems: string[] = []
    const info = asString(await this.call('INFO', 'keyspace')) ?? ''
    const databases = [...new Set([this.opts.url.db, ...keyspaceDatabases(info)])].sort((a, b) => a - b)
    const namespaces: RedisNamespace[] = []
    const leftovers: ReplyLeftover[] = []
    for (const db of databases) {
      let keys: string[]
      try {
        keys = await this.scan(db, problems)
      } catch (error) {
        if (!(error instanceof RespError)) throw error
        problems.push(`cannot read database ${db}: ${error.message.split('\n')[0]}`)
        continue
      }
      const bindings = keys.map((k) => ({key: k, parsed: parseBindingKey(k)})).filter((b) => b.parsed !== undefined)
      const bindingKeys = new Set(bindings.map((b) => b.key))
      const lists = new Set(keys.filter((k) => !bindingKeys.has(k)))
      const claimed = new Set<string>()
      for (const {key, parsed} of bindings) {
        const {prefix, controlExchange, reply} = parsed!
        const members = ((await this.call('SMEMBERS', key)) as Reply[]).filter((m): m is string => typeof m === 'string')
        if (!reply) {
          const suffix = `.${controlExchange}.pidbox`
          const mailboxes = members.map(parseMember).filter((m) => m?.queue.endsWith(suffix)).map((m) => m!.queue.slice(0, -suffix.length)).sort()
          namespaces.push({db, prefix, controlExchange, channel: redisNames(db, controlExchange, prefix, this.opts.url.sentinels !== undefined).requestChannel, mailboxes, subscribers: 0})
          continue
        }
        for (const member of members) {
          const m = parseMember(member)
          if (!m) continue
          const queueKeys = PRIORITY_SUFFIXES.map((s) => prefix + m.queue + s)
          for (const k of queueKeys) claimed.add(k)
          leftovers.push({db, prefix, controlExchange, bindingKey: key, member, oid: m.routingKey, lists: await this.lengths(queueKeys.filter((k) => lists.has(k)))})
        }
      }
      // Reply lists nothing routes to any more: replies that arrived after their client left.
      const replyPrefixes = bindings.filter((b) => b.parsed!.reply).map((b) => b.parsed!)
      const orphans = new Map<string, ReplyLeftover>()
      for (const key of lists) {
        if (claimed.has(key)) continue
        const owner = ownerOf(key, replyPrefixes.length > 0 ? replyPrefixes : bindings.map((b) => b.parsed!))
        if (!owner) continue
        // A list Redis expires by itself is how wfctl disposes of late replies: not left behind.
        const ttl = await this.call('PTTL', key)
        if (typeof ttl === 'number' && ttl > 0) continue
        const id = `${owner.prefix}${owner.oid}.reply.${owner.controlExchange}`
        const entry = orphans.get(id) ?? {db, prefix: owner.prefix, controlExchange: owner.controlExchange, bindingKey: `${owner.prefix}${BINDING}reply.${owner.controlExchange}.pidbox`, oid: owner.oid, lists: []}
        entry.lists.push(...(await this.lengths([key])))
        orphans.set(id, entry)
      }
      leftovers.push(...orphans.values())
    }
    await this.select(this.opts.url.db)
    if (namespaces.length > 0) {
      const counts = await this.call('PUBSUB', 'NUMSUB', ...namespaces.map((n) => n.channel))
      if (Array.isArray(counts)) namespaces.forEach((n, i) => (n.subscribers = Number(counts[2 * i + 1]) || 0))
    }
    const optional = async <T>(work: () => Promise<T>): Promise<T | null> => {
      try {
        return await work()
      } catch (error) {
        if (error instanceof RespError) return null
        throw error
      }
    }
    const patternSubscriptions = await optional(async () => Number(await this.call('PUBSUB', 'NUMPAT')))
    const byDb = await optional(async () => patternSubscribersByDb(asString(await this.call('CLIENT', 'LIST')) ?? ''))
    const subscribedChannels = (await optional(async () => {
      const names = ((await this.call('PUBSUB', 'CHANNELS', '*pidbox*')) as Reply[]).filter((c): c is string => typeof c === 'string')
      if (names.length === 0) return []
      const counts = (await this.call('PUBSUB', 'NUMSUB', ...names)) as Reply[]
      return names.map((channel, i) => ({channel, subscribers: Number(counts[2 * i + 1]) || 0}))
    })) ?? []
    return {kind: 'redis', databases, namespaces, patternSubscriptions, patternSubscribersByDb: byDb, subscribedChannels, leftovers, problems}
  }

  private async lengths(keys: string[]): Promise<{key: string; length: number}[]> {
    const out: {key: string; length: number}[] = []
    for (const key of keys) {
      const length = await this.call('LLEN', key).catch(() => 0)
      out.push({key, length: typeof length === 'number' ? length : 0})
    }
    return out
  }

  async fix(leftovers: ReplyLeftover[]): Promise<FixOutcome> {
    const outcome: FixOutcome = {removedMembers: 0, removedLists: 0, failed: []}
    for (const l of [...leftovers].sort((a, b) => a.db - b.db)) {
      try {
        await this.select(l.db)
        // The member first: once it is gone nothing routes a reply to the lists, so deleting them is final.
        if (l.member !== undefined) outcome.removedMembers += Number(await this.call('SREM', l.bindingKey, l.member)) || 0
        const queue = l.member !== undefined ? parseMember(l.member)?.queue : undefined
        const keys = new Set([...l.lists.map((x) => x.key), ...(queue ? PRIORITY_SUFFIXES.map((s) => l.prefix + queue + s) : [])])
        if (keys.size > 0) outcome.removedLists += Number(await this.call('DEL', ...keys)) || 0
      } catch (error) {
        if (!(error instanceof RespError)) throw error
        outcome.failed.push(`${l.member !== undefined ? `member of ${JSON.stringify(l.bindingKey)}` : `lists of ${l.oid}`} in database ${l.db}: ${error.message.split('\n')[0]}`)
      }
    }
    await this.select(this.opts.url.db).catch(() => {})
    return outcome
  }

  async close(): Promise<void> {
    const cmd = this.cmd
    this.cmd = undefined
    for (const c of this.connections) if (c !== cmd) c.destroy()
    if (cmd) await cmd.quit(this.opts.connectTimeoutMs)
  }
}

/** Which binding a reply list belongs to: the longest key prefix whose layout matches. */
function ownerOf(key: string, candidates: {prefix: string; controlExchange: string}[]): {prefix: string; controlExchange: string; oid: string} | undefined {
  let best: {prefix: string; controlExchange: string; oid: string} | undefined
  for (const c of candidates) {
    if (!key.startsWith(c.prefix)) continue
    const rest = key.slice(c.prefix.length)
    const tail = `.reply.${c.controlExchange}.pidbox`
    const at = rest.indexOf(tail)
    if (at <= 0) continue
    const after = rest.slice(at + tail.length)
    if (after !== '' && !PRIORITY_SUFFIXES.includes(after)) continue
    const oid = rest.slice(0, at)
    if (oid.includes('.')) continue
    if (!best || c.prefix.length > best.prefix.length) best = {prefix: c.prefix, controlExchange: c.controlExchange, oid}
  }
  return best
}

/** A heartbeat envelope's body, or undefined when it is not one. */
export function heartbeatOf(data: string, receivedAtMs: number): HeardHeartbeat | undefined {
  const message = decodeEnvelope(data, receivedAtMs)
  if (typeof message === 'string' || message.unreadable) return undefined
  return heartbeatBody(message.body, receivedAtMs)
}
