import {connect as netConnect, type Socket} from 'node:net'
import {connect as tlsConnect} from 'node:tls'

/*
 * A minimal Redis client (RESP2) for what a short-lived probe does: connect, authenticate, select,
 * a handful of commands, BRPOP. Loading it costs a millisecond where a full client library costs
 * tens (start-up is the product for a probe). Long-running users (the simulated fleet) keep ioredis.
 */

export type Reply = string | number | null | Reply[]

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
  tls?: {servername: string; rejectUnauthorized: boolean}
  username?: string
  password?: string
  db: number
  /** Sent as CLIENT SETNAME, so operators can tell wfctl's connections apart. */
  name?: string
  /** A command unanswered for this long ends the connection (not for blocking commands). */
  commandTimeoutMs?: number
}

interface Pending {
  resolve: (reply: Reply) => void
  reject: (error: Error) => void
}

const CRLF = Buffer.from('\r\n')

/** One argument as RESP writes it. */
function encode(args: (string | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const value = Buffer.from(String(arg), 'utf8')
    parts.push(Buffer.from(`$${value.length}\r\n`), value, CRLF)
  }
  return Buffer.concat(parts)
}

/** Parses one reply at `pos`; undefined when the buffer does not hold all of it yet. */
function parse(buf: Buffer, pos: number): {value: Reply | RespError; next: number} | undefined {
  const end = buf.indexOf(CRLF, pos)
  if (end < 0) return undefined
  const line = buf.toString('utf8', pos + 1, end)
  switch (buf[pos]) {
    case 0x2b: // + simple string
      return {value: line, next: end + 2}
    case 0x2d: // - error
      return {value: new RespError(line), next: end + 2}
    case 0x3a: // : integer
      return {value: Number(line), next: end + 2}
    case 0x24: {
      // $ bulk string
      const length = Number(line)
      if (length < 0) return {value: null, next: end + 2}
      const start = end + 2
      if (buf.length < start + length + 2) return undefined
      return {value: buf.toString('utf8', start, start + length), next: start + length + 2}
    }
    case 0x2a: {
      // * array
      const count = Number(line)
      if (count < 0) return {value: null, next: end + 2}
      const items: Reply[] = []
      let next = end + 2
      for (let i = 0; i < count; i++) {
        const item = parse(buf, next)
        if (!item) return undefined
        // An error inside an array (EXEC) is kept as its message.
        items.push(item.value instanceof RespError ? item.value.message : item.value)
        next = item.next
      }
      return {value: items, next}
    }
    default:
      throw new Error(`unexpected byte 0x${buf[pos].toString(16)} in a Redis reply`)
  }
}

export class RespConnection {
  status: 'connecting' | 'ready' | 'closed' = 'connecting'
  private readonly socket: Socket
  private readonly pending: Pending[] = []
  private buffer: Buffer = Buffer.alloc(0)
  private failure?: Error
  private timer?: NodeJS.Timeout
  private readonly closed: Promise<void>

  private constructor(private readonly opts: RespOptions) {
    const target = {host: opts.host, port: opts.port}
    this.socket = opts.tls ? tlsConnect({...target, ...opts.tls}) : netConnect(target)
    this.socket.setNoDelay(true)
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk))
    this.socket.on('error', (error) => {
      this.failure ??= error
    })
    this.closed = new Promise((resolve) => this.socket.once('close', () => {
      this.status = 'closed'
      clearTimeout(this.timer)
      const error = this.failure ?? new Error('Connection is closed.')
      for (const p of this.pending.splice(0)) p.reject(error)
      resolve()
    }))
  }

  /**
   * Connects, authenticates, selects the database and names the connection. The caller bounds it
   * with its connect timeout and calls destroy() when that runs out.
   */
  static async open(opts: RespOptions, created?: (connection: RespConnection) => void): Promise<RespConnection> {
    const connection = new RespConnection(opts)
    created?.(connection)
    await new Promise<void>((resolve, reject) => {
      connection.socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve())
      void connection.closed.then(() => reject(connection.failure ?? new Error('Connection is closed.')))
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
    if (opts.name) handshake.push(connection.call('CLIENT', 'SETNAME', opts.name))
    try {
      await Promise.all(handshake)
    } catch (error) {
      connection.destroy()
      throw error
    }
    connection.status = 'ready'
    return connection
  }

  /** A second connection with the same options (and, for BRPOP, no command timeout). */
  duplicate(over: Partial<RespOptions> = {}, created?: (connection: RespConnection) => void): Promise<RespConnection> {
    return RespConnection.open({...this.opts, ...over}, created)
  }

  /** Sends one command; resolves with its reply, rejects with a RespError for an error reply. */
  call(...args: (string | number)[]): Promise<Reply> {
    if (this.status === 'closed' || this.socket.destroyed) return Promise.reject(this.failure ?? new Error('Connection is closed.'))
    return new Promise((resolve, reject) => {
      this.pending.push({resolve, reject})
      this.socket.write(encode(args))
      this.arm()
    })
  }

  /** MULTI ... EXEC in one round trip. */
  async transaction(commands: (string | number)[][]): Promise<Reply> {
    const replies = [this.call('MULTI'), ...commands.map((c) => this.call(...c)), this.call('EXEC')]
    return (await Promise.all(replies)).at(-1) ?? null
  }

  /** QUIT and wait for the server to close, or destroy after `ms`. */
  async quit(ms: number): Promise<void> {
    if (this.status === 'closed') return
    const timer = setTimeout(() => this.destroy(), ms)
    this.call('QUIT').catch(() => {})
    await this.closed
    clearTimeout(timer)
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Restarts the command timer while replies are outstanding. */
  private arm(): void {
    const ms = this.opts.commandTimeoutMs
    if (!ms) return
    clearTimeout(this.timer)
    if (this.pending.length === 0) return
    this.timer = setTimeout(() => {
      this.failure ??= new Error(`Command timed out after ${ms} ms`)
      this.socket.destroy()
    }, ms)
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    let pos = 0
    try {
      while (pos < this.buffer.length) {
        const parsed = parse(this.buffer, pos)
        if (!parsed) break
        pos = parsed.next
        const waiter = this.pending.shift()
        if (!waiter) continue
        if (parsed.value instanceof RespError) waiter.reject(parsed.value)
        else waiter.resolve(parsed.value)
      }
    } catch (error) {
      this.failure ??= error as Error
      this.socket.destroy()
      return
    }
    this.buffer = pos >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(pos)
    this.arm()
  }
}
