import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {token} from '../helpers/brokers.js'
import {redisSpy, settle} from '../helpers/spy.js'
import {Terminal} from '../helpers/tmux.js'

const DB = 8
const prefix = `wfctl-tty-${token()}:`
const broker = ['-b', `redis://:pw-tty-secret@127.0.0.1:6379/${DB}`, '--redis-key-prefix', prefix]
let spy: Awaited<ReturnType<typeof redisSpy>>

before(async () => {
  spy = await redisSpy(DB, prefix)
})
after(async () => {
  await spy.close()
})

/** The requests of one method that the spy saw published. */
function published(method: string): {destination: string[] | null; pattern: string | null; arguments: Record<string, unknown>}[] {
  return spy.messages
    .map((m) => JSON.parse(Buffer.from(JSON.parse(m.slice(m.indexOf(' ') + 1)).body, 'base64').toString()))
    .filter((b) => b.method === method)
}

const shutdowns = () => published('shutdown')

test('on a terminal, shutdown asks first, naming the nodes and the masked broker; "no" sends nothing', async () => {
  const term = new Terminal(['control', 'shutdown', '-d', 'w1@h,w2@h', '--no-wait', ...broker])
  try {
    const screen = await term.waitFor(/\(y\/N\)/)
    assert.match(screen, /Shut down w1@h, w2@h on redis:\/\/:\*\*\*\*@127\.0\.0\.1:6379\/8\?/)
    assert.doesNotMatch(screen, /pw-tty-secret/)
    term.keys('n', 'Enter')
    const after = await term.waitFor(/EXIT=\d+/)
    assert.match(after, /not confirmed: nothing was sent/)
    assert.match(after, /EXIT=2/)
    await settle()
    assert.deepEqual(shutdowns(), [])
  } finally {
    term.close()
  }
})

test('a broadcast shutdown says ALL workers; "yes" publishes it', async () => {
  const term = new Terminal(['control', 'shutdown', '--all', '--no-wait', ...broker])
  try {
    assert.match(await term.waitFor(/\(y\/N\)/), /Shut down ALL workers on /)
    term.keys('y', 'Enter')
    const after = await term.waitFor(/EXIT=\d+/)
    assert.match(after, /shutdown sent; not verified \(--no-wait\)/)
    assert.match(after, /EXIT=0/)
    await settle()
    assert.deepEqual(shutdowns().map((b) => b.destination), [null])
  } finally {
    term.close()
    spy.messages.length = 0
  }
})

for (const how of ['Ctrl-C', 'SIGTERM'] as const) {
  test(`${how} at the confirmation leaves with exit 130 and sends nothing`, async () => {
    const term = new Terminal(['control', 'shutdown', '-d', 'w1@h', ...broker])
    try {
      await term.waitFor(/\(y\/N\)/)
      if (how === 'Ctrl-C') term.keys('C-c')
      else process.kill(term.wfctlPid(), 'SIGTERM')
      const after = await term.waitFor(/EXIT=\d+/)
      assert.match(after, /interrupted by SIG(INT|TERM)/)
      assert.match(after, /EXIT=130/)
      await settle()
      assert.deepEqual(shutdowns(), [])
    } finally {
      term.close()
    }
  })
}

test('other destructive commands ask the same way: pool-restart names the nodes; "no" sends nothing', async () => {
  const term = new Terminal(['control', 'pool-restart', '-d', 'w1@h,w2@h', ...broker])
  try {
    // The question wraps at 80 columns: read it as one line.
    const screen = (await term.waitFor(/\(y\/N\)/)).replace(/\s+/g, ' ')
    assert.match(screen, /Restart the pool of w1@h, w2@h \(running tasks are interrupted\) on redis:\/\/:\*\*\*\*@127\.0\.0\.1:6379\/8\?/)
    term.keys('n', 'Enter')
    const after = await term.waitFor(/EXIT=\d+/)
    assert.match(after, /not confirmed: nothing was sent/)
    assert.match(after, /EXIT=2/)
    await settle()
    assert.deepEqual(published('pool_restart'), [])
  } finally {
    term.close()
  }
})

test('pool-shrink to a pattern asks, naming the pattern; "yes" publishes it to the pattern', async () => {
  const term = new Terminal(['control', 'pool-shrink', '2', '--pattern', 'batch-*', '-t', '0.3', ...broker])
  try {
    assert.match((await term.waitFor(/\(y\/N\)/)).replace(/\s+/g, ' '), /Shrink the pool of every worker matching glob "batch-\*" by 2 on /)
    term.keys('y', 'Enter')
    const after = await term.waitFor(/EXIT=\d+/)
    assert.match(after, /EXIT=69/)
    await settle()
    assert.deepEqual(published('pool_shrink').map((b) => [b.pattern, b.arguments]), [['batch-*', {n: 2}]])
  } finally {
    term.close()
    spy.messages.length = 0
  }
})
