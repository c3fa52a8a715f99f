import assert from 'node:assert/strict'
import {test} from 'node:test'

import ControlAddConsumer from '../../src/commands/control/add-consumer.ts'
import ControlPing from '../../src/commands/control/ping.ts'
import ControlShutdown from '../../src/commands/control/shutdown.ts'
import Status from '../../src/commands/status.ts'
import {redisUrl, token} from '../helpers/brokers.js'
import {runInProcess} from '../helpers/in-process.js'
import {redisSpy} from '../helpers/spy.js'

const DB = 8
const prefix = `wfctl-cmd-${token()}:`
const broker = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]

test('control ping returns the typed fleet result; exit 69 at once when nobody listens', async () => {
  const run = await runInProcess<{method: string; replies: object; listeners: number; elapsedMs: number}>(ControlPing, ['--json', '-t', '60', ...broker])
  assert.equal(run.result?.method, 'ping')
  assert.deepEqual(run.result?.replies, {})
  assert.equal(run.result?.listeners, 0)
  // Not a speed check: a ping that waited would take the whole minute.
  assert.ok(run.result!.elapsedMs < 30_000, `waited ${run.result!.elapsedMs} ms with nobody listening`)
  assert.equal(run.exitCode, 69)
  assert.deepEqual(JSON.parse(run.stdout), run.result)
})

test('with a listener but no worker, ping waits its timeout and names the silent destination', async () => {
  const spy = await redisSpy(DB, prefix)
  try {
    const run = await runInProcess<{missing: string[]; elapsedMs: number; expected: number}>(ControlPing, ['-d', 'ghost@h', '-t', '0.3', ...broker])
    assert.deepEqual(run.result?.missing, ['ghost@h'])
    assert.equal(run.result?.expected, 1)
    assert.ok(run.result!.elapsedMs >= 250)
    assert.equal(run.exitCode, 69)
    assert.match(run.stdout, /ghost@h\s+missing/)
    assert.match(run.stdout, /0 nodes replied, 1 missing: ghost@h/)
    assert.equal(spy.messages.length, 1)
    const envelope = JSON.parse(spy.messages[0].slice(spy.messages[0].indexOf(' ') + 1))
    const body = JSON.parse(Buffer.from(envelope.body, 'base64').toString())
    assert.deepEqual(body.destination, ['ghost@h'])
    assert.equal(body.method, 'ping')
  } finally {
    await spy.close()
  }
})

test('status with an expected roster reports who is missing', async () => {
  const spy = await redisSpy(DB, prefix)
  try {
    const run = await runInProcess<{missing: string[]}>(Status, ['--expect', 'a@h,b@h', '-t', '0.2', ...broker])
    assert.deepEqual(run.result?.missing, ['a@h', 'b@h'])
    // The spy is subscribed to the channel: a mailbox that heard the ping and never replied.
    assert.match(run.stdout, /0 nodes online, 2 missing: a@h, b@h, 1 mailbox heard the ping, 0 replied\./)
  } finally {
    await spy.close()
  }
})

test('add-consumer --dry-run returns the request it would send, with the arguments Celery expects', async () => {
  const run = await runInProcess<{body: {method: string; arguments: object}}>(ControlAddConsumer, ['q1', '--exchange', 'ex1', '--exchange-type', 'topic', '--routing-key', 'rk.#', '--dry-run', ...broker])
  assert.equal(run.result?.body.method, 'add_consumer')
  assert.deepEqual(run.result?.body.arguments, {queue: 'q1', exchange: 'ex1', exchange_type: 'topic', routing_key: 'rk.#'})
  assert.match(run.stdout, /dry run: nothing was sent/)
})

test('shutdown --dry-run is a cast: no ticket, no reply_to, the reason as msg', async () => {
  const run = await runInProcess<{body: Record<string, unknown>}>(ControlShutdown, ['-d', 'a@h,b@h', '--reason', 'patching', '--dry-run', ...broker])
  assert.deepEqual(run.result?.body, {method: 'shutdown', arguments: {msg: 'patching'}, destination: ['a@h', 'b@h'], pattern: null, matcher: null})
  assert.equal(run.exitCode, undefined)
})

test('a usage error carries exit 2 in the JSON error object', async () => {
  const run = await runInProcess(ControlShutdown, ['--json', ...broker])
  assert.equal(run.exitCode, 2)
  assert.deepEqual(JSON.parse(run.stdout), {error: {message: 'shutdown would reach every worker: pass --all, or address nodes with -d or --pattern', code: 2}})
})
