/** A broker-neutral message: what Celery calls body, content type/encoding and headers. */
export interface WireMessage {
  body: Buffer
  contentType: string
  contentEncoding: string
  headers: Record<string, unknown>
  /** AMQP delivery mode: 2 for requests, 1 for replies (protocol §2). */
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
}

/** Why a message read from the reply queue could not be turned into a reply. */
export interface Undecodable {
  reason: string
  contentType?: string
}
