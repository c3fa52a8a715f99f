import type {Transport} from '../wire/transport.js'
import type {DoctorProbe} from '../wire/doctor.js'
import type {BrokerUrl} from '../broker/url.js'
import type {TransportOptions} from '../broker/common.js'
import {BrokerError} from '../errors.js'
import {Mailbox} from '../protocol/mailbox.js'

export interface SessionOptions extends TransportOptions {
  /** The first URL to try. */
  url: BrokerUrl
  /** A failover list (`url;url`), in the order kombu tries them; `url` is its first. */
  urls?: BrokerUrl[]
  /** Told which broker answered, once connected (each connect of a session with a failover list). */
  onConnected?: (answered: Answered) => void
}

/** The broker of a failover list that answered, and why the ones before it did not. */
export interface Answered {
  /** The URL that answered (its `masked` is the only form to print). */
  url: BrokerUrl
  /** Its place in the list, from 1. */
  position: number
  /** How many URLs the list has (1: no failover list). */
  of: number
  /** One masked line for each URL tried before it: `redis://a:6379/0: connection refused`. */
  failed: string[]
}

/**
 * The URL that answered last, per session: the next connect of the same session (the doctor's
 * second connection) starts there, as kombu stays on the broker it failed over to.
 */
const lastAnswered = new WeakMap<SessionOptions, number>()

/** The URLs to try, in order: the list from the one that answered last, then round to the start. */
function attempts(opts: SessionOptions): {url: BrokerUrl; position: number}[] {
  const urls = opts.urls && opts.urls.length > 0 ? opts.urls : [opts.url]
  const start = lastAnswered.get(opts) ?? 0
  return urls.map((_, i) => (start + i) % urls.length).map((i) => ({url: urls[i], position: i + 1}))
}

/** `cannot connect to redis://a:1/0: connection refused` as `redis://a:1/0: connection refused`. */
function failedLine(error: BrokerError, url: BrokerUrl): string {
  const m = error.message
  const at = m.indexOf(url.masked)
  return at >= 0 && at <= 40 ? m.slice(at) : `${url.masked}: ${m}`
}

/**
 * Connects to the first URL of the list that answers, as kombu fails over: each is given the
 * connect timeout (its own transport's bound); a refusal or silence (a BrokerError) moves on to the
 * next, anything else (a usage error, a bug) stops at once. When none answers, one line naming
 * each masked URL and its reason, exit 3.
 */
async function connectFirst<T extends {connect(): Promise<void>; close(): Promise<void>}>(
  opts: SessionOptions,
  make: (opts: SessionOptions) => Promise<T>,
  handOut: (made: T) => void,
): Promise<{made: T; answered: Answered}> {
  const list = attempts(opts)
  const failed: string[] = []
  for (const {url, position} of list) {
    const made = await make(url === opts.url ? opts : {...opts, url})
    handOut(made)
    try {
      await made.connect()
    } catch (error) {
      if (!(error instanceof BrokerError) || list.length === 1) throw error
      failed.push(failedLine(error, url))
      await made.close().catch(() => {})
      continue
    }
    lastAnswered.set(opts, position - 1)
    return {made, answered: {url, position, of: list.length, failed}}
  }
  throw new BrokerError(`no broker of the failover list answered: ${failed.join('; ')}`)
}

/** The broker as a question or a dry run names it, masked: a failover list whole, since any of its URLs may be the one that answers. */
export function brokerName(opts: SessionOptions): string {
  return opts.urls && opts.urls.length > 1 ? opts.urls.map((u) => u.masked).join(';') : opts.url.masked
}

/** Loads only what the URL needs: amqplib never loads for Redis (wfctl speaks RESP itself, src/broker/resp.ts). */
export async function createTransport(opts: SessionOptions): Promise<Transport> {
  if (opts.url.kind === 'redis') {
    const {RedisTransport} = await import('../broker/redis.js')
    return new RedisTransport(opts)
  }
  const {AmqpTransport} = await import('../broker/amqp.js')
  return new AmqpTransport(opts)
}

/** The read-only broker probe of `wfctl doctor`, loaded like the transport: only what the URL needs; a failover list is tried in order. */
export async function createDoctorProbe(opts: SessionOptions): Promise<DoctorProbe> {
  if ((opts.urls?.length ?? 0) > 1) return new FailoverProbe(opts)
  return createOneProbe(opts)
}

async function createOneProbe(opts: SessionOptions): Promise<DoctorProbe> {
  if (opts.url.kind === 'redis') {
    const {RedisDoctor} = await import('../broker/redis-doctor.js')
    return new RedisDoctor(opts)
  }
  const {AmqpDoctor} = await import('../broker/amqp-doctor.js')
  return new AmqpDoctor(opts)
}

/** The doctor's probe on the first URL of a failover list that answers; then that one probe does the work. */
class FailoverProbe implements DoctorProbe {
  private probe?: DoctorProbe

  constructor(private readonly opts: SessionOptions) {}

  private get connected(): DoctorProbe {
    if (!this.probe) throw new Error('doctor probe used before connect()')
    return this.probe
  }

  async connect(): Promise<void> {
    const {answered} = await connectFirst(this.opts, createOneProbe, (probe) => (this.probe = probe))
    this.opts.onConnected?.(answered)
  }

  heartbeats(windowMs: number, signal: AbortSignal) {
    return this.connected.heartbeats(windowMs, signal)
  }

  inspect(nodes: string[]) {
    return this.connected.inspect(nodes)
  }

  fix(leftovers: Parameters<DoctorProbe['fix']>[0]) {
    return this.connected.fix(leftovers)
  }

  async close(): Promise<void> {
    await this.probe?.close()
  }
}

/** Where a request would go, without connecting: for --dry-run. */
export async function requestAddress(opts: SessionOptions): Promise<string> {
  return (await createTransport(opts)).requestAddress
}

/** A connected transport and the mailbox over it; close() removes everything wfctl created. */
export class FleetSession {
  private constructor(
    readonly transport: Transport,
    readonly mailbox: Mailbox,
    /** The broker that answered (of a failover list: which one). */
    readonly answered: Answered,
  ) {}

  static async open(opts: SessionOptions, onTransport: (transport: Transport) => void): Promise<FleetSession> {
    // Each transport is handed out before connecting, so an interrupt during connect can still close it.
    const {made: transport, answered} = await connectFirst(opts, createTransport, onTransport)
    opts.onConnected?.(answered)
    return new FleetSession(transport, new Mailbox(transport, opts.namespace.controlExchange), answered)
  }

  async close(): Promise<void> {
    try {
      await this.mailbox.close()
    } finally {
      await this.transport.close()
    }
  }
}
