// The RESP client against a scripted server on loopback: replies of every type, split at every
// byte boundary, error replies, the handshake, timeouts and a server that hangs up.
import assert from 'node:assert/strict'
import {createServer, type AddressInfo, type Server, type Socket} from 'node:net'
import {after, before, test} from 'node:test'

import {OversizedBulk, RespConnection, RespError, RespReader, type Reply} from '../../src/broker/resp.ts'
import {ConnectionLostError} from '../../src/errors.ts'

/** Answers each command (a RESP array) from `script`, writing the answer one byte at a time. */
let server: Server
let port = 0
const seen: string[][] = []
const sockets = new Set<Socket>()
let script: (args: string[]) => string | undefined = () => '+OK\r\n'

function commands(buffer: string): {args: string[][]; rest: string} {
  const out: string[][] = []
  let rest = buffer
  for (;;) {
    const m = /^\*(\d+)\r\n/.exec(rest)
    if (!m) break
    let pos = m[0].length
    const args: string[] = []
    let complete = true
    for (let i = 0; i < Number(m[1]); i++) {
      const h = /^\$(\d+)\r\n/.exec(rest.slice(pos))
      if (!h || rest.length < pos + h[0].length + Number(h[1]) + 2) {
        complete = false
        break
      }
      pos += h[0].length
      args.push(rest.slice(pos, pos + Number(h[1])))
      pos += Number(h[1]) + 2
    }
    if (!complete) break
    out.push(args)
    rest = rest.slice(pos)
  }
  return {args: out, rest}
}

before(async () => {
  server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    // The client under test may reset the connection while this server still writes (a deadline,
    // a destroyed connection): that is its right, not a failure of the test.
    socket.on('error', () => {})
    let buffer = ''
    socket.on('data', async (d) => {
      const parsed = commands(buffer + d.toString('utf8'))
      buffer = parsed.rest
      for (const args of parsed.args) {
        seen.push(args)
        const answer = script(args)
        if (answer === undefined) continue
        for (const byte of Buffer.from(answer)) {
          if (socket.destroyed) return
          socket.write(Buffer.from([byte]))
          await new Promise((r) => setImmediate(r))
        }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
after(async () => {
  for (const s of sockets) s.destroy()
  await new Promise((resolve) => server.close(resolve))
})

const opts = {host: '127.0.0.1', db: 0}

test('every reply type, split at every byte, and an error reply as RespError', async () => {
  script = (args) =>
    ({
      ECHO: '$4\r\nhé!\r\n', // 4 bytes: é is two
      NIL: '$-1\r\n',
      NUM: ':42\r\n',
      ARR: '*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n*-1\r\n',
      EMPTY: '*0\r\n',
      FAIL: '-ERR wrong number of arguments for \'rpop\' command\r\n',
    })[args[0]] ?? '+OK\r\n'
  const c = await RespConnection.open({...opts, port})
  try {
    assert.equal(await c.call('ECHO'), 'hé!')
    assert.equal(await c.call('NIL'), null)
    assert.equal(await c.call('NUM'), 42)
    assert.deepEqual(await c.call('ARR'), ['a', [1, null], null])
    assert.deepEqual(await c.call('EMPTY'), [])
    await assert.rejects(c.call('FAIL'), (e: Error) => e instanceof RespError && /wrong number of arguments/.test(e.message))
    // Pipelined: replies are matched to commands in order.
    assert.deepEqual(await Promise.all([c.call('NUM'), c.call('ECHO'), c.call('NIL')]), [42, 'hé!', null])
  } finally {
    c.destroy()
  }
})

test('the handshake authenticates, selects the database and names the connection; arguments are binary-safe', async () => {
  seen.length = 0
  script = () => '+OK\r\n'
  const c = await RespConnection.open({...opts, port, username: 'ops', password: 'p w\r\n', db: 3, name: 'wfctl'})
  await c.call('SADD', 'k', 'a\x06\x16b')
  c.destroy()
  assert.deepEqual(seen, [['AUTH', 'ops', 'p w\r\n'], ['SELECT', '3'], ['CLIENT', 'SETNAME', 'wfctl'], ['SADD', 'k', 'a\x06\x16b']])
})

test('a refused password fails the open; a password on a server without one does not', async () => {
  script = (args) => (args[0] === 'AUTH' ? '-WRONGPASS invalid username-password pair or user is disabled.\r\n' : '+OK\r\n')
  await assert.rejects(RespConnection.open({...opts, port, password: 'x'}), /WRONGPASS/)
  script = (args) => (args[0] === 'AUTH' ? '-ERR AUTH <password> called without any password configured for the default user.\r\n' : '+OK\r\n')
  const c = await RespConnection.open({...opts, port, password: 'x'})
  assert.equal(c.status, 'ready')
  c.destroy()
})

test('a command unanswered within the command timeout ends the connection and rejects', {timeout: 30_000}, async () => {
  script = (args) => (args[0] === 'HANG' ? undefined : '+OK\r\n')
  const c = await RespConnection.open({...opts, port, commandTimeoutMs: 100})
  await assert.rejects(c.call('HANG'), /did not answer within 100 ms/)
  assert.equal(c.status, 'closed')
  await assert.rejects(c.call('PING'), /did not answer|closed/)
})

test('a server that hangs up rejects what is pending with a ConnectionLostError', async () => {
  script = (args) => {
    if (args[0] === 'BYE') for (const s of sockets) s.destroy()
    return args[0] === 'BYE' ? undefined : '+OK\r\n'
  }
  const c = await RespConnection.open({...opts, port})
  await assert.rejects(c.call('BYE'), (e: Error) => e instanceof ConnectionLostError && /closed the connection/.test(e.message))
})

test('nothing listening: the open fails with ECONNREFUSED', async () => {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const free = (probe.address() as AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  await assert.rejects(RespConnection.open({...opts, port: free}), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED')
})

test('a server that trickles its answer gets no more time than one that is silent: the deadline is per command', async () => {
  script = (args) => (args[0] === 'SLOW' ? '$40\r\n' + 'x'.repeat(40) + '\r\n' : '+OK\r\n')
  // The scripted server writes one byte per event-loop turn; slow it to one byte per 20 ms.
  const slow = script
  script = (args) => {
    if (args[0] !== 'SLOW') return slow(args)
    const socket = [...sockets].at(-1)!
    const bytes = Buffer.from(slow(args)!)
    let i = 0
    const timer = setInterval(() => {
      if (socket.destroyed || i >= bytes.length) return clearInterval(timer)
      socket.write(bytes.subarray(i, i + 1))
      i += 1
    }, 20)
    return undefined
  }
  const c = await RespConnection.open({...opts, port, commandTimeoutMs: 200})
  await assert.rejects(c.call('SLOW'), /did not answer within 200 ms/)
  assert.equal(c.status, 'closed')
})

test('a user who may not name connections (CLIENT refused by an ACL) still gets a ready connection', async () => {
  script = (args) => (args[0] === 'CLIENT' ? "-NOPERM User limited has no permissions to run the 'client|setname' command\r\n" : '+OK\r\n')
  const c = await RespConnection.open({...opts, port, name: 'wfctl'})
  assert.equal(c.status, 'ready')
  assert.equal(await c.call('PING'), 'OK')
  c.destroy()
})

function readAll(input: Buffer, chunk: number, maxBulkBytes?: number): (Reply | RespError)[] {
  const out: (Reply | RespError)[] = []
  const reader = new RespReader((v) => out.push(v), maxBulkBytes)
  for (let i = 0; i < input.length; i += chunk) reader.feed(input.subarray(i, i + chunk))
  return out
}

test('the reader: every split of a pipelined stream gives the same replies', () => {
  const stream = Buffer.from('+OK\r\n$4\r\nh\xc3\xa9!\r\n*2\r\n$3\r\nkey\r\n*1\r\n:7\r\n$0\r\n\r\n-ERR no\r\n*0\r\n$-1\r\n', 'latin1')
  const whole = readAll(stream, stream.length)
  assert.equal(whole.length, 7)
  for (let chunk = 1; chunk < stream.length; chunk++) assert.deepEqual(readAll(stream, chunk), whole)
  assert.deepEqual(whole.slice(0, 4), ['OK', 'hé!', ['key', [7]], ''])
  assert.ok(whole[4] instanceof RespError)
})

test('the reader: a 50 MB bulk string in small chunks arrives whole', () => {
  const size = 50 * 1000 * 1000
  const body = Buffer.alloc(size, 0x61)
  body[0] = 0x7b
  body[size - 1] = 0x7d
  const input = Buffer.concat([Buffer.from(`*2\r\n$1\r\nk\r\n$${size}\r\n`), body, Buffer.from('\r\n')])
  const [reply] = readAll(input, 65536) as [string, string][]
  assert.equal(reply[0], 'k')
  assert.equal(reply[1].length, size)
  assert.ok(reply[1].startsWith('{a') && reply[1].endsWith('a}'))
})

test('the reader: a bulk string over the limit is dropped, keeping its ends, and the stream goes on', () => {
  const body = Buffer.concat([Buffer.from('HEAD'), Buffer.alloc(300_000, 0x2e), Buffer.from('TAIL')])
  const input = Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n:5\r\n')])
  for (const chunk of [1000, 65536, input.length]) {
    const [big, next] = readAll(input, chunk, 100_000)
    assert.ok(big instanceof OversizedBulk)
    assert.equal(big.length, body.length)
    assert.ok(big.head.startsWith('HEAD') && big.tail.endsWith('TAIL'))
    assert.ok(big.head.length <= 65536 && big.tail.length <= 65536)
    assert.equal(next, 5)
  }
})

test('the reader: bytes that are not RESP are refused, not guessed at', () => {
  for (const bad of ['?what\r\n', '$abc\r\n', '$3\r\nabcXY', ':1x\r\n', '+no newline' + 'x'.repeat(70_000)]) {
    assert.throws(() => readAll(Buffer.from(bad), 7), Error, bad.slice(0, 20))
  }
})
