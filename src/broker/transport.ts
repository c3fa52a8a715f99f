import type {ReceivedMessage, WireMessage} from '../protocol/message.js'
import {BrokerError, ConnectionLostError} from '../errors.js'
import {maskSecrets, type BrokerUrl} from './url.js'

/** Names that Celery derives from its settings; every peer must agree on them. */
export interface Namespace {
  /** Celery's `control_exchange` (default `celery`). */
  controlExchange: string
  /** kombu's Redis `global_keyprefix` transport option (default empty). */
  redisKeyPrefix: string
}

export interface TransportOptions {
  url: BrokerUrl
  namespace: Namespace
  connectTimeoutMs: number
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

/** Bounds a broker operation by a deadline, turning a silent broker into an "unreachable" error. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout()
      reject(new BrokerError(`${what}: no answer within ${formatSeconds(ms)}`))
    }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`
}

/** Turns a client library's error into one masked line. */
export function brokerFailure(url: BrokerUrl, error: unknown, doing: string): BrokerError {
  if (error instanceof BrokerError) return error
  const e = error as {code?: string; message?: string}
  const message = e?.message ?? String(error)
  let why: string
  if (error instanceof ConnectionLostError) why = error.message
  else if (e?.code === 'ECONNREFUSED') why = 'connection refused'
  else if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') why = `host ${url.host} not found`
  else if (e?.code === 'ETIMEDOUT') why = 'connection timed out'
  else if (e?.code === 'ECONNRESET' || e?.code === 'EPIPE') why = 'connection reset by the broker'
  else if (/^Connection is closed/.test(message)) why = 'the broker closed the connection' // ioredis (the simulated fleet)
  else if (/^Connection closed: .*with message "([^"]*)"/.test(message)) {
    why = `the broker closed the connection (${/with message "([^"]*)"/.exec(message)![1]})`
  }
  else if (/WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH.*without any password/i.test(message)) {
    why = 'authentication refused'
  } else if (/Handshake terminated|Login was refused/i.test(message) && url.kind === 'amqp') why = 'authentication refused'
  else if (/ACCESS.REFUSED|403/.test(message) && url.kind === 'amqp') {
    // A permission the user lacks in this vhost (configure, write or read): the broker closed the channel.
    why = `access refused: ${/ACCESS_REFUSED - ([^"]*)/.exec(message)?.[1] ?? message.split('\n')[0]}`
  }
  else if (/NOT.ALLOWED|530|ConnectionClose/.test(message) && url.kind === 'amqp') {
    why = `access to virtual host "${url.vhost}" refused (it does not exist, or this user may not use it)`
  } else why = maskSecrets(message.split('\n')[0], url.password)
  return new BrokerError(`${doing} ${url.masked}: ${why}`)
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
