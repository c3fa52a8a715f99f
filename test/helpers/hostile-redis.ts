// A "Redis" on a random port of 127.0.0.1 that speaks just enough RESP to misbehave: it accepts and
// says nothing, trickles a byte a second, answers garbage, closes mid-reply, or answers BRPOP with a
// bulk string of any declared size (the reply-size cap, without a real Redis holding 70 MB).
import {randomUUID} from 'node:crypto'
import {createServer, type Server, type Socket} from 'node:net'

/** One client connection as the server sees it. */
export interface HostileConnection {
  socket: Socket
  /** Commands received on this connection, in order (each as its arguments). */
  commands: string[][]
  /** Inside MULTI: commands are answered QUEUED until EXEC. */
  inMulti: boolean
  /** onConnect took the connection over: its commands get no answer at all. */
  hijacked: boolean
  queued: number
}

/** What the server does with one command: a reply (RESP bytes), or a behaviour. */
export type Answer = string | Buffer | {silent: true} | {trickle: string | ((i: number) => string); intervalMs?: number} | {close: string | Buffer} | {bigBulk: number}

export interface HostileRedisOptions {
  /**
   * On connect, before any command: start trickling, send garbage, close, or {silent: true}. When it
   * returns an answer, the connection's commands are never answered (the default answers them).
   */
  onConnect?: (conn: HostileConnection) => Answer | undefined
  /** Decides the answer to a command; return undefined for the plain default (normalAnswer). */
  answer?: (command: string[], conn: HostileConnection, server: HostileRedis) => Answer | undefined
  /**
   * How the first BRPOP on a request's reply list is answered once that request has been PUBLISHed
   * (wfctl BRPOPs before it publishes): e.g. {bigBulk: 70_000_000}. Later BRPOPs block, as on an
   * empty list. Several clients may run at once: each request gets its own answer.
   */
  replyToBrpop?: Answer
}

export interface HostileRedis {
  port: number
  url: (db?: number) => string
  connections: HostileConnection[]
  /** Every command received on any connection, in order. */
  commands: () => string[][]
  /** The last request PUBLISHed (decoded body), once there is one. */
  published: () => {ticket?: string; reply_to?: {exchange: string; routing_key: string}; [k: string]: unknown} | undefined
  close: () => Promise<void>
}

const CRLF = '\r\n'

export function bulk(value: string | null): string {
  return value === null ? '$-1\r\n' : `$${Buffer.byteLength(value)}\r\n${value}\r\n`
}

/** What a well-behaved Redis would answer (enough for wfctl's handshake, inbox, publish and cleanup). */
export function normalAnswer(command: string[], conn: HostileConnection): Answer | undefined {
  const name = (command[0] ?? '').toUpperCase()
  if (conn.inMulti && name !== 'EXEC' && name !== 'MULTI') {
    conn.queued += 1
    return `+QUEUED${CRLF}`
  }
  switch (name) {
    case 'MULTI':
      conn.inMulti = true
      conn.queued = 0
      return `+OK${CRLF}`
    case 'EXEC': {
      conn.inMulti = false
      const n = conn.queued
      conn.queued = 0
      return `*${n}${CRLF}${':1\r\n'.repeat(n)}`
    }
    case 'SADD':
    case 'SREM':
    case 'DEL':
    case 'PUBLISH':
      return `:1${CRLF}`
    case 'RPOP':
      return `*-1${CRLF}`
    case 'BRPOP':
      return {silent: true} // blocks until a test's answer() decides otherwise
    case 'QUIT':
      return {close: `+OK${CRLF}`}
    case 'PING':
      return `+PONG${CRLF}`
    default:
      return `+OK${CRLF}`
  }
}

/**
 * A kombu reply envelope of exactly `size` bytes whose body is {node: "xxx..."}: fields in kombu's
 * order (body first, headers and properties at the end, as a reader skipping the body finds them),
 * the few bytes the base64 granularity leaves padded as JSON whitespace after "body":.
 */
export function paddedEnvelope(size: number, node: string, ticket: string | undefined, routingKey: string): Buffer {
  const make = (filler: number, pad = 0) =>
    JSON.stringify({
      body: Buffer.from(JSON.stringify({[node]: 'x'.repeat(filler)})).toString('base64'),
      'content-encoding': 'utf-8',
      'content-type': 'application/json',
      headers: ticket === undefined ? {} : {ticket},
      properties: {delivery_tag: randomUUID(), body_encoding: 'base64', delivery_info: {exchange: 'reply.celery.pidbox', routing_key: routingKey}, delivery_mode: 1, priority: 0},
    }).replace('{"body":', `{"body":${' '.repeat(pad)}`)
  const overhead = make(0).length
  if (overhead + 8 > size) throw new Error(`paddedEnvelope: ${size} bytes is too small`)
  let filler = Math.max(0, Math.floor(((size - overhead) * 3) / 4) - 6)
  while (make(filler + 3).length <= size) filler += 3
  while (make(filler).length > size) filler -= 1
  const text = make(filler, size - make(filler).length)
  if (text.length !== size) throw new Error(`paddedEnvelope: built ${text.length} bytes, not ${size}`)
  return Buffer.from(text)
}

/** Parses the client's commands (RESP arrays of bulk strings) as they arrive. */
function commandParser(onCommand: (args: string[]) => void): (chunk: Buffer) => void {
  let buffer: Buffer = Buffer.alloc(0)
  return (chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    for (;;) {
      if (buffer.length === 0) return
      if (buffer[0] !== 0x2a) {
        // An inline command ("PING\r\n").
        const end = buffer.indexOf(CRLF)
        if (end < 0) return
        onCommand(buffer.toString('utf8', 0, end).split(' ').filter(Boolean))
        buffer = buffer.subarray(end + 2)
        continue
      }
      let pos = buffer.indexOf(CRLF)
      if (pos < 0) return
      const count = Number(buffer.toString('utf8', 1, pos))
      pos += 2
      const args: string[] = []
      let complete = true
      for (let i = 0; i < count; i++) {
        const end = buffer.indexOf(CRLF, pos)
        if (end < 0) {
          complete = false
          break
        }
        const length = Number(buffer.toString('utf8', pos + 1, end))
        const start = end + 2
        if (buffer.length < start + length + 2) {
          complete = false
          break
        }
        args.push(buffer.toString('utf8', start, start + length))
        pos = start + length + 2
      }
      if (!complete) return
      buffer = buffer.subarray(pos)
      onCommand(args)
    }
  }
}

export async function startHostileRedis(opts: HostileRedisOptions = {}): Promise<HostileRedis> {
  const connections: HostileConnection[] = []
  const timers = new Set<NodeJS.Timeout>()
  let published: ReturnType<HostileRedis['published']>
  /** Requests published, by reply routing key; BRPOPs waiting for theirs; routing keys answered. */
  const requests = new Map<string, NonNullable<ReturnType<HostileRedis['published']>>>()
  const waiting = new Map<string, HostileConnection>()
  const answeredKeys = new Set<string>()
  const routingKeyOf = (listKey: string) => [...requests.keys()].find((rk) => listKey.includes(`${rk}.reply.`))

  // Big envelopes are built once (before any client connects) with placeholders for the ticket
  // and the routing key, which are UUIDs of the same length: a copy is patched for each request.
  const TICKET = 'T'.repeat(36)
  const ROUTE = 'R'.repeat(36)
  const templates = new Map<number, Buffer>()
  const template = (size: number) => {
    if (!templates.has(size)) templates.set(size, paddedEnvelope(size, 'big@hostile', TICKET, ROUTE))
    return templates.get(size)!
  }
  if (opts.replyToBrpop && typeof opts.replyToBrpop === 'object' && 'bigBulk' in opts.replyToBrpop) template(opts.replyToBrpop.bigBulk)
  const bigEnvelope = (size: number, ticket: string | undefined, routingKey: string): Buffer => {
    if (ticket?.length !== 36 || routingKey.length !== 36) return paddedEnvelope(size, 'big@hostile', ticket, routingKey)
    const copy = Buffer.from(template(size))
    copy.write(ticket, copy.lastIndexOf(TICKET))
    copy.write(routingKey, copy.lastIndexOf(ROUTE))
    return copy
  }

  const perform = (conn: HostileConnection, answer: Answer) => {
    const {socket} = conn
    if (socket.destroyed) return
    if (typeof answer === 'string' || Buffer.isBuffer(answer)) {
      socket.write(answer)
      return
    }
    if ('silent' in answer) return
    if ('close' in answer) {
      socket.end(answer.close)
      return
    }
    if ('trickle' in answer) {
      const next = typeof answer.trickle === 'string' ? ((s: string) => (i: number) => s[i % s.length])(answer.trickle) : answer.trickle
      let i = 0
      const timer = setInterval(() => {
        if (socket.destroyed) {
          clearInterval(timer)
          timers.delete(timer)
          return
        }
        socket.write(next(i++))
      }, answer.intervalMs ?? 1000)
      timers.add(timer)
      socket.once('close', () => {
        clearInterval(timer)
        timers.delete(timer)
      })
      return
    }
    if ('bigBulk' in answer) {
      // BRPOP's reply: [key, envelope], the envelope declared at its full size and streamed.
      const key = conn.commands.at(-1)?.[1] ?? 'reply'
      const rk = routingKeyOf(key)
      const request = rk === undefined ? published : requests.get(rk)
      const envelope = bigEnvelope(answer.bigBulk, request?.ticket, request?.reply_to?.routing_key ?? '')
      socket.write(`*2${CRLF}${bulk(key)}$${envelope.length}${CRLF}`)
      let offset = 0
      const pump = () => {
        while (offset < envelope.length && !socket.destroyed) {
          const end = Math.min(envelope.length, offset + (1 << 20))
          const more = socket.write(envelope.subarray(offset, end))
          offset = end
          if (offset >= envelope.length) socket.write(CRLF)
          if (!more) return void socket.once('drain', pump)
        }
      }
      pump()
    }
  }

  const server: Server = createServer((socket) => {
    const conn: HostileConnection = {socket, commands: [], inMulti: false, queued: 0, hijacked: false}
    connections.push(conn)
    socket.on('error', () => {})
    const first = opts.onConnect?.(conn)
    if (first) {
      conn.hijacked = true
      perform(conn, first)
    }
    socket.on('data', commandParser((command) => {
      conn.commands.push(command)
      if (conn.hijacked) return
      const name = (command[0] ?? '').toUpperCase()
      let publishedKey: string | undefined
      if (name === 'PUBLISH' && command[2]) {
        try {
          const env = JSON.parse(command[2])
          published = JSON.parse(Buffer.from(env.body, 'base64').toString('utf8'))
          publishedKey = published?.reply_to?.routing_key
          if (publishedKey !== undefined) requests.set(publishedKey, published!)
        } catch {}
      }
      if (opts.replyToBrpop && name === 'BRPOP') {
        const rk = routingKeyOf(command[1] ?? '')
        if (rk === undefined) waiting.set(command[1] ?? '', conn)
        else if (!answeredKeys.has(rk)) {
          answeredKeys.add(rk)
          perform(conn, opts.replyToBrpop)
        }
        return // an answered list is empty from now on: BRPOP blocks
      }
      const answer = opts.answer?.(command, conn, api) ?? normalAnswer(command, conn)
      if (answer) perform(conn, answer)
      if (opts.replyToBrpop && publishedKey !== undefined) {
        for (const [listKey, waiter] of waiting) {
          if (!listKey.includes(`${publishedKey}.reply.`) || answeredKeys.has(publishedKey)) continue
          waiting.delete(listKey)
          answeredKeys.add(publishedKey)
          perform(waiter, opts.replyToBrpop)
        }
      }
    }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  const api: HostileRedis = {
    port,
    url: (db = 0) => `redis://127.0.0.1:${port}/${db}`,
    connections,
    commands: () => connections.flatMap((c) => c.commands),
    published: () => published,
    close: async () => {
      for (const timer of timers) clearInterval(timer)
      for (const c of connections) c.socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  return api
}

/** The handshake's commands: answered normally even by servers that misbehave afterwards. */
export function isHandshake(command: string[]): boolean {
  return ['AUTH', 'SELECT', 'CLIENT', 'HELLO', 'PING'].includes((command[0] ?? '').toUpperCase())
}
