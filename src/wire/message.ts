/** A broker-neutral message: what Celery calls body, content type/encoding and headers. */
export interface WireMessage {
  body: Buffer
  contentType: string
  contentEncoding: string
  headers: Record<string, unknown>
  /** AMQP delivery mode: 2 for requests, 1 for replies (docs/wire-protocol.md#messages). */
  deliveryMode: 1 | 2
}

/** A message as it came out of the reply queue, not yet trusted. */
export interface ReceivedMessage {
  body: Buffer
  contentType?: string
  contentEncoding?: string
  headers: Record<string, unknown>
  /** performance.now() when the transport handed it over. */
  receivedAt: number
  /**
   * Set when the transport could not hand over the whole message (too large to hold, not an
   * envelope): why, for the report. `body` then holds what could be read of its start.
   */
  unreadable?: string
  /** The headers could not be read (a message too large to hold): whose reply it was is unknown. */
  headersLost?: boolean
}

/** Why a message read from the reply queue could not be turned into a reply. */
export interface Undecodable {
  reason: string
  contentType?: string
  /** The node that sent it, when its name could be read. */
  node?: string
}

/** The largest reply body wfctl holds in memory; a larger one is that node's error. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024
