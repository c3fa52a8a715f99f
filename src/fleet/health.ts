import {UsageError} from '../errors.js'
import {errorOf} from '../protocol/collector.js'
import type {QueueDepth} from '../wire/transport.js'
import {word} from './arguments.js'
import {own, type FleetResult} from './outcome.js'
import {awaitedNodes, type Roster} from './roster.js'
import {plural} from '../words.js'

/** Nagios plugin states, with their exit codes (README.md#health-checks-wfctl-check). */
export const HealthStatus = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3} as const
export type Status = keyof typeof HealthStatus

export interface HealthOptions {
  roster?: Roster
  destination: string[]
  /** Fewer replying nodes than this is CRITICAL (none always is). */
  minNodes: number
  /** Queues that must have a consumer among the nodes that replied. */
  queues: string[]
  /** `--max-queued`: how many messages may wait in a queue before it is WARNING, and CRITICAL. */
  maxQueued?: QueueLimit[]
  /** The depths of the `maxQueued` queues, as the broker gave them. */
  depths?: QueueDepth[]
}

/** `--max-queued QUEUE=W[:C]`: WARNING when more than `warning` messages wait, CRITICAL when more than `critical`. */
export interface QueueLimit {
  queue: string
  warning: number
  critical: number | null
}

/** One `--max-queued` queue in the check's result. */
export interface QueuedState {
  /** Messages waiting; null when the depth could not be read (or the check could not be made). */
  messages: number | null
  /** False when the broker has no such queue (RabbitMQ). */
  exists: boolean
  warning: number
  critical: number | null
  /** Why the depth could not be read. */
  error?: string
}

const THRESHOLD = /^(\d{1,15})(?::(\d{1,15}))?$/

/**
 * `--max-queued` values (repeatable, commas too): `QUEUE=N` or `QUEUE=W:C`, C at least W. The
 * queue is what comes before the last `=`. Anything else is misuse, refused before anything connects.
 */
export function parseMaxQueued(values: string[]): QueueLimit[] {
  const limits = new Map<string, QueueLimit>()
  for (const spec of values.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    const at = spec.lastIndexOf('=')
    const m = at > 0 ? THRESHOLD.exec(spec.slice(at + 1)) : null
    if (!m) throw new UsageError(`--max-queued takes QUEUE=N or QUEUE=WARN:CRIT (numbers of messages), got ${JSON.stringify(spec)}`)
    const queue = word(spec.slice(0, at), '--max-queued QUEUE')
    const warning = Number(m[1])
    const critical = m[2] === undefined ? null : Number(m[2])
    if (critical !== null && critical < warning) throw new UsageError(`--max-queued ${queue}: the critical threshold ${critical} is below the warning threshold ${warning}`)
    if (limits.has(queue)) throw new UsageError(`--max-queued ${queue} is given twice`)
    limits.set(queue, {queue, warning, critical})
  }
  return [...limits.values()]
}

/** What `wfctl check` found: the `--format json` shape. */
export interface Health {
  status: Status
  code: number
  /** One line, as Nagios shows it. */
  summary: string
  /** Every reason the status is not OK, worst first. */
  reasons: string[]
  /** Workers of the roster that answered (with a roster of names or -d); every worker that answered otherwise. */
  replied: number
  /** Nodes that had to answer (--expect count or names, -d), else null. */
  expected: number | null
  /** How the expected workers were given: by name (--expect names, @FILE, or -d), by count, or not at all. */
  roster: 'names' | 'count' | null
  minNodes: number
  /** The silent nodes of a roster of names (or -d). */
  missing: string[]
  /** How many expected workers are silent: the names above, or what a count roster lacks. */
  missingCount: number
  /** Nodes that answered but are not in the roster of names (or -d): reported, never counted. */
  others: string[]
  /** Mailboxes that heard the request, when the broker counts them (Redis), else null. */
  listeners: number | null
  /** Of those, how many sent no reply to a plain broadcast (Redis), else null. */
  unanswered: number | null
  /** Nodes that answered but consume no queue: alive, yet taking no work. */
  idle: string[]
  /** Nodes whose reply was an error or not a queue list. */
  errors: Record<string, string>
  /** Each queue seen or required, with the replying nodes that consume it. */
  queues: Record<string, string[]>
  /** Each replying node with the queues it consumes. */
  nodes: Record<string, string[]>
  /** Each `--max-queued` queue: its depth and thresholds. */
  queued: Record<string, QueuedState>
  undecodable: number
  elapsedMs: number
  /** Seconds since the epoch when the check ran. */
  timestamp: number
}

function queueNames(payload: unknown): string[] | undefined {
  if (!Array.isArray(payload)) return undefined
  return payload.map((q) => (typeof q === 'object' && q !== null && typeof (q as {name?: unknown}).name === 'string' ? (q as {name: string}).name : String(q)))
}

/**
 * Decides the fleet's health from one `active_queues` round trip (README.md#health-checks-wfctl-check). CRITICAL: fewer
 * than --min-nodes replied, or a required queue has no consumer. WARNING: an expected node is
 * silent, a node consumes no queue, a reply was an error or unreadable, or (without a roster, on
 * Redis) more mailboxes heard the request than replied. Else OK. With a roster of names (or -d),
 * only its nodes are counted; the others that answered are listed apart.
 */
export function evaluate(result: FleetResult, opts: HealthOptions, now = Date.now()): Health {
  const nodes: Record<string, string[]> = {}
  const errors: Record<string, string> = {}
  for (const node of Object.keys(result.replies).sort()) {
    const payloads = own(result.duplicateReplies, node) ?? [own(result.replies, node)]
    for (const payload of payloads) {
      const error = errorOf(payload)
      const names = queueNames(payload)
      if (error !== undefined) errors[node] = error
      else if (names === undefined) errors[node] = `unexpected reply: ${JSON.stringify(payload)}`
      else nodes[node] = [...new Set([...(own(nodes, node) ?? []), ...names])]
    }
  }
  // A node whose reply could not be read answered, but says nothing of its queues.
  for (const [node, error] of Object.entries(result.errors)) if (!Object.hasOwn(result.replies, node)) errors[node] = error
  // Counts are of the roster: with names (or -d), only those nodes count; anyone else is an "other".
  const names = opts.roster && 'count' in opts.roster ? undefined : awaitedNodes(opts.destination, opts.roster)
  const answered = new Set([...Object.keys(result.replies), ...Object.keys(result.errors)])
  const rostered = names && names.length > 0 ? new Set(names) : undefined
  const replied = rostered ? [...rostered].filter((n) => answered.has(n)).length : Object.keys(result.replies).length
  const others = rostered ? [...answered].filter((n) => !rostered.has(n)).sort() : []
  const idle = Object.entries(nodes).filter(([node, q]) => q.length === 0 && !Object.hasOwn(errors, node)).map(([node]) => node)
  const queues: Record<string, string[]> = {}
  for (const q of opts.queues) queues[q] = []
  for (const [node, names] of Object.entries(nodes)) for (const q of names) (queues[q] ??= []).push(node)
  const unconsumed = opts.queues.filter((q) => queues[q].length === 0)
  const expected = opts.roster && 'count' in opts.roster ? opts.roster.count : rostered ? rostered.size : null
  const missingCount = expected === null ? 0 : rostered ? result.missing.length : Math.max(0, expected - replied)
  // Without a roster, the broker's count of mailboxes is the only roster there is (Redis).
  const unanswered = !opts.roster && opts.destination.length === 0 ? result.unanswered ?? null : null
  const which = rostered ? 'expected workers' : 'workers'

  const critical: string[] = []
  const warning: string[] = []
  if (replied < opts.minNodes) critical.push(replied === 0 ? `no ${rostered ? 'expected ' : ''}worker replied` : `only ${replied} of at least ${opts.minNodes} ${which} replied`)
  for (const q of unconsumed) critical.push(`queue ${q} has no consumer`)
  if (result.missing.length > 0) warning.push(`missing: ${result.missing.join(', ')}`)
  else if (expected !== null && replied < expected) warning.push(`${replied} of ${expected} expected workers replied`)
  if (unanswered !== null && unanswered > 0 && result.listeners !== null) {
    warning.push(`${result.listeners} ${result.listeners === 1 ? 'mailbox' : 'mailboxes'} heard it, ${result.listeners - unanswered} replied`)
  }
  for (const node of idle) warning.push(`${node} consumes no queue`)
  for (const [node, error] of Object.entries(errors)) warning.push(`${node} answered: ${error}`)
  if (result.undecodable.length > 0) warning.push(plural(result.undecodable.length, 'unreadable reply'))
  if (result.duplicates.length > 0) warning.push(`duplicate node names: ${result.duplicates.join(', ')}`)
  const queued = queuedStates(opts.maxQueued ?? [], opts.depths ?? [])
  for (const [q, s] of Object.entries(queued)) {
    if (s.error !== undefined) warning.push(`depth of queue ${q} unknown: ${s.error}`)
    else if (!s.exists) warning.push(`queue ${q} does not exist`)
    else if (s.messages === null) warning.push(`depth of queue ${q} unknown`)
    else if (s.critical !== null && s.messages > s.critical) critical.push(`queue ${q}: ${plural(s.messages, 'message')} waiting (critical above ${s.critical})`)
    else if (s.messages > s.warning) warning.push(`queue ${q}: ${plural(s.messages, 'message')} waiting (warning above ${s.warning})`)
  }

  const status: Status = critical.length > 0 ? 'CRITICAL' : warning.length > 0 ? 'WARNING' : 'OK'
  const reasons = [...critical, ...warning]
  const counted = `${expected !== null ? `${replied}/${expected} workers` : plural(replied, 'worker')}${others.length > 0 ? ` (+${others.length} not expected)` : ''}`
  const required = opts.queues.filter((q) => !unconsumed.includes(q))
  const depths = Object.entries(queued).map(([q, s]) => `${s.messages} queued in ${q}`)
  const detail = reasons.length > 0
    ? reasons.join('; ')
    : [required.length > 0 ? `queues ${required.join(',')} consumed` : 'every worker consumes a queue', ...depths].join(', ')
  return {
    status,
    code: HealthStatus[status],
    summary: `${counted}, ${detail}`,
    reasons,
    replied,
    expected,
    roster: rostered ? 'names' : expected !== null ? 'count' : null,
    minNodes: opts.minNodes,
    missing: result.missing,
    missingCount,
    others,
    listeners: result.listeners,
    unanswered,
    idle,
    errors,
    queues,
    nodes,
    queued,
    undecodable: result.undecodable.length,
    elapsedMs: result.elapsedMs,
    timestamp: now / 1000,
  }
}

/** The check could not be made (broker unreachable, misuse): UNKNOWN, with why. */
export function unknown(reason: string, opts: {minNodes: number; queues: string[]; maxQueued?: QueueLimit[]}, elapsedMs: number, now = Date.now()): Health {
  return {
    status: 'UNKNOWN',
    code: HealthStatus.UNKNOWN,
    summary: reason,
    reasons: [reason],
    replied: 0,
    expected: null,
    roster: null,
    minNodes: opts.minNodes,
    missing: [],
    missingCount: 0,
    others: [],
    listeners: null,
    unanswered: null,
    idle: [],
    errors: {},
    queues: Object.fromEntries(opts.queues.map((q) => [q, []])),
    nodes: {},
    queued: queuedStates(opts.maxQueued ?? [], []),
    undecodable: 0,
    elapsedMs,
    timestamp: now / 1000,
  }
}

/** Each limit with the depth read for its queue (messages null where none was read). */
function queuedStates(limits: QueueLimit[], depths: QueueDepth[]): Record<string, QueuedState> {
  const read = new Map(depths.map((d) => [d.name, d]))
  // Own properties, whatever the queue is called ("__proto__" too).
  return Object.fromEntries(limits.map(({queue, warning, critical}): [string, QueuedState] => {
    const d = read.get(queue)
    const unreadable = d?.error !== undefined
    return [queue, {
      messages: d && !unreadable ? d.messages : null,
      exists: d?.exists ?? true,
      warning,
      critical,
      ...(unreadable ? {error: d!.error} : {}),
    }]
  }))
}
