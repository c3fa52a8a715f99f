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

/** Where workers of the same broker do listen, when nobody heard a request (the "nobody listens" hint). */
export interface ListenersElsewhere {
  /** The request channel they listen on. */
  channel: string
  db: number
  prefix: string
  controlExchange: string
  /** Mailboxes bound there. */
  mailboxes: number
  /** Whether some connection pattern-subscribes in that database (null: the broker would not say). */
  live: boolean | null
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
  /**
   * Listens to Celery's events (the event exchange `celeryev`) whose routing keys match the given
   * AMQP topic patterns (`task.#`), delivering each message as it arrives. Leaves nothing behind:
   * a subscription on Redis, an exclusive auto-delete queue on RabbitMQ, gone with close().
   * `onFailure` reports, once, that the subscription was lost (the broker went away or closed it).
   */
  watchEvents?(routingKeys: string[], onMessages: (messages: ReceivedMessage[]) => void, onFailure?: (error: Error) => void): Promise<EventWatch>
  /**
   * How many messages wait in each named queue, and how many consumers it has where the broker can
   * tell (RabbitMQ); read-only, creates nothing (Redis: LLEN of the queue and its priority lists;
   * RabbitMQ: a passive declare).
   */
  queueDepths?(names: string[]): Promise<QueueDepth[]>
  /** Queue names the broker knows of without asking a worker (Redis: kombu's binding sets). */
  knownQueues?(): Promise<string[]>
  /** When nobody heard a request: one cheap look for the namespaces where workers do listen. */
  listenersElsewhere?(): Promise<ListenersElsewhere[]>
  /**
   * Redis: the nodes whose mailbox is bound in kombu's pidbox binding set of this namespace. A
   * worker binds its own at start and unbinds it at a warm shutdown, so a killed one's stays. Read-only.
   */
  boundMailboxes?(): Promise<string[]>
  close(): Promise<void>
}

/** One queue's depth as the broker sees it. */
export interface QueueDepth {
  name: string
  /** False when the broker has no such queue (RabbitMQ: the passive declare failed with 404). Redis cannot tell an empty queue from none. */
  exists: boolean
  messages: number
  /** Consumers the broker counts (RabbitMQ); null where it cannot tell (Redis). */
  consumers: number | null
  /** Redis: messages per priority list, keyed by kombu's step ('0' the plain list, '3', '6', '9'). */
  byPriority?: Record<string, number>
  /** Why the broker would not tell (RabbitMQ: an exclusive queue of another connection, access refused); `messages` then means nothing. */
  error?: string
}

/** Celery's event exchange (the `event_exchange` setting's default). */
export const EVENT_EXCHANGE = 'celeryev'

/** A subscription to Celery's events. */
export interface EventWatch {
  /** False when no event can reach wfctl there (a vhost without the event exchange: no worker ever sent events). */
  readonly available: boolean
  /** Removes the subscription. Safe to call twice. */
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
