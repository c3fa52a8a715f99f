// The audit log as an operator meets it: wfctl (bin/run.js) against simulated workers (`wfctl
// simulate`) on the real Redis. A change appends exactly one line with its fields; reads, dry runs
// and refused requests append none; WFCTL_AUDIT_LOG=off writes nothing; a password in -b never
// reaches the log; an unwritable log is one warning and leaves the exit code alone.
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {deleteKeysWithPrefix, redisClient, redisUrl, token} from '../helpers/brokers.js'
import {runWfctl, spawnWfctl, type LiveRun} from '../helpers/cli.js'
import {waitFor} from '../helpers/poll.js'
import {HOSTILE_URLS} from '../helpers/hostile-urls.js'

const DB = 3
const prefix = `wfctl-audit-${token()}:`
const host = `audit${token()}`
const node = (n: number) => `aud${n}@${host}`
const BROKER = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]
const dir = mkdtempSync(join(tmpdir(), 'wfctl-audit-e2e-'))
const redis = redisClient(DB)
let sim: LiveRun

/** A log path of the test's own, and its lines parsed. */
let logs = 0
function newLog(): {path: string; lines: () => any[]} {
  const path = join(dir, `log-${++logs}`, 'audit.log')
  return {path, lines: () => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [])}
}

function wf(args: string[], env: Record<string, string>) {
  return runWfctl([...args, ...BROKER], {env})
}

before(async () => {
  sim = spawnWfctl(['simulate', '-n', '4', '--name-prefix', 'aud', '--hostname', host, '--heartbeat', '30', ...BROKER], {timeoutMs: 300_000})
  assert.ok(await waitFor(() => /simulated workers/.test(sim.stderr()) || !sim.running(), 30_000), `simulate not up: ${sim.stderr()}`)
  assert.ok(sim.running(), `simulate exited: ${sim.stderr()}`)
})

after(async () => {
  sim.kill('SIGINT')
  await sim.done
  await deleteKeysWithPrefix(redis, prefix)
  redis.disconnect()
  rmSync(dir, {recursive: true, force: true})
})

describe('audit log', () => {
  test('a change appends exactly one line: time, user@host, command, broker, targets, method, arguments, each node, exit code, reason', async () => {
    const log = newLog()
    const run = await wf(['control', 'add-consumer', 'reports', '-d', `${node(1)},ghost@${host}`, '--reason', 'OPS-42 more capacity'], {WFCTL_AUDIT_LOG: log.path})
    assert.equal(run.code, 1, run.stderr)
    const lines = log.lines()
    assert.equal(lines.length, 1)
    const [r] = lines
    assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.match(r.user, /^.+@.+$/)
    assert.deepEqual(r.command, ['wfctl', 'control', 'add-consumer', 'reports', '-d', `${node(1)},ghost@${host}`, '--reason', 'OPS-42 more capacity', ...BROKER])
    assert.equal(r.broker, redisUrl(DB))
    assert.equal(r.via, 'command')
    assert.deepEqual(r.target, {destination: [node(1), `ghost@${host}`], pattern: null, matcher: null})
    assert.equal(r.method, 'add_consumer')
    assert.deepEqual(r.args, {queue: 'reports'})
    assert.deepEqual(r.nodes, {[node(1)]: {outcome: 'ok'}, [`ghost@${host}`]: {outcome: 'missing'}})
    assert.equal(r.exitCode, 1)
    assert.equal(r.reason, 'OPS-42 more capacity')
  })

  test('a pattern, a broadcast, and `call` of a mutating method are logged; without --reason the reason is null', async () => {
    const log = newLog()
    const env = {WFCTL_AUDIT_LOG: log.path}
    assert.equal((await wf(['control', 'rate-limit', 'celery.chord_unlock', '10/m', '--pattern', `aud[12]@${host}`, '--expect', '2'], env)).code, 0)
    const called = await wf(['call', 'time_limit', 'task_name=celery.chord_unlock', 'soft=30', '--expect', '4'], env)
    assert.equal(called.code, 0, called.stderr)
    const [pattern, call] = log.lines()
    assert.equal(log.lines().length, 2)
    assert.deepEqual(pattern.target, {destination: [], pattern: `aud[12]@${host}`, matcher: 'glob'})
    assert.deepEqual(Object.keys(pattern.nodes).sort(), [node(1), node(2)])
    assert.equal(pattern.reason, null)
    assert.equal(call.method, 'time_limit')
    assert.deepEqual(call.args, {task_name: 'celery.chord_unlock', soft: 30})
    for (const n of [1, 2, 3, 4]) assert.ok(Object.hasOwn(call.nodes, node(n)), JSON.stringify(call.nodes))
  })

  test('reads append nothing: ping, inspect, status, check, call of a read method, heartbeat', async () => {
    const log = newLog()
    const env = {WFCTL_AUDIT_LOG: log.path}
    for (const args of [['control', 'ping'], ['inspect', 'active'], ['inspect', 'stats', '-d', node(1)], ['status'], ['call', 'active_queues'], ['control', 'heartbeat']]) {
      const run = await wf([...args, '--expect', args.includes('-d') ? '1' : '4'], env)
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
    }
    assert.equal(existsSync(log.path), false)
  })

  test('dry runs and refused requests send nothing and append nothing', async () => {
    const log = newLog()
    const env = {WFCTL_AUDIT_LOG: log.path}
    assert.equal((await wf(['control', 'pool-grow', '2', '-d', node(1), '--dry-run'], env)).code, 0)
    assert.equal((await wf(['control', 'shutdown', '-d', node(4), '--reason', 'no'], env)).code, 2)
    assert.equal((await wf(['control', 'pool-restart', '-d', node(4)], env)).code, 2)
    assert.equal((await wf(['control', 'pool-grow', 'x', '-d', node(1)], env)).code, 2)
    assert.equal(existsSync(log.path), false)
  })

  test('XDG_STATE_HOME holds the default log; WFCTL_AUDIT_LOG=off writes nothing at all', async () => {
    const state = join(dir, 'xdg')
    assert.equal((await wf(['control', 'enable-events', '-d', node(2)], {XDG_STATE_HOME: state, WFCTL_AUDIT_LOG: ''})).code, 0)
    const lines = readFileSync(join(state, 'wfctl', 'audit.log'), 'utf8').split('\n').filter(Boolean)
    assert.equal(lines.length, 1)
    assert.equal(JSON.parse(lines[0]).method, 'enable_events')
    const off = join(dir, 'xdg-off')
    assert.equal((await wf(['control', 'disable-events', '-d', node(2)], {XDG_STATE_HOME: off, HOME: off, WFCTL_AUDIT_LOG: 'off'})).code, 0)
    assert.equal(existsSync(off), false)
  })

  test('an unwritable log is one warning on stderr: same exit code, same stdout', async () => {
    const file = join(dir, 'not-a-dir')
    writeFileSync(file, '')
    const args = ['control', 'pool-grow', '1', '-d', `${node(1)},ghost@${host}`, '--json']
    const good = await wf(args, {WFCTL_AUDIT_LOG: newLog().path})
    const bad = await wf(args, {WFCTL_AUDIT_LOG: join(file, 'audit.log')})
    assert.equal(good.code, 1)
    assert.equal(bad.code, good.code)
    assert.deepEqual(Object.keys(JSON.parse(bad.stdout)).sort(), Object.keys(JSON.parse(good.stdout)).sort())
    const warnings = bad.stderr.split('\n').filter((l) => /audit log/.test(l))
    assert.equal(warnings.length, 1, bad.stderr)
    assert.match(warnings[0], /^warning: the audit log was not written \(ENOTDIR/)
    assert.equal(good.stderr.includes('audit log'), false)
  })

  test('a shutdown records each node\'s state and the reason sent to the workers', async () => {
    const log = newLog()
    const run = await wf(['control', 'shutdown', '-d', node(4), '--yes', '--reason', 'moving to new hosts', '--wait', '5'], {WFCTL_AUDIT_LOG: log.path})
    assert.equal(run.code, 0, run.stderr)
    const lines = log.lines()
    assert.equal(lines.length, 1)
    assert.equal(lines[0].method, 'shutdown')
    assert.deepEqual(lines[0].args, {msg: 'moving to new hosts'})
    assert.equal(lines[0].reason, 'moving to new hosts')
    assert.deepEqual(lines[0].nodes, {[node(4)]: {outcome: 'stopped', activeTasks: 0}})
    assert.equal(lines[0].exitCode, 0)
  })

  test('a drain is one line, with each node\'s drain state', async () => {
    const log = newLog()
    const run = await wf(['control', 'drain', '-d', node(3), '--yes', '--wait', '10', '--reason', 'OS upgrade'], {WFCTL_AUDIT_LOG: log.path})
    assert.equal(run.code, 0, run.stderr)
    const lines = log.lines()
    assert.equal(lines.length, 1)
    assert.equal(lines[0].method, 'drain')
    assert.equal(lines[0].reason, 'OS upgrade')
    assert.equal(lines[0].nodes[node(3)].outcome, 'drained')
    assert.equal(lines[0].exitCode, 0)
  })

  test('concurrent wfctl processes: one whole line each', async () => {
    const log = newLog()
    const runs = await Promise.all([1, 2, 3, 1, 2, 3].map((n, i) => wf(['control', 'pool-grow', '1', '-d', node(n), '--reason', `run ${i}`], {WFCTL_AUDIT_LOG: log.path})))
    for (const run of runs) assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(log.lines().map((l) => l.reason).sort(), [0, 1, 2, 3, 4, 5].map((i) => `run ${i}`))
  })
})

describe('audit log: no password, whatever the URL looks like', () => {
  const user = `wfctl-audit-${token()}`
  const password = `S3cr3tPw-${token()}`
  before(async () => {
    await redis.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all')
  })
  after(async () => {
    await redis.call('ACL', 'DELUSER', user)
  })

  const fragments = (secret: string) => Array.from({length: secret.length - 4}, (_, i) => secret.slice(i, i + 5))

  test('a change made with a password in -b: logged, the password in no form', async () => {
    const log = newLog()
    const url = `redis://${user}:${password}@127.0.0.1:6379/${DB}`
    const run = await runWfctl(['control', 'pool-grow', '1', '-d', node(1), '-b', url, '--redis-key-prefix', prefix, '--reason', `see ${url}`], {env: {WFCTL_AUDIT_LOG: log.path}})
    assert.equal(run.code, 0, run.stderr)
    const text = readFileSync(log.path, 'utf8')
    assert.equal(log.lines().length, 1)
    for (const piece of fragments(password)) assert.equal(text.includes(piece), false, `the log holds "${piece}": ${text}`)
    assert.equal(log.lines()[0].broker, `redis://${user}:****@127.0.0.1:6379/${DB}`)
  })

  // Every hostile shape: a broker that cannot be reached (or refuses the login) is still an attempt (logged, exit 3).
  const HOSTILE = HOSTILE_URLS
  test('hostile URL shapes, in -b and in the environment: no piece of a password in the log', async () => {
    const log = newLog()
    for (const {url, secrets} of HOSTILE) {
      for (const [args, env] of [
        [['control', 'pool-grow', '1', '-d', node(1), '-b', url, '--connect-timeout', '1'], {}],
        [['control', 'pool-grow', '1', '-d', node(1), '--connect-timeout', '1', '--reason', url], {WFCTL_BROKER_URL: url}],
      ] as const) {
        const run = await runWfctl([...args], {env: {...env, WFCTL_AUDIT_LOG: log.path}, timeoutMs: 20_000})
        assert.ok(run.code === 2 || run.code === 3, `${url}: exit ${run.code} ${run.stderr}`)
        const text = existsSync(log.path) ? readFileSync(log.path, 'utf8') : ''
        for (const piece of secrets.flatMap(fragments)) assert.equal(text.includes(piece), false, `${url}: the log holds "${piece}": ${text}`)
      }
    }
    // The URLs that parse were attempts: logged, with the broker's failure.
    const lines = log.lines()
    assert.ok(lines.length >= 8, `${lines.length} lines`)
    for (const line of lines) assert.equal(line.exitCode, 3)
    assert.ok(lines.every((l) => typeof l.error === 'string' && l.error.length > 0))
  })
})
