import type {Transport} from '../wire/transport.js'
import type {DoctorProbe} from '../wire/doctor.js'
import type {BrokerUrl} from '../broker/url.js'
import type {TransportOptions} from '../broker/common.js'
import {Mailbox} from '../protocol/mailbox.js'

export interface SessionOptions extends TransportOptions {
  /** The first URL to try. */
  url: BrokerUrl
  /** A failover list (`url;url`), in the order kombu tries them; `url` is its first. */
  urls?: BrokerUrl[]
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

/** The read-only broker probe of `wfctl doctor`, loaded like the transport: only what the URL needs. */
export async function createDoctorProbe(opts: SessionOptions): Promise<DoctorProbe> {
  if (opts.url.kind === 'redis') {
    const {RedisDoctor} = await import('../broker/redis-doctor.js')
    return new RedisDoctor(opts)
  }
  const {AmqpDoctor} = await import('../broker/amqp-doctor.js')
  return new AmqpDoctor(opts)
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
  ) {}

  static async open(opts: SessionOptions, onTransport: (transport: Transport) => void): Promise<FleetSession> {
    const transport = await createTransport(opts)
    // Handed out before connecting, so an interrupt during connect can still close it.
    onTransport(transport)
    await transport.connect()
    return new FleetSession(transport, new Mailbox(transport, opts.namespace.controlExchange))
  }

  async close(): Promise<void> {
    try {
      await this.mailbox.close()
    } finally {
      await this.transport.close()
    }
  }
}
