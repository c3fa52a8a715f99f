// Bounds: absurd timeouts, rosters that are not rosters, names with control characters — refused
// with exit 2 before anything is published — and brokers that trickle, babble or hang up: exit 3,
// one line, and the process ends.
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'

import {redisUrl, token} from '../helpers/brokers.js'
import {runWfctl, type CliRun} from '../helpers/cli.js'
import {redisSpy, settle} from '../helpers/spy.js'
import {isHandshake, startHostileRedis, type HostileRedis, type HostileRedisOptions} from '../helpers/hostile-redis.js'
import {startHostileAmqp, type AmqpBehaviour, type HostileAmqp} from '../helpers/hostile-amqp.js'
import {assertShortError, HOSTILE_DB, inBatches, show} from './support.js'

const DB = HOSTILE_DB

describe('bounds: refused with exit 2, one line, nothing published', {concurrency: 4}, () => {
  const prefix = `wfctl-hostile-bounds-${token()}:`
  let spy: Awaited<ReturnType<typeof redisSpy>>

  before(async () => {
    spy = await redisSpy(DB, prefix)
  })
  after(async () => {
    await spy.close()
  })

  /** Runs wfctl in a namespace of its own (its own control exchange), then proves it published nothing there. */
  async function refused(args: string[], timeoutMs = 30_000): Promise<CliRun> {
    const exchange = `hb${token()}`
    const run = await runWfctl([...args, '-b', redisUrl(DB), '--redis-key-prefix', prefix, '--control-exchange', exchange], {timeoutMs})
    await settle(200)
    const published = spy.messages.filter((m) => m.startsWith(`${prefix}/${DB}.${exchange}.pidbox `))
    assert.equal(run.code, 2, `${published.length} message(s) published\n${show(run)}`)
    assertShortError(run, 1)
    assert.deepEqual(published, [], `published:\n${show(run)}`)
    return run
  }

  const cases: [string, string[]][] = [
    ['-t 1e10 (beyond any timer)', ['control', 'ping', '-t', '1e10']],
    ['-t 2592000 (30 days)', ['control', 'ping', '-t', '2592000']],
    ['--connect-timeout 1e10', ['control', 'ping', '--connect-timeout', '1e10']],
    ['--expect -1', ['control', 'ping', '--expect', '-1']],
    ['--expect 0', ['control', 'ping', '--expect', '0']],
    ['-d with a control character in the node name', ['control', 'ping', '-d', 'w1\x01@h']],
    ['add-consumer with an escape sequence in the queue name', ['control', 'add-consumer', 'q\x1b[2J']],
  ]
  for (const [name, args] of cases) {
    it(name, async () => {
      const run = await refused(args)
      assert.doesNotMatch(run.stderr, /\x1b|\x01/, `the control character is echoed raw:\n${JSON.stringify(run.stderr)}`)
    })
  }

  it('--expect @/dev/zero is refused promptly (overall deadline 10 s)', async () => {
    await refused(['control', 'ping', '--expect', '@/dev/zero'], 10_000)
  })

  it('--expect @/etc/shadow is refused, and no line of it is shown', async () => {
    assert.ok(existsSync('/etc/shadow'), '/etc/shadow is missing on this machine')
    let lines: string[] = []
    try {
      lines = readFileSync('/etc/shadow', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '')
    } catch {}
    const run = await refused(['control', 'ping', '--expect', '@/etc/shadow', '-t', '1'])
    const out = run.stdout + run.stderr
    assert.ok(!out.includes('root:'), `shadow content shown:\n${show(run)}`)
    for (const line of lines) assert.ok(!out.includes(line), `a line of /etc/shadow is shown:\n${show(run)}`)
    for (const user of lines.map((l) => l.split(':')[0]).filter((u) => u.length >= 4)) {
      assert.ok(!out.includes(`${user}:`), `an entry of /etc/shadow (${user}:...) is shown:\n${show(run)}`)
    }
  })
})

describe('hostile brokers: exit 3, one line, the process ends (overall 15 s)', {concurrency: 4}, () => {
  const redisServers: HostileRedis[] = []
  const amqpServers: HostileAmqp[] = []
  after(async () => {
    await Promise.allSettled([...redisServers.map((s) => s.close()), ...amqpServers.map((s) => s.close())])
  })

  const endless = (i: number) => (i === 0 ? '+' : 'O')
  const redisCases: [string, HostileRedisOptions, number][] = [
    ['a Redis that trickles one byte a second from the start', {onConnect: () => ({trickle: endless})}, 1],
    ['a Redis that trickles an endless bulk-string header', {onConnect: () => ({trickle: (i) => (i === 0 ? '$' : '9')})}, 1],
    [
      'a Redis that answers the handshake, then trickles one byte a second to every other command',
      {answer: (cmd) => (isHandshake(cmd) ? undefined : {trickle: (i: number) => (i === 0 ? ':' : '1')})},
      2,
    ],
    ['a Redis that accepts and says nothing', {onConnect: () => ({silent: true})}, 1],
    ['a Redis that answers garbage', {onConnect: () => '\x00\xffHTTP/1.1 400 Bad Request\r\n\r\n'}, 1],
    ['a Redis that closes at once', {onConnect: () => ({close: ''})}, 1],
    ['a Redis that closes in the middle of the BRPOP reply', {replyToBrpop: {close: '*2\r\n$5\r\nreply\r\n$1000\r\n{"body": "eyJ'}}, 2],
  ]
  for (const [name, options, maxLines] of redisCases) {
    it(name, async () => {
      const server = await startHostileRedis(options)
      redisServers.push(server)
      const runs = await inBatches([[], ['--json']], 2, (extra: string[]) =>
        runWfctl(['control', 'ping', '-b', server.url(0), '--connect-timeout', '2', '-t', '2', ...extra], {timeoutMs: 15_000}))
      for (const run of runs) {
        assert.equal(run.signal, null, `still running after 15 s:\n${show(run)}`)
        assert.equal(run.code, 3, show(run))
      }
      assertShortError(runs[0], maxLines)
      assert.doesNotMatch(runs[0].stderr, /\x00|\x1b/, 'broker bytes echoed raw')
    })
  }

  const amqpCases: AmqpBehaviour[] = ['trickle', 'silent', 'garbage', 'close']
  for (const behaviour of amqpCases) {
    it(`an AMQP broker that is ${behaviour === 'trickle' ? 'trickling a Connection.Start frame one byte a second' : behaviour === 'close' ? 'closing at once' : behaviour === 'garbage' ? 'answering garbage' : 'silent'}`, async () => {
      const server = await startHostileAmqp(behaviour)
      amqpServers.push(server)
      const runs = await inBatches([[], ['--json']], 2, (extra: string[]) =>
        runWfctl(['control', 'ping', '-b', server.url(), '--connect-timeout', '2', '-t', '2', ...extra], {timeoutMs: 15_000}))
      for (const run of runs) {
        assert.equal(run.signal, null, `still running after 15 s:\n${show(run)}`)
        assert.equal(run.code, 3, show(run))
      }
      assertShortError(runs[0], 1)
    })
  }
})
