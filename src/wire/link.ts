import type {ReceivedMessage, WireMessage} from './message.js'
import type {WorkerEvent} from './events.js'
import {assertSafeEvent, eventRoutingKey} from './events.js'

/** A request as the worker side reads it: the decoded body and the header clock. */
export interface IncomingRequest {
  body: Record<string, unknown>
  clock: unknown
}

/** Every reply one request produced in this process: they share the reply route and the ticket. */
export interface ReplyBatch {
  exchange: string
  routingKey: string
  /** The request's ticket, or null when it had none (docs/wire-protocol.md#how-a-worker-handles-a-request). */
  ticket: unknown
  replies: {node: string; payload: unknown; clock: number}[]
}

export interface LogEntry {
  level: 'info' | 'warning' | 'error'
  message: string
  node?: string
}

export interface LinkListeners {
  /** A request arrived: on the fleet's channel (Redis, `node` undefined) or in one node's mailbox queue (AMQP). */
  onRequest(request: IncomingRequest, node?: string): void
  /** The link is gone for good (the broker closed the connection or channel). */
  onFailure(error: Error): void
  onLog(entry: LogEntry): void
}

/**
 * The worker side of one broker connection, shared by every node a process hosts: it makes nodes
 * reachable (mailboxes), delivers requests, routes replies and publishes worker events.
 */
export interface AgentLink {
  readonly kind: 'redis' | 'amqp'
  connect(listeners: LinkListeners): Promise<void>
  /** Makes the nodes' mailboxes exist; returns the nodes that could not get one, and why. */
  attach(nodes: string[]): Promise<{node: string; reason: string}[]>
  /** Removes the nodes' mailboxes and everything attach() created for them. */
  detach(nodes: string[]): Promise<void>
  reply(batch: ReplyBatch): Promise<void>
  publishEvents(events: WorkerEvent[]): Promise<void>
  close(): Promise<void>
}

const JSON_TYPES = new Set(['application/json', 'application/x-json', 'text/json'])

/**
 * Decodes a pidbox request as a worker accepting only JSON does (`accept_content`, docs/wire-protocol.md#messages).
 * Returns why it was dropped otherwise: real workers log and drop such messages.
 */
export function decodeRequest(msg: ReceivedMessage): IncomingRequest | string {
  const contentType = msg.contentType?.toLowerCase()
  if (!contentType || !JSON_TYPES.has(contentType)) return `refusing content type ${msg.contentType ?? '(none)'}`
  let body: unknown
  try {
    body = JSON.parse(msg.body.toString('utf8'))
  } catch {
    return 'body is not valid JSON'
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body is not a JSON object'
  return {body: body as Record<string, unknown>, clock: msg.headers.clock}
}

/** A reply message (docs/wire-protocol.md#replies): `{node: payload}`, headers ticket and clock, transient. */
export function replyMessage(node: string, payload: unknown, ticket: unknown, clock: number): WireMessage {
  return {
    body: Buffer.from(JSON.stringify({[node]: payload}), 'utf8'),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: {ticket: ticket ?? null, clock},
    deliveryMode: 1,
  }
}

/** A worker event message (docs/wire-protocol.md#worker-events): header hostname, transient; routed by its type. */
export function eventMessage(event: WorkerEvent): {routingKey: string; message: WireMessage} {
  assertSafeEvent(event)
  return {
    routingKey: eventRoutingKey(event.type),
    message: {
      body: Buffer.from(JSON.stringify(event), 'utf8'),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {hostname: event.hostname},
      deliveryMode: 1,
    },
  }
}

/** Splits work into slices, so one pipeline or one burst of RPCs stays bounded. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
