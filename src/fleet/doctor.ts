import type {AmqpFacts, BrokerFacts, DoctorProbe, FixOutcome, HeardHeartbeat, RedisFacts, ReplyLeftover} from '../wire/doctor.js'
import {fixFlags} from './fix-flags.js'
import {abortable, FleetOperation} from './operation.js'
import type {FleetResult} from './outcome.js'
import {createDoctorProbe, type SessionOptions} from './session.js'
import {describeSource, type Source} from './settings.js'

/*
 * `wfctl doctor`: why does nobody answer? One broadcast (`stats`: it answers like a ping and names
 * each worker's pool), one listening window for heartbeats, a read-only look at the broker's
 * pidbox layout, then the analysis — pure: facts in, findings out.
 */

/** Where the broker URL came from. */
export interface BrokerSource {
  /** `flag` (-b), an environment variable's name, `context`, `airflow.cfg`, or `default`. */
  from: 'flag' | 'WFCTL_BROKER_URL' | 'CELERY_BROKER_URL' | 'AIRFLOW__CELERY__BROKER_URL' | 'AIRFLOW__CELERY__BROKER_URL_CMD' | 'context' | 'airflow.cfg' | 'default'
  /** The source in words, for a context or airflow.cfg: which one, which key. */
  detail?: string
  masked: string
}

/** The doctor's view of where the broker setting came from (src/fleet/settings.ts resolves it). */
export function brokerSource(source: Source, masked: string): BrokerSource {
  switch (source.kind) {
    case 'flag':
      return {from: 'flag', masked}
    case 'env':
      return {from: source.name as BrokerSource['from'], masked}
    case 'context':
      return {from: 'context', detail: describeSource(source), masked}
    case 'airflow':
      return {from: 'airflow.cfg', detail: describeSource(source), masked}
    default:
      return {from: 'default', masked}
  }
}

export interface DoctorPlan {
  session: SessionOptions
  source: BrokerSource
  /** How long to listen for heartbeats (and the deadline of the broadcast). */
  windowMs: number
  timeoutMs: number
  fix: boolean
}

export type Severity = 'problem' | 'warning' | 'info'

export interface Finding {
  severity: Severity
  /** A stable identifier, for scripts. */
  code: string
  message: string
  /** The command-line flags that would fix it, when wfctl can tell. */
  fix?: string
}

/** What a worker said: its reply to stats and/or its heartbeat. */
export interface DoctorNode {
  node: string
  replied: boolean
  pool?: string
  heartbeat?: {version?: string; skewSeconds: number; active?: number; db?: number; prefix?: string}
  /** RabbitMQ: its mailbox queue's consumers (undefined: not checked or absent). */
  mailboxConsumers?: number
  mailbox?: boolean
}

export interface DoctorFacts {
  source: BrokerSource
  kind: 'redis' | 'amqp'
  address: string
  db: number
  prefix: string
  controlExchange: string
  /** The broadcast's result. */
  stats: Pick<FleetResult, 'replies' | 'listeners' | 'errors'>
  heartbeats: HeardHeartbeat[]
  broker: BrokerFacts
  windowMs: number
}

export interface DoctorReport {
  broker: BrokerSource
  address: string
  listeners: number | null
  nodes: DoctorNode[]
  namespaces?: RedisFacts['namespaces']
  versions: Record<string, string[]>
  leftovers: {count: number; unreadReplies: number; sample: string[]}
  findings: Finding[]
  fixed?: FixOutcome
  /** Problems found: false when every finding is only information. */
  ok: boolean
}

/** Celery's own limit (HEARTBEAT_DRIFT_MAX in celery.events.state) before it warns of clock drift. */
export const MAX_SKEW_SECONDS = 16

/** The pool a stats reply describes: its implementation, or `solo` (whose info names none: one process, the worker's own). */
export function poolOf(payload: unknown): string | undefined {
  const stats = payload as {pid?: unknown; pool?: {implementation?: unknown; processes?: unknown; 'max-concurrency'?: unknown}} | undefined
  const pool = stats?.pool
  if (typeof pool?.implementation === 'string') return pool.implementation
  if (Array.isArray(pool?.processes) && pool.processes.length === 1 && pool.processes[0] === stats?.pid && pool['max-concurrency'] === 1) return 'solo'
  return undefined
}

const isSolo = (pool: string | undefined) => pool !== undefined && /solo/i.test(pool)

/** The analysis: facts in, findings out. No I/O. */
export function diagnose(facts: DoctorFacts): DoctorReport {
  const findings: Finding[] = []
  const {stats, broker} = facts
  const from = {masked: facts.source.masked, db: facts.db, prefix: facts.prefix, controlExchange: facts.controlExchange}
  const replied = new Set(Object.keys(stats.replies))
  const beats = new Map<string, HeardHeartbeat>()
  for (const b of facts.heartbeats) beats.set(b.hostname, b)

  const names = [...new Set([...replied, ...beats.keys()])].sort()
  const mailboxOf = new Map(broker.kind === 'amqp' ? broker.mailboxes.map((m) => [m.node, m]) : [])
  const nodes: DoctorNode[] = names.map((node) => {
    const beat = beats.get(node)
    const mailbox = mailboxOf.get(node)
    return {
      node,
      replied: replied.has(node),
      ...(poolOf(stats.replies[node]) ? {pool: poolOf(stats.replies[node])} : {}),
      ...(beat ? {heartbeat: {version: beat.swVer, skewSeconds: Math.round((beat.timestamp - beat.receivedAtMs / 1000) * 10) / 10, active: beat.active, db: beat.db, prefix: beat.prefix}} : {}),
      ...(mailbox ? {mailbox: mailbox.exists, ...(mailbox.consumers !== undefined ? {mailboxConsumers: mailbox.consumers} : {})} : {}),
    }
  })

  // Where workers listen (Redis): namespaces with mailboxes, ours or others.
  let namespaces: RedisFacts['namespaces'] | undefined
  if (broker.kind === 'redis') {
    namespaces = broker.namespaces
    const live = broker.patternSubscribersByDb
    const others = broker.namespaces.filter((n) => !(n.db === facts.db && n.prefix === facts.prefix && n.controlExchange === facts.controlExchange) && n.mailboxes.length > 0)
    // A namespace is live when heartbeats came from its database and prefix, or some connection pattern-subscribes there.
    const heardIn = (n: {db: number; prefix: string; mailboxes: string[]}) => facts.heartbeats.some((b) => b.db === n.db && b.prefix === n.prefix && (n.mailboxes.includes(b.hostname) || n.mailboxes.length === 0))
    const isLive = (n: {db: number; prefix: string; mailboxes: string[]}) => heardIn(n) || (live ? (live[String(n.db)] ?? 0) > 0 : false)
    if (replied.size === 0 && stats.listeners === 0) {
      // Strongest evidence first: heartbeats from there, then a pattern subscriber there, then a binding alone.
      const heard = others.filter(heardIn)
      const subscribed = others.filter(isLive)
      const where = heard.length > 0 ? heard : subscribed.length > 0 ? subscribed : others
      if (where.length > 0) {
        for (const n of where) {
          const fix = fixFlags(from, n)
          findings.push({
            severity: 'problem',
            code: 'wrong-namespace',
            message: `nobody listens on ${facts.address}; ${n.mailboxes.length === 1 ? `worker ${n.mailboxes[0]} has` : `${n.mailboxes.length} workers have`} a mailbox on ${n.channel}${isLive(n) ? '' : ' (no live subscriber seen there: it may be left from workers that stopped)'}`,
            fix,
          })
        }
      } else {
        findings.push({severity: 'problem', code: 'no-mailboxes', message: `nobody listens on ${facts.address}, and no database of this Redis holds a Celery mailbox: no worker with remote control enabled uses this broker`})
      }
    } else if (stats.listeners !== null && stats.listeners > replied.size) {
      findings.push({severity: 'warning', code: 'silent-listeners', message: `${stats.listeners} mailboxes heard the broadcast, ${replied.size} replied: busy workers (a solo pool, a long task in the main thread) or clients of another kind listening`})
    }
    if (broker.subscribedChannels.length > 0 && replied.size === 0) {
      for (const ch of broker.subscribedChannels) findings.push({severity: 'info', code: 'subscribed-channel', message: `${ch.channel} has ${ch.subscribers} SUBSCRIBEd client(s)`})
    }
    for (const p of broker.problems) findings.push({severity: 'warning', code: 'incomplete', message: p})
  } else {
    findings.push(...amqpFindings(facts, broker, replied))
  }

  // Heartbeats.
  for (const n of nodes) {
    const hb = n.heartbeat
    if (hb && Math.abs(hb.skewSeconds) > MAX_SKEW_SECONDS) {
      findings.push({severity: 'warning', code: 'clock-skew', message: `${n.node}'s clock is ${Math.abs(hb.skewSeconds)} s ${hb.skewSeconds > 0 ? 'ahead of' : 'behind'} this machine's: ETA tasks and monitors will be off`})
    }
    if (hb && !n.replied) {
      const sameSpace = broker.kind === 'amqp' || (hb.db === facts.db && hb.prefix === facts.prefix)
      const elsewhere = broker.kind === 'redis' ? broker.namespaces.find((ns) => ns.db === hb.db && ns.prefix === hb.prefix && ns.mailboxes.includes(n.node)) : undefined
      if (elsewhere && !(elsewhere.db === facts.db && elsewhere.prefix === facts.prefix && elsewhere.controlExchange === facts.controlExchange)) {
        // Named by the namespace finding already.
      } else if (broker.kind === 'amqp' ? n.mailbox === false : !elsewhere) {
        findings.push({severity: 'problem', code: 'no-mailbox', message: `${n.node} sends heartbeats${sameSpace ? '' : ` (on ${hb.prefix ?? ''}/${hb.db ?? ''})`} but has no mailbox: remote control is disabled on it (worker_enable_remote_control = False) or it uses another control exchange`})
      } else if ((hb.active ?? 0) > 0) {
        findings.push({severity: 'warning', code: 'busy', message: `${n.node} sends heartbeats and runs ${hb.active} task(s) but did not answer within ${facts.windowMs / 1000} s: a solo pool (or a task blocking the main thread) cannot answer while busy`})
      } else {
        findings.push({severity: 'warning', code: 'silent', message: `${n.node} sends heartbeats but did not answer within ${facts.windowMs / 1000} s`})
      }
    }
    if (isSolo(n.pool)) {
      findings.push({severity: 'info', code: 'solo-pool', message: `${n.node} runs a solo pool: it cannot answer remote control while it runs a task`})
    }
  }
  const versions: Record<string, string[]> = {}
  for (const n of nodes) {
    const v = n.heartbeat?.version
    if (v) (versions[v] ??= []).push(n.node)
  }
  if (Object.keys(versions).length > 1) {
    findings.push({severity: 'info', code: 'mixed-versions', message: `the fleet runs ${Object.keys(versions).length} Celery versions: ${Object.entries(versions).map(([v, ns]) => `${v} (${ns.length})`).join(', ')}`})
  }
  if (facts.heartbeats.length === 0 && replied.size > 0) {
    findings.push({severity: 'info', code: 'no-heartbeats', message: `no heartbeat in ${facts.windowMs / 1000} s: workers run without heartbeats (--without-heartbeat) or without events, so monitors (Flower) cannot see them`})
  }

  // Reply routes left behind (Redis).
  const leftovers = broker.kind === 'redis' ? broker.leftovers : []
  const unread = leftovers.reduce((sum, l) => sum + l.lists.reduce((s, x) => s + x.length, 0), 0)
  const spaces = new Map<string, ReplyLeftover[]>()
  for (const l of leftovers) {
    const id = `${l.db}\n${l.prefix}\n${l.controlExchange}`
    spaces.set(id, [...(spaces.get(id) ?? []), l])
  }
  for (const group of spaces.values()) {
    const {db, prefix, controlExchange, bindingKey} = group[0]
    const here = isHere(facts, group[0])
    const n = group.reduce((sum, l) => sum + l.lists.reduce((s, x) => s + x.length, 0), 0)
    const flags = here ? '' : `${fixFlags(from, {db, prefix, controlExchange})} `
    findings.push({
      severity: 'warning',
      code: 'reply-leftovers',
      message: `${group.length} reply route(s) left behind by clients (celery, Flower, wfctl) in ${bindingKey} of database ${db}${n > 0 ? `, holding ${n} unread repl${n === 1 ? 'y' : 'ies'}` : ''}; a client that still runs declares its route again on its next call`,
      fix: `${flags}--fix`,
    })
  }

  return {
    broker: facts.source,
    address: facts.address,
    listeners: stats.listeners,
    nodes,
    ...(namespaces ? {namespaces} : {}),
    versions,
    leftovers: {count: leftovers.length, unreadReplies: unread, sample: leftovers.slice(0, 5).map(describeLeftover)},
    findings,
    ok: !findings.some((f) => f.severity !== 'info'),
  }
}

/** Whether a leftover belongs to the namespace wfctl was pointed at (the only one --fix cleans). */
export function isHere(facts: Pick<DoctorFacts, 'db' | 'prefix' | 'controlExchange'>, l: Pick<ReplyLeftover, 'db' | 'prefix' | 'controlExchange'>): boolean {
  return l.db === facts.db && l.prefix === facts.prefix && l.controlExchange === facts.controlExchange
}

function describeLeftover(l: ReplyLeftover): string {
  return `${l.oid} (database ${l.db}${l.member === undefined ? ', lists only' : ''}${l.lists.length > 0 ? `, ${l.lists.reduce((s, x) => s + x.length, 0)} unread` : ''})`
}

function amqpFindings(facts: DoctorFacts, broker: AmqpFacts, replied: Set<string>): Finding[] {
  const out: Finding[] = []
  if (!broker.controlExchangeExists) {
    out.push({
      severity: 'problem',
      code: 'no-control-exchange',
      message: `exchange ${broker.controlExchange}.pidbox does not exist in vhost ${JSON.stringify(broker.vhost)}: no worker with remote control ran here with control exchange ${JSON.stringify(broker.controlExchange)} (wrong vhost, or another --control-exchange)`,
    })
  } else if (replied.size === 0 && facts.stats.listeners === 0) {
    out.push({severity: 'problem', code: 'no-mailboxes', message: `exchange ${broker.controlExchange}.pidbox in vhost ${JSON.stringify(broker.vhost)} has no mailbox queue bound: no worker with remote control runs there now`})
  }
  for (const m of broker.mailboxes) {
    if (m.exists && m.consumers === 0) out.push({severity: 'warning', code: 'mailbox-without-consumer', message: `mailbox queue ${m.queue} has no consumer: the worker is gone or reconnecting; requests wait there until its TTL`})
    if (m.exists && (m.messages ?? 0) > 0) out.push({severity: 'warning', code: 'mailbox-backlog', message: `mailbox queue ${m.queue} holds ${m.messages} unread request(s): the worker is busy (a solo pool cannot answer while it runs a task)`})
  }
  return out
}

/** Runs the doctor: heartbeats and the one broadcast at once, then the broker's layout, then the analysis (and --fix). */
export async function runDoctor(plan: DoctorPlan, signal: AbortSignal, hold: (closer: {close(): Promise<unknown>}) => void): Promise<DoctorReport> {
  const {session} = plan
  const probe: DoctorProbe = await createDoctorProbe(session)
  hold(probe)
  await abortable(probe.connect(), signal)
  const operation = await FleetOperation.open(session, signal, (t) => hold(t))
  hold(operation)
  const address = operation.address
  let stats: FleetResult
  let heartbeats: HeardHeartbeat[]
  try {
    ;[heartbeats, stats] = await Promise.all([
      probe.heartbeats(plan.windowMs, signal),
      operation.request({method: 'stats', args: {}, target: {destination: []}, timeoutMs: plan.timeoutMs}),
    ])
  } catch (error) {
    await operation.close().catch(() => undefined)
    throw error
  }
  // wfctl's own reply route goes before the layout is read: it is not a leftover.
  const problem = await operation.close()
  if (problem) throw problem
  if (signal.aborted) await abortable(Promise.resolve(), signal)
  const nodes = [...new Set([...Object.keys(stats.replies), ...heartbeats.map((b) => b.hostname)])]
  const broker = await abortable(probe.inspect(nodes), signal)
  const report = diagnose({
    source: plan.source,
    kind: session.url.kind,
    address,
    db: session.url.db,
    prefix: session.namespace.redisKeyPrefix,
    controlExchange: session.namespace.controlExchange,
    stats,
    heartbeats,
    broker,
    windowMs: plan.windowMs,
  })
  if (plan.fix && broker.kind === 'redis') {
    // Only the namespace pointed at: another team's database or prefix is theirs to clean.
    const here = {db: session.url.db, prefix: session.namespace.redisKeyPrefix, controlExchange: session.namespace.controlExchange}
    report.fixed = await probe.fix(broker.leftovers.filter((l) => isHere(here, l)))
  }
  await probe.close()
  return report
}
