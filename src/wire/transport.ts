import {BrokerError} from '../errors.js'
import type {ReceivedMessage, WireMessage} from './message.js'

/** Names that Celery derives from its settings; every peer must agree on them. */
export interface Namespace {
  /** Celery's `control_exchange` (default `celery`). */
  controlExchange: string
  /** kombu's Redis `global_keyprefix` transport option (default empty). */
  redisKeyPrefix: string
}

/** A private reply route: a binding member and lists on Redis, an exclusive queue on RabbitMQ. */
export interface Inbox {
  /** The routing key the workers reply to (kombu's oid). */
  readonly routingKey: string
  /**
   * Removes everything the inbox created in the broker. Safe to call twice. `repliesInFlight` says
   * that workers which heard the last request have not replied yet: one may be between routing its
   * reply and pushing it, so the transport makes sure such a straggler leaves nothing behind.
   */
  close(opts?: {repliesInFlight?: boolean}): Promise<void>
}

export interface PublishResult {
  /** How many mailboxes could hear the request, when the broker can tell (0 means nobody). */
  listeners?: number
}

/**
 * One connection to the broker, speaking kombu's layout of the pidbox exchanges. The protocol layer
 * above decides what to send; the transport only knows where and how.
 */
export interface Transport {
  readonly kind: 'redis' | 'amqp'
  /** Where requests go, for --dry-run and diagnostics: a channel or an exchange in a vhost. */
  readonly requestAddress: string
  connect(): Promise<void>
  /**
   * Opens a reply route (before publishing, as the protocol requires) and delivers what arrives on
   * it in batches. `onFailure` reports a broker failure while waiting.
   */
  openInbox(onMessages: (messages: ReceivedMessage[]) => void, onFailure: (error: Error) => void): Promise<Inbox>
  publish(message: WireMessage): Promise<PublishResult>
  close(): Promise<void>
}

/**
 * Something wfctl created in the broker could not be removed: each item says what (with its key)
 * and why. `unreachable` when the broker stopped answering, rather than refusing.
 */
export class CleanupError extends BrokerError {
  constructor(
    readonly failed: {what: string; why: string}[],
    readonly unreachable: boolean,
  ) {
    super(failed.map((f) => `could not remove ${f.what}: ${f.why}`).join('; '))
    this.name = 'CleanupError'
  }
}
