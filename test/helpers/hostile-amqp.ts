// An "AMQP broker" on a random port of 127.0.0.1 that misbehaves: silent after accepting, trickling
// the bytes of a plausible Connection.Start frame one a second, answering garbage, or closing at once.
import {createServer, type Server, type Socket} from 'node:net'

export type AmqpBehaviour = 'silent' | 'trickle' | 'garbage' | 'close'

export interface HostileAmqp {
  port: number
  url: (vhost?: string, auth?: string) => string
  /** How many connections were accepted. */
  accepted: () => number
  /** Bytes each connection sent (the protocol header, at least, for a real AMQP client). */
  received: () => Buffer[]
  close: () => Promise<void>
}

function shortstr(s: string): Buffer {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length]), b])
}

function longstr(s: string | Buffer): Buffer {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(b.length)
  return Buffer.concat([len, b])
}

/**
 * A Connection.Start method frame (class 10, method 10) as RabbitMQ sends it, with a server-properties
 * table padded so that trickling it one byte a second never ends within a test.
 */
export function connectionStartFrame(padding = 4096): Buffer {
  const entries: [string, string][] = [
    ['product', 'RabbitMQ'],
    ['version', '3.10.8'],
    ['platform', 'Erlang/OTP 25'],
    ['information', 'Licensed under the MPL 2.0'.padEnd(padding, '.')],
  ]
  const table = Buffer.concat(entries.map(([k, v]) => Buffer.concat([shortstr(k), Buffer.from('S'), longstr(v)])))
  const payload = Buffer.concat([
    Buffer.from([0, 10, 0, 10]), // class 10 (connection), method 10 (start)
    Buffer.from([0, 9]), // version 0-9
    longstr(table),
    longstr('PLAIN AMQPLAIN'),
    longstr('en_US'),
  ])
  const header = Buffer.alloc(7)
  header.writeUInt8(1, 0) // method frame
  header.writeUInt16BE(0, 1) // channel 0
  header.writeUInt32BE(payload.length, 3)
  return Buffer.concat([header, payload, Buffer.from([0xce])])
}

export async function startHostileAmqp(behaviour: AmqpBehaviour, opts: {intervalMs?: number} = {}): Promise<HostileAmqp> {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const received: Buffer[] = []
  let accepted = 0
  const frame = connectionStartFrame()
  const server: Server = createServer((socket) => {
    accepted += 1
    sockets.add(socket)
    const index = received.push(Buffer.alloc(0)) - 1
    socket.on('data', (d) => (received[index] = Buffer.concat([received[index], d])))
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    if (behaviour === 'close') return void socket.destroy()
    if (behaviour === 'garbage') {
      socket.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n\x00\xff\xfe garbage \x01\x02\x03')
      return
    }
    if (behaviour === 'trickle') {
      let i = 0
      const timer = setInterval(() => {
        if (socket.destroyed) return
        socket.write(frame.subarray(i % frame.length, (i % frame.length) + 1))
        i += 1
      }, opts.intervalMs ?? 1000)
      timers.add(timer)
      socket.on('close', () => {
        clearInterval(timer)
        timers.delete(timer)
      })
    }
    // silent: accept and say nothing, ever
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  return {
    port,
    url: (vhost = '/', auth = 'guest:guest') => `amqp://${auth}@127.0.0.1:${port}/${vhost === '/' ? '/' : encodeURIComponent(vhost)}`,
    accepted: () => accepted,
    received: () => received,
    close: async () => {
      for (const timer of timers) clearInterval(timer)
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
