import {connect as netConnect, type Socket} from 'node:net'
import type {ConnectionOptions, TLSSocket} from 'node:tls'

import {ConnectionLostError} from '../errors.js'
import {serverName} from './tls.js'

/*
 * A minimal Redis client (RESP2) for what a short-lived probe does: connect, authenticate, select,
 * a handful of commands, BRPOP. Loading it costs a millisecond where a full client library costs
 * tens (start-up is the product for a probe). Long-running users (the simulated fleet) keep ioredis.
 */

/**
 * A bulk string longer than the connection's limit: its bytes were read and dropped, keeping only
 * the first and last few kilobytes, so that the caller can still say whose reply it was.
 */
export class OversizedBulk {
  constructor(
    readonly length: number,
    readonly head: string,
    readonly tail: string,
  ) {}
}

export type Reply = string | number | null | OversizedBulk | Reply[]

/** An error reply from the server (`-ERR ...`, `-WRONGPASS ...`). */
export class RespError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RespError'
  }
}

export interface RespOptions {
  host: string
  port: number
  /** TLS (src/broker/tls.ts `tlsOptions()`); the server name is added here from `host`. */
  tls?: ConnectionOptions
  username?: string
  password?: string
  db: number
  /** Sent as CLIENT SETNAME when the user may, so operators can tell wfctl's connections apart. */
  name?: string
  /** A command not fully answered this long after it was sent ends the connection (not for blocking commands). */
  commandTimeoutMs?: number
  /** Bulk strings longer than this are read and dropped, and returned as an OversizedBulk. */
  maxBulkBytes?: number
  /**
   * A subscribed connection: pub/sub messages (`message`, `pmessage`) go here as they arrive,
   * instead of answering a command; confirmations (`psubscribe`) still answer their command.
   */
  onPush?: (message: Reply[]) => void
}

interface Pending {
  resolve: (reply: Reply) => void
  reject: (error: Error) => void
  deadline: number
}

const CR = 0x0d
const LF = 0x0a
/** How much of a dropped bulk string is kept at each end. */
const WINDOW = 64 * 1024
/** A header or status line longer than this is not Redis speaking. */
const MAX_LINE = 64 * 1024
const MAX_ARRAY = 10_000_000

/** One command as RESP writes it. */
function encode(args: (string | number)[]): Buffer {
  const values = args.map((arg) => Buffer.from(String(arg), 'utf8'))
  let size = 0
  const heads = values.map((v) => {
    const head = `$${v.length}\r\n`
    size += head.length + v.length + 2
    return head
  })
  const first = `*${args.length}\r\n`
  const out = Buffer.allocUnsafe(first.length + size)
  let at = out.write(first, 0, 'latin1')
  values.forEach((value, i) => {
    at += out.write(heads[i], at, 'latin1')
    at += value.copy(out, at)
    at += out.write('\r\n', at, 'latin1')
  })
  return out
}

type Frame = {items: Reply[]; remaining: number}

/**
 * Turns the byte stream into replies in one pass over each chunk: however a reply is split, every
 * byte is looked at once and copied at most once (a 50 MB reply costs what its bytes cost).
 */
export class RespReader {
  private line: Buffer[] = []
  private lineLength = 0
  /** The bulk string being read, with how much of it has arrived. */
  private bulk?: {data: Buffer; filled: number}
  /** The oversized bulk string being dropped. */
  private skip?: {length: number; seen: number; head: Buffer[]; headLength: number; tail: Buffer[]; tailLength: number}
  /** Bytes of the CRLF after a bulk string still to be read. */
  private crlf = 0
  private readonly stack: Frame[] = []

  constructor(
    private readonly emit: (value: Reply | RespError) => void,
    private readonly maxBulkBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Throws on bytes that are not RESP: the connection cannot be trusted after that. */
  feed(chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length) {
      if (this.crlf > 0) {
        const expected = this.crlf === 2 ? CR : LF
        if (chunk[pos] !== expected) throw new Error('a Redis bulk string did not end with CRLF')
        this.crlf -= 1
        pos += 1
        if (this.crlf === 0) this.finishBulk()
        continue
      }
      if (this.bulk) {
        const n = Math.min(chunk.length - pos, this.bulk.data.length - this.bulk.filled)
        chunk.copy(this.bulk.data, this.bulk.filled, pos, pos + n)
        this.bulk.filled += n
        pos += n
        if (this.bulk.filled === this.bulk.data.length) this.crlf = 2
        continue
      }
      if (this.skip) {
        const s = this.skip
        const n = Math.min(chunk.length - pos, s.length - s.seen)
        const piece = chunk.subarray(pos, pos + n)
        if (s.headLength < WINDOW) {
          const keep = piece.subarray(0, WINDOW - s.headLength)
          s.head.push(Buffer.from(keep))
          s.headLength += keep.length
        }
        s.tail.push(Buffer.from(piece.subarray(Math.max(0, piece.length - WINDOW))))
        s.tailLength += Math.min(piece.length, WINDOW)
        while (s.tail.length > 1 && s.tailLength - s.tail[0].length >= WINDOW) s.tailLength -= s.tail.shift()!.length
        s.seen += n
        pos += n
        if (s.seen === s.length) this.crlf = 2
        continue
      }
      const end = chunk.indexOf(LF, pos)
      const stop = end < 0 ? chunk.length : end + 1
      this.lineLength += stop - pos
      if (this.lineLength > MAX_LINE) throw new Error('a Redis reply line is too long')
      this.line.push(chunk.subarray(pos, stop))
      pos = stop
      if (end >= 0) {
        const whole = this.line.length === 1 ? this.line[0] : Buffer.concat(this.line)
        this.line = []
        this.lineLength = 0
        if (whole.length < 3 || whole[whole.length - 2] !== CR) throw new Error('a Redis reply line did not end with CRLF')
        this.header(whole[0], whole.toString('utf8', 1, whole.length - 2))
      }
    }
  }

  private header(type: number, text: string): void {
    switch (type) {
      case 0x2b: // + simple string
        return this.value(text)
      case 0x2d: // - error
        return this.value(new RespError(text))
      case 0x3a: {
        // : integer
        const n = Number(text)
        if (!/^-?\d+$/.test(text)) throw new Error('a Redis integer reply is not a number')
        return this.value(n)
      }
      case 0x24: {
        // $ bulk string
        if (!/^-?\d+$/.test(text)) throw new Error('a Redis bulk string has no valid length')
        const length = Number(text)
        if (length < 0) return this.value(null)
        if (length > this.maxBulkBytes) {
          this.skip = {length, seen: 0, head: [], headLength: 0, tail: [], tailLength: 0}
          if (length === 0) this.crlf = 2
          return
        }
        this.bulk = {data: Buffer.allocUnsafe(length), filled: 0}
        if (length === 0) this.crlf = 2
        return
      }
      case 0x2a: {
        // * array
        if (!/^-?\d+$/.test(text)) throw new Error('a Redis array has no valid length')
        const count = Number(text)
        if (count < 0) return this.value(null)
        if (count > MAX_ARRAY) throw new Error('a Redis array reply is too long')
        if (count === 0) return this.value([])
        this.stack.push({items: [], remaining: count})
        return
      }
      default:
        throw new Error(`unexpected byte 0x${type.toString(16)} in a Redis reply`)
    }
  }

  private finishBulk(): void {
    if (this.bulk) {
      const {data} = this.bulk
      this.bulk = undefined
      this.value(data.toString('utf8'))
      return
    }
    const s = this.skip!
    this.skip = undefined
    const tail = Buffer.concat(s.tail)
    this.value(new OversizedBulk(s.length, Buffer.concat(s.head).toString('utf8'), tail.subarray(Math.max(0, tail.length - WINDOW)).toString('utf8')))
  }

  /** A complete value: handed out at the top level, else added to the array being read. */
  private value(v: Reply | RespError): void {
    let current: Reply | RespError = v
    for (;;) {
      const frame = this.stack.at(-1)
      if (!frame) return this.emit(current)
      // An error inside an array (EXEC) is kept as its message.
      frame.items.push(current instanceof RespError ? current.message : current)
      frame.remaining -= 1
      if (frame.remaining > 0) return
      this.stack.pop()
      current = frame.items
    }
  }
}

export class RespConnection {
  status: 'connecting' | 'ready' | 'closed' = 'connecting'
  private readonly socket: Socket
  private readonly pending: Pending[] = []
  private readonly reader: RespReader
  private failure?: Error
  private timer?: NodeJS.Timeout
  private readonly closed: Promise<void>
  /** TCP connected, TLS handshake done, a byte received: what a connection that failed got to. */
  private reached = {tcp: false, secure: false, data: false}

  private constructor(private readonly opts: RespOptions, tlsConnect?: (options: ConnectionOptions) => TLSSocket) {
    const target = {host: opts.host, port: opts.port}
    this.socket = opts.tls && tlsConnect ? tlsConnect({...target, ...serverName(opts.host), ...opts.tls}) : netConnect(target)
    this.socket.setNoDelay(true)
    this.reader = new RespReader((value) => this.settleHead(value), opts.maxBulkBytes)
    this.socket.once('connect', () => (this.reached.tcp = true))
    this.socket.once('secureConnect', () => (this.reached.secure = true))
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk))
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      // A plain-text connection that a TLS port drops at once, unanswered.
      if (!opts.tls && !this.reached.data && this.status === 'connecting' && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
        this.failure ??= new ConnectionLostError(`the broker reset the connection without answering: if port ${opts.port} speaks TLS, use rediss://`)
      }
      this.failure ??= error
    })
    this.closed = new Promise((resolve) => this.socket.once('close', () => {
      this.status = 'closed'
      clearTimeout(this.timer)
      const error = this.failure ?? new ConnectionLostError('the broker closed the connection')
      for (const p of this.pending.splice(0)) p.reject(error)
      resolve()
    }))
  }

  /**
   * Connects, authenticates, selects the database and names the connection. The caller bounds it
   * with its connect timeout and calls destroy() when that runs out.
   */
  static async open(opts: RespOptions, created?: (connection: RespConnection) => void): Promise<RespConnection> {
    // node:tls (and what it loads) only for rediss://: a plain connection has no use for it.
    const connection = new RespConnection(opts, opts.tls ? (await import('node:tls')).connect : undefined)
    created?.(connection)
    await new Promise<void>((resolve, reject) => {
      connection.socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve())
      void connection.closed.then(() => reject(connection.failure ?? new ConnectionLostError('the broker closed the connection')))
    })
    const handshake: Promise<Reply>[] = []
    if (opts.password !== undefined && opts.password !== '') {
      const auth = opts.username ? ['AUTH', opts.username, opts.password] : ['AUTH', opts.password]
      // A password given to a Redis that has none is no reason to fail (as with redis-cli -a).
      handshake.push(connection.call(...auth).catch((error: Error) => {
        if (/without any password configured/i.test(error.message)) return 'OK'
        throw error
      }))
    }
    if (opts.db !== 0) handshake.push(connection.call('SELECT', opts.db))
    if (opts.name) {
      // Only a label: a user whose ACL forbids CLIENT still gets its work done.
      handshake.push(connection.call('CLIENT', 'SETNAME', opts.name).catch((error: Error) => {
        if (error instanceof RespError) return 'OK'
        throw error
      }))
    }
    try {
      await Promise.all(handshake)
    } catch (error) {
      connection.destroy()
      throw error
    }
    connection.status = 'ready'
    return connection
  }

  /** Sends one command; resolves with its reply, rejects with a RespError for an error reply. */
  call(...args: (string | number)[]): Promise<Reply> {
    if (this.status === 'closed' || this.socket.destroyed) {
      return Promise.reject(this.failure ?? new ConnectionLostError('the connection to the broker is closed'))
    }
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + (this.opts.commandTimeoutMs ?? 0)
      this.pending.push({resolve, reject, deadline})
      this.socket.write(encode(args))
      if (this.pending.length === 1) this.arm()
    })
  }

  /** QUIT and wait for the server to close, or destroy after `ms`. */
  async quit(ms: number): Promise<void> {
    if (this.status === 'closed') return
    const timer = setTimeout(() => this.destroy(), ms)
    // Its +OK is the last the server says before it closes the connection: no need to wait for that.
    this.call('QUIT').then(() => this.destroy(), () => {})
    await this.closed
    clearTimeout(timer)
  }

  /**
   * Ends the connection. Returns what it was stuck on when that is worth saying (withDeadline() shows
   * it): a TLS handshake that a plain-text port never answers.
   */
  destroy(): string | undefined {
    const stuck = this.opts.tls && this.reached.tcp && !this.reached.secure && this.status === 'connecting'
    this.socket.destroy()
    if (!stuck) return undefined
    return `the server took the connection but never answered the TLS handshake: if port ${this.opts.port} is plain text, use redis:// (or the broker's TLS port)`
  }

  /**
   * Bounds the oldest outstanding command by its own deadline: a server that answers a byte at a
   * time gets no more time than one that does not answer at all.
   */
  private arm(): void {
    clearTimeout(this.timer)
    const ms = this.opts.commandTimeoutMs
    const head = this.pending[0]
    if (!ms || !head) return
    this.timer = setTimeout(() => {
      this.failure ??= new ConnectionLostError(`the broker did not answer within ${ms} ms`)
      this.socket.destroy()
    }, Math.max(0, head.deadline - performance.now()))
  }

  private settleHead(value: Reply | RespError): void {
    if (this.opts.onPush && Array.isArray(value) && (value[0] === 'pmessage' || value[0] === 'message')) return this.opts.onPush(value)
    const waiter = this.pending.shift()
    this.arm()
    if (!waiter) return
    if (value instanceof RespError) waiter.reject(value)
    else waiter.resolve(value)
  }

  private receive(chunk: Buffer): void {
    const first = !this.reached.data
    this.reached.data = true
    try {
      this.reader.feed(chunk)
    } catch (error) {
      // A TLS record (alert 0x15, handshake 0x16, then version 0x03) on a plain-text connection.
      if (first && !this.opts.tls && (chunk[0] === 0x15 || chunk[0] === 0x16) && chunk[1] === 0x03) {
        this.failure ??= new ConnectionLostError(`the broker answered in TLS: use rediss:// for port ${this.opts.port}`)
      }
      this.failure ??= new ConnectionLostError(`the broker sent what is not Redis: ${(error as Error).message}`)
      this.socket.destroy()
    }
  }
}
