import type {ReceivedMessage} from '../wire/message.js'
import type {EventWatch, Transport} from '../wire/transport.js'
import {nestsDeeper, parsePythonJson} from './collector.js'

/*
 * Celery's event stream as a monitor reads it (docs/wire-protocol.md#worker-events): every message
 * of the event exchange decoded into typed events, whatever its sender put in it. Workers send one
 * event per message, or (task events from a worker's event loop) a JSON list of them under the
 * routing key `task.multi`. Nothing a sender puts in a message can throw here: what is not an event
 * is counted, with the reason, and the stream goes on.
 */

/** One event as a worker sent it: the fields every event has, typed, and the rest as sent. */
export interface CeleryEvent {
  /** `worker-heartbeat`, `task-succeeded`, ... (any string: custom events exist). */
  type: string
  /** The sender's node name. */
  hostname: string
  /** Seconds since the epoch, by the sender's clock. */
  timestamp: number
  /** The sender's Lamport clock. */
  clock?: number
  /** Hours WEST of UTC at the sender (Celery's utcoffset()). */
  utcoffset?: number
  /** Every other field of the event, as sent (`active`, `freq`, `uuid`, `runtime`, ...). */
  fields: Record<string, unknown>
  /** performance.now() when the message arrived: for ages measured on this machine's clock. */
  receivedAt: number
}

/** A message (or one item of a `task.multi` list) that is not an event. */
export interface UndecodableEvent {
  reason: string
  /** The sender, when the message's headers name it. */
  node?: string
}

/** What wfctl reads of one event message at most; larger ones are undecodable, unread. */
export const EVENT_LIMITS = {
  /** A message's body in bytes (a batch of 24 task events with long tracebacks stays far below). */
  messageBytes: 8 * 1024 * 1024,
  /** Events in one `task.multi` list (Celery sends at most a few dozen). */
  eventsPerMessage: 1000,
  /** Nesting of a body: events are flat objects. */
  depth: 64,
  typeLength: 128,
  hostnameLength: 1024,
}

const JSON_TYPES = new Set(['application/json', 'application/x-json', 'text/json'])
const UTF8 = new Set(['utf-8', 'utf8'])

/** The sender a message's headers name (kombu's `hostname` header), for a report. */
function senderOf(message: ReceivedMessage): string | undefined {
  const node = message.headers.hostname
  return typeof node === 'string' && node !== '' && node.length <= EVENT_LIMITS.hostnameLength ? node : undefined
}

/** What decodeEventMessage() found in one or more messages. */
export interface Decoded {
  events: CeleryEvent[]
  undecodable: UndecodableEvent[]
}

/**
 * The events of one message, appended to `into`: one event (an object body) or many (a list). Each
 * item that is not an event is one undecodable entry; a message that cannot be read at all is one.
 */
export function decodeEventMessage(message: ReceivedMessage, into: Decoded = {events: [], undecodable: []}): Decoded {
  const bad = (reason: string, node = senderOf(message)) => {
    into.undecodable.push(node === undefined ? {reason} : {reason, node})
    return into
  }
  if (message.unreadable !== undefined) return bad(message.unreadable)
  const body = message.body
  if (body.length > EVENT_LIMITS.messageBytes) return bad(`event message of ${body.length} bytes is larger than the ${EVENT_LIMITS.messageBytes} wfctl reads`)
  // The content type is checked when there is one: a missing one is read as JSON, never as anything else.
  const contentType = message.contentType
  if (contentType !== undefined && contentType !== 'application/json' && !JSON_TYPES.has(contentType.toLowerCase())) {
    return bad(`event serialized as ${contentType.slice(0, 100)} is not JSON (wfctl reads JSON events only)`)
  }
  const encoding = message.contentEncoding
  if (encoding !== undefined && encoding !== 'utf-8' && !UTF8.has(encoding.toLowerCase())) {
    return bad(`event encoded as ${encoding.slice(0, 100)} is not UTF-8`)
  }
  let parsed: unknown
  try {
    parsed = parsePythonJson(body.toString('utf8'))
  } catch {
    return bad('event body is not JSON')
  }
  if (typeof parsed !== 'object' || parsed === null) return bad('event body is not an object or a list of objects')
  if (Array.isArray(parsed)) {
    const n = Math.min(parsed.length, EVENT_LIMITS.eventsPerMessage)
    if (parsed.length > EVENT_LIMITS.eventsPerMessage) bad(`a list of ${parsed.length} events: the ${parsed.length - n} after the first ${n} were not read`)
    // A list is items of one level: each item's own nesting is checked when it is read.
    for (let i = 0; i < n; i++) decodeItem(parsed[i], message, into)
    return into
  }
  decodeItem(parsed, message, into)
  return into
}

function decodeItem(item: unknown, message: ReceivedMessage, into: Decoded): void {
  const bad = (reason: string, node?: string) => {
    const from = node ?? senderOf(message)
    into.undecodable.push(from === undefined ? {reason} : {reason, node: from})
  }
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return bad('an event is not an object')
  // The rest spread defines own properties (never a prototype, even for a key "__proto__").
  const {type, hostname, timestamp, clock, utcoffset, ...fields} = item as Record<string, unknown>
  const node = typeof hostname === 'string' && hostname !== '' && hostname.length <= EVENT_LIMITS.hostnameLength ? hostname : undefined
  if (typeof type !== 'string' || type === '') return bad('event has no type', node)
  if (type.length > EVENT_LIMITS.typeLength) return bad(`event type of ${type.length} characters`, node)
  if (node === undefined) return bad(typeof hostname === 'string' && hostname !== '' ? `${type} event with a hostname of ${hostname.length} characters` : `${type} event has no hostname`)
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return bad(`${type} event has no timestamp`, node)
  if (hasNested(fields) && nestsDeeper(fields, EVENT_LIMITS.depth)) return bad(`${type} event nests deeper than ${EVENT_LIMITS.depth} levels`, node)
  const event: CeleryEvent = {type, hostname: node, timestamp, fields, receivedAt: message.receivedAt}
  if (typeof clock === 'number' && Number.isFinite(clock)) event.clock = clock
  if (typeof utcoffset === 'number' && Number.isFinite(utcoffset)) event.utcoffset = utcoffset
  into.events.push(event)
}

/** Whether an object holds an object or a list nested below one level (a heartbeat's loadavg does not count). */
function hasNested(fields: Record<string, unknown>): boolean {
  for (const key in fields) {
    const v = fields[key]
    if (typeof v !== 'object' || v === null) continue
    if (!Array.isArray(v)) return true
    for (const x of v) if (typeof x === 'object' && x !== null) return true
  }
  return false
}

/** Routing keys (AMQP topic patterns) of the event exchange: every event, worker events, task events. */
export const ALL_EVENTS = '#'
export const WORKER_EVENTS = 'worker.#'
export const TASK_EVENTS = 'task.#'

export interface EventStreamOptions {
  /** AMQP topic patterns of the routing keys to hear: `#`, `worker.#`, `task.#` (task.multi is a task key). */
  routingKeys: string[]
  /** Events as they arrive, in batches (one per turn of the event loop at most). */
  onEvents: (events: CeleryEvent[]) => void
  /** What was not an event, in batches. */
  onUndecodable?: (items: UndecodableEvent[]) => void
  /**
   * The subscription was lost (the broker went away or closed it), or onEvents threw: the stream
   * has stopped delivering. Called once.
   */
  onFailure?: (error: Error) => void
}

/** A subscription to the event exchange, delivering decoded events. */
export class EventStream {
  private pending: Decoded = {events: [], undecodable: []}
  private scheduled = false
  private closed = false
  private failed = false
  private watch?: EventWatch

  private constructor(private readonly opts: EventStreamOptions) {}

  /**
   * Subscribes. `available` is false when no event can reach wfctl there (RabbitMQ: a vhost where no
   * worker ever declared the event exchange); such a stream delivers nothing and holds nothing.
   */
  static async open(transport: Transport, opts: EventStreamOptions): Promise<EventStream> {
    const stream = new EventStream(opts)
    if (!transport.watchEvents) return stream
    stream.watch = await transport.watchEvents(opts.routingKeys, (messages) => stream.accept(messages), (error) => stream.fail(error))
    if (stream.closed) await stream.watch.close()
    return stream
  }

  /** False when no event can ever arrive on this subscription (see open()). */
  get available(): boolean {
    return this.watch?.available ?? false
  }

  private accept(messages: ReceivedMessage[]): void {
    if (this.closed || this.failed) return
    for (const message of messages) decodeEventMessage(message, this.pending)
    if (this.scheduled) return
    this.scheduled = true
    // Everything that arrived in one read of the socket goes out as one batch.
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.scheduled = false
    if (this.closed || this.failed) return
    const {events, undecodable} = this.pending
    this.pending = {events: [], undecodable: []}
    try {
      if (undecodable.length > 0) this.opts.onUndecodable?.(undecodable)
      if (events.length > 0) this.opts.onEvents(events)
    } catch (error) {
      this.fail(error as Error)
    }
  }

  private fail(error: Error): void {
    if (this.closed || this.failed) return
    this.failed = true
    this.opts.onFailure?.(error)
  }

  /** Stops delivering and removes the subscription from the broker. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true
    this.pending = {events: [], undecodable: []}
    await this.watch?.close()
  }
}

/** Subscribes to Celery's events on an open transport: `close()` removes the subscription. */
export function openEventStream(transport: Transport, opts: EventStreamOptions): Promise<EventStream> {
  return EventStream.open(transport, opts)
}
