import {ExitCode} from '../errors.js'
import type {ListenersElsewhere} from '../wire/transport.js'
import {errorOf} from '../protocol/collector.js'
import type {CallResult} from '../protocol/mailbox.js'
import {awaitedNodes, type Roster} from './roster.js'
import type {ShutdownResult} from './shutdown.js'

/** The answer of the fleet to one request: the `--json` shape in README.md#json, plus details. */
export interface FleetResult {
  method: string
  /** Each node's payload exactly as the worker sent it (the last one when a name replied twice). */
  replies: Record<string, unknown>
  /** Targeted or expected nodes that stayed silent. */
  missing: string[]
  /** Nodes whose payload was an error (`{"error": ...}` without `ok`). */
  errors: Record<string, string>
  /** Node names that replied more than once: several workers share the name. */
  duplicates: string[]
  /** Every payload of each duplicated name, in arrival order: several workers share the name. */
  duplicateReplies: Record<string, unknown[]>
  elapsedMs: number
  /** Milliseconds from publishing to each node's reply. */
  latencyMs: Record<string, number>
  /** How many nodes were expected to answer, when the caller said (`--expect` or `-d`). */
  expected: number | null
  /** Replies to this request that could not be read (pickle, msgpack, not a {node: payload} object). */
  undecodable: {reason: string; contentType?: string; node?: string}[]
  /** How many mailboxes could hear the request, when the broker could tell. */
  listeners: number | null
  /** When nobody could hear it: where workers of this broker do listen, and the flags that reach them. */
  listenersElsewhere?: (ListenersElsewhere & {fix: string})[]
  /**
   * Mailboxes that heard a plain broadcast (no -d, no --pattern) and sent no reply within the whole
   * timeout: known on Redis (PUBLISH counts its subscribers), null on RabbitMQ, for an addressed
   * request (every mailbox hears it, only some are meant to answer) and after an early exit.
   */
  unanswered?: number | null
}

/** Of the mailboxes that heard a plain broadcast, how many sent no reply before the deadline (see FleetResult.unanswered). */
export function unansweredOf(call: CallResult): number | null {
  const plain = call.request.destination === null && call.request.pattern === null
  if (!plain || call.listeners === undefined || call.complete) return null
  // Replies, not names: each of several same-named workers is a mailbox of its own.
  return Math.max(0, call.listeners - call.replies.length - call.undecodable.length)
}

export function summarize(method: string, call: CallResult, destination: string[], roster: Roster | undefined): FleetResult {
  // Maps, then own properties: node names come from the wire ("__proto__", "constructor" are names too).
  const all = new Map<string, unknown[]>()
  const latency = new Map<string, number>()
  const errors = new Map<string, string>()
  for (const reply of call.replies) {
    const payloads = all.get(reply.node) ?? []
    payloads.push(reply.payload)
    all.set(reply.node, payloads)
    if (!latency.has(reply.node)) latency.set(reply.node, reply.latencyMs)
    // With a duplicated name, an error from any of the workers stays an error.
    const error = errorOf(reply.payload)
    if (error !== undefined && !errors.has(reply.node)) errors.set(reply.node, error)
  }
  // A node whose reply could not be read did answer: it is that node's error, not a silence.
  for (const u of call.undecodable) if (u.node !== undefined && !errors.has(u.node)) errors.set(u.node, u.reason)
  const heard = (n: string) => all.has(n) || errors.has(n)
  const awaited = awaitedNodes(destination, roster)
  const expected = roster && 'count' in roster ? roster.count : awaited.length > 0 ? awaited.length : null
  const duplicated = [...all].filter(([, p]) => p.length > 1)
  return {
    method,
    replies: Object.fromEntries([...all].map(([node, p]) => [node, p.at(-1)])),
    missing: awaited.filter((n) => !heard(n)),
    errors: Object.fromEntries(errors),
    duplicates: duplicated.map(([node]) => node),
    duplicateReplies: Object.fromEntries(duplicated),
    elapsedMs: call.elapsedMs,
    latencyMs: Object.fromEntries(latency),
    expected,
    undecodable: call.undecodable.map(({reason, contentType, node}) => ({reason, ...(contentType ? {contentType} : {}), ...(node !== undefined ? {node} : {})})),
    listeners: call.listeners ?? null,
    unanswered: unansweredOf(call),
  }
}

/** A node's entry in one of the result's maps, never something inherited from Object.prototype. */
export function own<T>(map: Record<string, T> | undefined, node: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, node) ? map[node] : undefined
}

/**
 * The exit code of what the fleet answered: 0 complete, 1 partial, 69 nobody replied; for a
 * shutdown, 0 only when every targeted node is `stopped` (seen idle, or seen finishing its tasks,
 * and then silent) — a node still `stopping`, `running` or `unknown`, or no node at all, is 1 —
 * and 0 with --no-wait, which verifies nothing.
 */
export function exitCodeOf(result: FleetResult | ShutdownResult): number {
  if ('stopped' in result) {
    if (!result.waited) return ExitCode.ok
    const states = Object.values(result.nodes)
    return states.length > 0 && states.every((n) => n.state === 'stopped') ? ExitCode.ok : ExitCode.partial
  }
  const replied = new Set([...Object.keys(result.replies), ...Object.keys(result.errors)]).size
  if (replied === 0 && result.undecodable.length === 0) return ExitCode.noReply
  const short = result.expected !== null && replied < result.expected
  if (short || result.missing.length > 0 || Object.keys(result.errors).length > 0 || result.undecodable.length > 0) {
    return ExitCode.partial
  }
  return ExitCode.ok
}
