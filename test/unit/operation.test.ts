import assert from 'node:assert/strict'
import {test} from 'node:test'

import {errorReport} from '../../src/base-command.ts'
import {parseBrokerUrl} from '../../src/broker/url.ts'
import {ExitCode, UnsafeMessageError, UsageError} from '../../src/errors.ts'
import {dryRun, planRequest, planShutdown} from '../../src/fleet/operation.ts'
import {exitCodeOf} from '../../src/fleet/outcome.ts'
import type {SessionOptions} from '../../src/fleet/session.ts'
import type {NodeState, ShutdownResult} from '../../src/fleet/shutdown.ts'

// No broker is needed: a plan is made and checked before anything connects, and a dry run builds
// the message without connecting. The port is one nothing listens on, so a connect would fail.
function session(url = 'redis://:secret@127.0.0.1:1/3'): SessionOptions {
  return {url: parseBrokerUrl(url), namespace: {controlExchange: 'ops', redisKeyPrefix: ''}, connectTimeoutMs: 100}
}

test('a plan is checked before anything connects: election, an unsafe pattern and a bad method are refused', () => {
  const target = {destination: []}
  assert.throws(() => planRequest({session: session(), method: 'election', args: {}, target, timeoutMs: 1000}), UnsafeMessageError)
  assert.throws(() => planRequest({session: session(), method: 'ping', args: {}, target: {destination: [], pattern: '(a)\\2', matcher: 'pcre'}, timeoutMs: 1000}), UnsafeMessageError)
  assert.throws(() => planRequest({session: session(), method: 'no such', args: {}, target, timeoutMs: 1000}), UnsafeMessageError)
  assert.throws(() => planShutdown({session: session(), target: {destination: [], pattern: '[a-\\d]', matcher: 'pcre'}, reason: 'r', pingTimeoutMs: 1000}), UnsafeMessageError)
  const plan = planRequest({session: session(), method: 'ping', args: {}, target: {destination: ['w1@h']}, timeoutMs: 1500})
  assert.equal(plan.kind, 'request')
  assert.deepEqual(plan.target.destination, ['w1@h'])
})

test('a dry run of a request shows its reply route placeholder, the masked broker and the address, without connecting', async () => {
  const plan = planRequest({session: session(), method: 'add_consumer', args: {queue: 'q'}, target: {destination: ['w1@h']}, timeoutMs: 2000})
  const dry = await dryRun(plan)
  assert.equal(dry.dryRun, true)
  assert.doesNotMatch(dry.broker, /secret/)
  assert.match(dry.address, /ops\.pidbox/)
  assert.equal(dry.body.method, 'add_consumer')
  assert.deepEqual(dry.body.arguments, {queue: 'q'})
  assert.deepEqual(dry.body.destination, ['w1@h'])
  assert.equal(dry.body.reply_to?.exchange, 'reply.ops.pidbox')
  assert.equal(dry.body.reply_to?.routing_key, '<reply routing key>')
  assert.equal(typeof dry.body.ticket, 'string')
  // The message expires when the replies stop being awaited.
  const expires = dry.headers.expires as number
  assert.ok(expires > Date.now() / 1000 && expires < Date.now() / 1000 + 3)
})

test('a dry run of a shutdown is a cast: the reason as msg, no reply route, no ticket', async () => {
  const plan = planShutdown({session: session('amqp://u:pw@127.0.0.1:1/v'), target: {destination: [], pattern: 'celery@old-*', matcher: 'glob'}, reason: 'migration', waitMs: 5000, pingTimeoutMs: 1000})
  const dry = await dryRun(plan)
  assert.equal(dry.body.method, 'shutdown')
  assert.deepEqual(dry.body.arguments, {msg: 'migration'})
  assert.equal(dry.body.pattern, 'celery@old-*')
  assert.equal(dry.body.matcher, 'glob')
  assert.equal(dry.body.reply_to, undefined)
  assert.equal(dry.body.ticket, undefined)
  assert.doesNotMatch(dry.broker, /pw/)
  assert.match(dry.address, /exchange ops\.pidbox in vhost "v"/)
})

function shutdownResult(states: Record<string, NodeState>, over: Partial<ShutdownResult> = {}): ShutdownResult {
  const nodes = Object.fromEntries(Object.entries(states).map(([n, state]) => [n, {state, activeTasks: state === 'unknown' ? null : state === 'stopped' ? 0 : 1}]))
  const inState = (s: NodeState) => Object.keys(states).filter((n) => states[n] === s)
  return {
    method: 'shutdown', replies: {}, missing: inState('unknown'), errors: {}, duplicates: [], elapsedMs: 1,
    stopped: inState('stopped'), stopping: inState('stopping'), running: inState('running'), nodes,
    verified: Object.keys(states).length > 0 && inState('unknown').length === 0, waited: true, taskEvents: false, taskEventsNotHeard: [], ...over,
  }
}

test('the exit code of a shutdown: 0 only when every targeted node is stopped (its process gone), else 1', () => {
  assert.equal(exitCodeOf(shutdownResult({'a@h': 'stopped', 'b@h': 'stopped'})), ExitCode.ok)
  assert.equal(exitCodeOf(shutdownResult({'a@h': 'stopped', 'b@h': 'running'})), ExitCode.partial)
  // A warm shutdown accepted by a busy node: its process has not exited yet, so wfctl does not claim success.
  assert.equal(exitCodeOf(shutdownResult({'a@h': 'stopped', 'b@h': 'stopping'})), ExitCode.partial)
  assert.equal(exitCodeOf(shutdownResult({'a@h': 'stopped', 'ghost@h': 'unknown'})), ExitCode.partial)
  // Nobody to shut down was seen at all (-d ghost, --pattern 'zzz*'): nothing was verified.
  assert.equal(exitCodeOf(shutdownResult({})), ExitCode.partial)
  assert.equal(exitCodeOf(shutdownResult({'ghost@h': 'unknown'})), ExitCode.partial)
  // --no-wait: nothing to verify, the publish succeeded.
  assert.equal(exitCodeOf(shutdownResult({'a@h': 'unknown'}, {waited: false, verified: false})), ExitCode.ok)
})

test('an unexpected error is a bug, exit 70, never 1 ("partial"); known errors keep their codes', () => {
  const bug = errorReport(new TypeError("Cannot read properties of undefined (reading 'x')"))
  assert.equal(bug.code, ExitCode.software)
  assert.equal(bug.code, 70)
  assert.match(bug.message, /^internal error: .*a bug in wfctl/)
  assert.equal(errorReport(new UsageError('bad')).code, ExitCode.usage)
  assert.equal(errorReport(new UnsafeMessageError('no')).code, ExitCode.usage)
  // A password in an unexpected error's text is masked like everywhere else.
  assert.doesNotMatch(errorReport(new Error('failed on redis://:hunter2@h:6379/0')).message, /hunter2/)
})
