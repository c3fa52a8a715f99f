import {BrokerError, ConnectionLostError} from '../errors.js'
import type {Namespace} from '../wire/transport.js'
import {ACCESS_REFUSED, amqpReplyCode, NOT_ALLOWED} from './amqp-errors.js'
import {tlsFailure, type TlsFiles} from './tls.js'
import {maskSecrets, type BrokerUrl} from './url.js'

/** What the worker side's broker link needs (the simulated fleet). */
export interface LinkOptions {
  url: BrokerUrl
  namespace: Namespace & {eventExchange: string}
  connectTimeoutMs: number
  /** TLS files given outside the URL. */
  tls?: TlsFiles
}

/** What a broker connection needs: where, which names, and how long to wait for it. */
export interface TransportOptions {
  url: BrokerUrl
  namespace: Namespace
  connectTimeoutMs: number
  /** TLS files given outside the URL. */
  tls?: TlsFiles
  /**
   * A command that stays connected (events, top): RabbitMQ heartbeats on, so a broker that goes
   * silent without closing the connection is noticed (Redis subscriptions PING on their own).
   */
  longLived?: boolean
  /** Redis Sentinel: the name of the master to ask the sentinels for (kombu's master_name). */
  sentinelMaster?: string
  /** Redis Sentinel: the sentinels' own password (kombu's sentinel_kwargs), apart from the master's in the URL. */
  sentinelPassword?: string
}

/**
 * Bounds a broker operation by a deadline, turning a silent broker into an "unreachable" error.
 * `onTimeout` ends the operation; when it returns a string, that says what was left unanswered
 * (e.g. a TLS handshake) and replaces "no answer within …".
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => unknown): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const stuck = onTimeout()
      reject(new BrokerError(`${what}: ${typeof stuck === 'string' ? stuck : `no answer within ${formatSeconds(ms)}`}`))
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
  const tls = tlsFailure(url, error)
  let why: string
  if (tls) why = tls
  else if (error instanceof ConnectionLostError) why = error.message
  else if (e?.code === 'ECONNREFUSED') why = 'connection refused'
  else if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') why = `host ${url.host} not found`
  else if (e?.code === 'ETIMEDOUT') why = 'connection timed out'
  else if (e?.code === 'ECONNRESET' || e?.code === 'EPIPE') why = 'connection reset by the broker'
  else if (/^Connection closed: .*with message "([^"]*)"/.test(message)) {
    why = `the broker closed the connection (${/with message "([^"]*)"/.exec(message)![1]})`
  }
  // Redis's own words; an AMQP error's message holds names (a queue "NOAUTH-jobs"), and its refused login is the next line.
  else if (url.kind === 'redis' && /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH.*without any password/i.test(message)) {
    why = 'authentication refused'
  } else if (url.kind === 'amqp' && /^Handshake terminated by server: 403 /.test(message)) why = 'authentication refused'
  else if (url.kind === 'amqp' && amqpReplyCode(error) === ACCESS_REFUSED) {
    // A permission the user lacks in this vhost (configure, write or read): the broker closed the
    // channel. Told by the reply code: the message holds names, which may hold "403".
    why = `access refused: ${/ACCESS_REFUSED - ([^"]*)/.exec(message)?.[1] ?? message.split('\n')[0]}`
  }
  else if (url.kind === 'amqp' && (amqpReplyCode(error) === NOT_ALLOWED || /^Expected ConnectionOpenOk; got <ConnectionClose/.test(message))) {
    why = `access to virtual host "${url.vhost}" refused (it does not exist, or this user may not use it)`
  } else why = maskSecrets(message.split('\n')[0], url.password)
  return new BrokerError(`${doing} ${url.masked}: ${why}`)
}

/** Waits ms, or less if the signal aborts first (it never rejects): a listening window. */
export function listenFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, {once: true})
  })
}
