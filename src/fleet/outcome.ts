import {ExitCode} from '../errors.js'
import {errorOf} from '../protocol/collector.js'
import type {CallResult} from '../protocol/mailbox.js'
import {awaitedNodes, type Roster} from './roster.js'

/** The answer of the fleet to one request: the `--json` shape of the contract (§8), plus details. */
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
  undecodable: {reason: string; contentType?: string}[]
  /** How many mailboxes could hear the request, when the broker could tell. */
  listeners: number | null
}

export function summarize(method: string, call: CallResult, destination: string[], roster: Roster | undefined): FleetResult {
  const replies: Record<string, unknown> = {}
  const latencyMs: Record<string, number> = {}
  const errors: Record<string, string> = {}
  const all = new Map<string, unknown[]>()
  for (const reply of call.replies) {
    const payloads = all.get(reply.node) ?? []
    payloads.push(reply.payload)
    all.set(reply.node, payloads)
    replies[reply.node] = reply.payload
    latencyMs[reply.node] ??= reply.latencyMs
    const error = errorOf(reply.payload)
    if (error !== undefined) errors[reply.node] = error
    else delete errors[reply.node]
  }
  const awaited = awaitedNodes(destination, roster)
  const expected = roster && 'count' in roster ? roster.count : awaited.length > 0 ? awaited.length : null
  return {
    method,
    replies,
    missing: awaited.filter((n) => !(n in replies)),
    errors,
    duplicates: [...all].filter(([, p]) => p.length > 1).map(([node]) => node),
    duplicateReplies: Object.fromEntries([...all].filter(([, p]) => p.length > 1)),
    elapsedMs: call.elapsedMs,
    latencyMs,
    expected,
    undecodable: call.undecodable.map(({reason, contentType}) => (contentType ? {reason, contentType} : {reason})),
    listeners: call.listeners ?? null,
  }
}

/** Exit code of a collection (contract §7): 0 complete, 1 partial, 69 nobody replied. */
export function exitCodeOf(result: FleetResult): number {
  const replied = Object.keys(result.replies).length
  if (replied === 0 && result.undecodable.length === 0) return ExitCode.noReply
  const short = result.expected !== null && replied < result.expected
  if (short || result.missing.length > 0 || Object.keys(result.errors).length > 0 || result.undecodable.length > 0) {
    return ExitCode.partial
  }
  return ExitCode.ok
}
