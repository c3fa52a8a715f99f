// The command surface as a user meets it: help for every command, what each one would send
// (--dry-run), and every bad argument refused with exit 2 before anything is published. Argument
// checks run in-process (no broker, no process start needed); a few cases go through bin/run.js for
// the real exit code path.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import {after, afterEach, before, describe, test} from 'node:test'

import {createVhost, redisUrl, token} from '../helpers/brokers.js'
import {ROOT, runWfctl, type CliRun} from '../helpers/cli.js'
import {runArgvInProcess, type InProcessRun} from '../helpers/in-process.js'
import {amqpSpy, redisSpy, settle, SETTLE_MS} from '../helpers/spy.js'

const DB = 5
const prefix = `wfctl-surface-${token()}:`
const R = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]
const manifest = JSON.parse(readFileSync(`${ROOT}oclif.manifest.json`, 'utf8')) as {commands: Record<string, {description?: string; examples?: string[]}>}

const CONTROL = ['ping', 'shutdown', 'add-consumer', 'cancel-consumer', 'pool-grow', 'pool-shrink', 'pool-restart', 'autoscale', 'rate-limit', 'time-limit',
  'revoke', 'terminate', 'revoke-by-stamped-headers', 'enable-events', 'disable-events', 'heartbeat']
const INSPECT = ['active', 'reserved', 'scheduled', 'revoked', 'registered', 'stats', 'active-queues', 'query-task', 'conf', 'clock', 'report', 'memsample',
  'memdump', 'objgraph']

function oneLineError(run: CliRun | InProcessRun<unknown>): void {
  const code = 'exitCode' in run ? run.exitCode : run.code
  assert.equal(code, 2, `exit ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
  assert.equal(run.stdout, '', 'nothing on stdout')
  const lines = run.stderr.trim().split('\n')
  assert.equal(lines.length, 1, `one line on stderr, got:\n${run.stderr}`)
  assert.match(lines[0], /^Error: /)
}

describe('help', () => {
  test('control --help and inspect --help list every command of the contract', async () => {
    const control = await runWfctl(['control', '--help'])
    assert.equal(control.code, 0)
    for (const cmd of CONTROL) assert.match(control.stdout, new RegExp(`^  control ${cmd} `, 'm'), `control ${cmd} missing from:\n${control.stdout}`)
    const inspect = await runWfctl(['inspect', '--help'])
    assert.equal(inspect.code, 0)
    for (const cmd of INSPECT) assert.match(inspect.stdout, new RegExp(`^  inspect ${cmd} `, 'm'), `inspect ${cmd} missing from:\n${inspect.stdout}`)
    const top = await runWfctl(['--help'])
    assert.match(top.stdout, /^  call /m)
  })

  test('every command says what it sends and gives an example', () => {
    const ids = [...CONTROL.map((c) => `control:${c}`), ...INSPECT.map((c) => `inspect:${c}`), 'call', 'status']
    for (const id of ids) {
      const cmd = manifest.commands[id]
      assert.ok(cmd, `${id} is not in the manifest`)
      assert.match(cmd.description ?? '', /Sends /, `${id}'s help does not say what it sends`)
      assert.ok((cmd.examples ?? []).length > 0, `${id} has no example`)
    }
  })

  test("a command's help shows its arguments, flags and examples", async () => {
    const run = await runWfctl(['control', 'rate-limit', '--help'])
    assert.equal(run.code, 0)
    for (const part of ['TASK', 'RATE', 'EXAMPLES', '--dry-run', '--destination', '"rate_limit"']) assert.ok(run.stdout.includes(part), `${part} missing:\n${run.stdout}`)
  })
})

describe('bad arguments: exit 2, one line, nothing published', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let spyR: Awaited<ReturnType<typeof redisSpy>>
  let spyA: Awaited<ReturnType<typeof amqpSpy>>
  before(async () => {
    vhost = await createVhost('wfctl-surface')
    spyR = await redisSpy(DB, prefix)
    spyA = await amqpSpy(vhost.url)
  })
  // Each case on its own: what it published (nothing, it must be) is looked at right after it.
  afterEach(async () => {
    await settle(SETTLE_MS)
    assert.deepEqual(spyR.messages, [], 'Redis saw a message')
    assert.deepEqual(spyA.messages, [], 'RabbitMQ saw a message')
  })
  after(async () => {
    await spyR?.close()
    await spyA?.close()
    await vhost?.remove()
  })

  const cases: [string, string[], RegExp][] = [
    ['a rate that is not a rate', ['control', 'rate-limit', 'tasks.add', '5/d'], /RATE must look like/],
    ['a rate that is a word', ['control', 'rate-limit', 'tasks.add', 'fast'], /"fast"/],
    ['a negative rate', ['control', 'rate-limit', 'tasks.add', '-1'], /RATE|Nonexistent flag/],
    ['rate-limit without a rate', ['control', 'rate-limit', 'tasks.add'], /Missing 1 required arg/],
    ['a task name with spaces', ['control', 'rate-limit', 'tasks add', '5/s'], /TASK must be/],
    ['a soft limit that is not a number', ['control', 'time-limit', 'tasks.add', 'ten'], /SOFT must be a number/],
    ['a soft limit above the hard one', ['control', 'time-limit', 'tasks.add', '30', '10'], /must not exceed HARD/],
    ['a signal that is not a signal', ['control', 'terminate', 'SIGFOO', 'id-1', '--yes'], /not a signal name/],
    ['a signal number', ['control', 'terminate', '9', 'id-1', '--yes'], /not a signal name/],
    ['terminate without a task id', ['control', 'terminate', 'KILL', '--yes'], /Missing 1 required arg: id/],
    ['revoke without a task id', ['control', 'revoke'], /Missing 1 required arg/],
    ['revoke with a bad --signal', ['control', 'revoke', 'id-1', '--terminate', '--signal', 'NOPE', '--yes'], /not a signal name/],
    ['revoke --signal without --terminate', ['control', 'revoke', 'id-1', '--signal', 'KILL'], /--signal applies only with --terminate/],
    ['a pool-grow count of 0', ['control', 'pool-grow', '0'], /N must be a positive integer/],
    ['a pool-shrink count that is not a number', ['control', 'pool-shrink', 'two', '-d', 'a@h'], /N must be a positive integer/],
    ['a fractional count', ['control', 'pool-grow', '1.5'], /N must be a positive integer/],
    ['autoscale with MIN above MAX', ['control', 'autoscale', '2', '5', '-d', 'a@h'], /MIN \(5\) must not be greater than MAX \(2\)/],
    ['autoscale with a MAX of 0', ['control', 'autoscale', '0', '0', '-d', 'a@h'], /MAX must be a positive integer/],
    ['autoscale without MIN', ['control', 'autoscale', '4'], /Missing 1 required arg/],
    ['a stamped header without =', ['control', 'revoke-by-stamped-headers', 'tenant'], /KEY=VALUE/],
    ['pool-restart with an empty module', ['control', 'pool-restart', '--module', '', '-d', 'a@h', '--yes'], /--module must be/],
    ['query-task without an id', ['inspect', 'query-task'], /Missing 1 required arg/],
    ['memdump with samples that are not a number', ['inspect', 'memdump', '--samples', 'x'], /--samples must be a positive integer/],
    ['objgraph with a max depth of 0', ['inspect', 'objgraph', '--max-depth', '0'], /--max-depth must be a positive integer/],
    ['registered with an attribute that is not a name', ['inspect', 'registered', 'rate-limit'], /invalid task attribute/],
    ['call without a method', ['call'], /Missing 1 required arg/],
    ['call with a method that is not a name', ['call', 'pool-grow'], /METHOD must be a name/],
    ['call election', ['call', 'election'], /kills single-worker clusters/],
    ['call with --args that is not JSON', ['call', 'pool_grow', '--args', '{n: 2}'], /--args is not valid JSON/],
    ['call with --args that is not an object', ['call', 'pool_grow', '--args', '[2]'], /--args must be a JSON object/],
    ['call with an argument that is not KEY=VALUE', ['call', 'pool_grow', 'n'], /KEY=VALUE/],
    ['inspect with an unknown matcher', ['inspect', 'stats', '--pattern', 'w*', '--matcher', 'regex'], /Expected --matcher=regex to be one of/],
  ]
  for (const [name, args, message] of cases) {
    test(name, async () => {
      for (const broker of [R, ['-b', vhost.url]]) {
        const run = await runArgvInProcess([...args, ...broker])
        oneLineError(run)
        assert.match(run.stderr, message)
      }
    })
  }

  test('through bin/run.js: a bad argument and a bad flag value exit 2 in one line', async () => {
    for (const [args, message] of [[['control', 'rate-limit', 'tasks.add', '5/d', ...R], /RATE must look like/], [['inspect', 'stats', '--matcher', 'regex', '-b', vhost.url], /Expected --matcher=regex/]] as const) {
      const run = await runWfctl([...args])
      oneLineError(run)
      assert.match(run.stderr, message)
    }
  })

  const unconfirmed: [string, string[]][] = [
    ['pool-restart', ['control', 'pool-restart', '-d', 'a@h']],
    ['terminate', ['control', 'terminate', 'TERM', 'id-1', '-d', 'a@h']],
    ['revoke --terminate', ['control', 'revoke', 'id-1', '--terminate']],
    ['revoke-by-stamped-headers --terminate', ['control', 'revoke-by-stamped-headers', 'batch=1', '--terminate']],
    ['pool-shrink to every worker', ['control', 'pool-shrink']],
    ['pool-shrink to a pattern', ['control', 'pool-shrink', '--pattern', 'batch-*']],
    ['autoscale to two nodes', ['control', 'autoscale', '4', '2', '-d', 'a@h,b@h']],
    ['call shutdown', ['call', 'shutdown', '-d', 'a@h']],
    ['call pool_restart', ['call', 'pool_restart']],
    ['call revoke with terminate', ['call', 'revoke', 'task_id=x', 'terminate=true']],
    ['cancel-consumer to every worker', ['control', 'cancel-consumer', 'q']],
    ['cancel-consumer to a pattern', ['control', 'cancel-consumer', 'q', '--pattern', 'batch-*']],
    ['cancel-consumer to several -d', ['control', 'cancel-consumer', 'q', '-d', 'a@h', '-d', 'b@h']],
    ['call cancel_consumer to every worker', ['call', 'cancel_consumer', 'queue=q']],
  ]
  for (const [name, args] of unconfirmed) {
    test(`${name} without a terminal and without --yes is refused, naming whom it would reach`, async () => {
      const run = await runArgvInProcess([...args, ...R])
      oneLineError(run)
      assert.match(run.stderr, /refused without a terminal to confirm on; pass --yes/)
      assert.match(run.stderr, /ALL workers|a@h|matching glob "batch-\*"/)
    })
  }

  test('cancel-consumer names the queue and whom in its question', async () => {
    const run = await runArgvInProcess(['control', 'cancel-consumer', 'reports', '-d', 'a@h,b@h', ...R])
    oneLineError(run)
    assert.match(run.stderr, /^Error: Stop a@h, b@h consuming from queue reports on redis:\/\/\S+: refused without a terminal/)
  })


  const impossible: [string, string[], RegExp][] = [
    ['--expect 2 with one -d node', ['control', 'ping', '--expect', '2', '-d', 'w1@h'], /--expect 2 cannot be met by 1 -d node/],
    ['--expect 1 with two -d nodes', ['status', '--expect', '1', '-d', 'w1@h,w2@h'], /--expect 1 cannot be met by 2 -d nodes/],
    ['--expect names that -d does not address', ['inspect', 'stats', '--expect', 'w1@h,ghost@h', '-d', 'w1@h'], /ghost@h, which -d does not address/],
    ['--expect names the pattern does not match', ['control', 'ping', '--expect', 'x1@h', '--pattern', 'w*'], /x1@h, which --pattern "w\*" \(glob\) does not match/],
  ]
  for (const [name, args, message] of impossible) {
    test(`an impossible roster is a usage error: ${name}`, async () => {
      const run = await runArgvInProcess([...args, ...R])
      oneLineError(run)
      assert.match(run.stderr, message)
    })
  }

  const checkMisuse: [string, string[], RegExp][] = [
    ['--expect 2 with one -d node', ['--expect', '2', '-d', 'w1@h'], /cannot be met by 1 -d node/],
    ['--min-nodes above the expected count', ['--expect', '2', '--min-nodes', '3'], /--min-nodes 3 is above the 2 expected workers/],
    ['--min-nodes above the -d nodes', ['-d', 'w1@h', '--min-nodes', '2'], /--min-nodes 2 is above the 1 expected worker:/],
    ['--min-nodes above a roster of names', ['--expect', 'w1@h,w2@h', '--min-nodes', '3'], /--min-nodes 3 is above the 2 expected workers/],
  ]
  for (const [name, args, message] of checkMisuse) {
    test(`check: ${name} is misuse, UNKNOWN (exit 3) in the format asked for, nothing sent`, async () => {
      const run = await runArgvInProcess(['check', ...args, '--format', 'nagios', ...R])
      assert.equal(run.exitCode, 3, run.stderr)
      assert.match(run.stdout, /^WFCTL UNKNOWN - /)
      assert.match(run.stdout, message)
    })
  }

})

describe('--dry-run: the exact request of every command, and nothing sent', () => {
  let spyR: Awaited<ReturnType<typeof redisSpy>>
  before(async () => {
    spyR = await redisSpy(DB, prefix)
  })
  afterEach(async () => {
    await settle(SETTLE_MS)
    assert.deepEqual(spyR.messages, [], 'the broker saw a message')
  })
  after(async () => {
    await spyR?.close()
  })

  const requests: [string[], string, Record<string, unknown>][] = [
    [['control', 'pool-grow'], 'pool_grow', {n: 1}],
    [['control', 'pool-shrink', '3'], 'pool_shrink', {n: 3}],
    [['control', 'pool-restart', '--module', 'proj.tasks', '--module', 'proj.more', '--reload'], 'pool_restart', {reload: true, modules: ['proj.tasks', 'proj.more']}],
    [['control', 'autoscale', '10', '3'], 'autoscale', {max: 10, min: 3}],
    [['control', 'rate-limit', 'proj.send', '10/m'], 'rate_limit', {task_name: 'proj.send', rate_limit: '10/m'}],
    [['control', 'rate-limit', 'proj.send', '0'], 'rate_limit', {task_name: 'proj.send', rate_limit: null}],
    [['control', 'rate-limit', 'proj.send', '2.5'], 'rate_limit', {task_name: 'proj.send', rate_limit: '2.5'}],
    [['control', 'time-limit', 'proj.report', '60', '90'], 'time_limit', {task_name: 'proj.report', soft: 60, hard: 90}],
    [['control', 'time-limit', 'proj.report', '1.5'], 'time_limit', {task_name: 'proj.report', soft: 1.5, hard: null}],
    [['control', 'revoke', 'id-1', 'id-2'], 'revoke', {task_id: ['id-1', 'id-2']}],
    [['control', 'revoke', 'id-1', '--terminate', '--signal', 'kill'], 'revoke', {task_id: ['id-1'], terminate: true, signal: 'KILL'}],
    [['control', 'terminate', 'sigusr1', 'id-1'], 'terminate', {signal: 'SIGUSR1', task_id: ['id-1']}],
    [['control', 'revoke-by-stamped-headers', 'batch=1', 'batch=2', 'tenant=acme'], 'revoke_by_stamped_headers', {headers: {batch: ['1', '2'], tenant: 'acme'}}],
    [['control', 'enable-events'], 'enable_events', {}],
    [['control', 'disable-events'], 'disable_events', {}],
    [['control', 'heartbeat'], 'heartbeat', {}],
    [['inspect', 'active', '--safe'], 'active', {safe: true}],
    [['inspect', 'active'], 'active', {}],
    [['inspect', 'reserved'], 'reserved', {}],
    [['inspect', 'scheduled'], 'scheduled', {}],
    [['inspect', 'revoked'], 'revoked', {}],
    [['inspect', 'registered', 'rate_limit', 'time_limit'], 'registered', {taskinfoitems: ['rate_limit', 'time_limit']}],
    [['inspect', 'registered', '--builtins'], 'registered', {builtins: true}],
    [['inspect', 'stats'], 'stats', {}],
    [['inspect', 'active-queues'], 'active_queues', {}],
    [['inspect', 'query-task', 'id-1', 'id-2'], 'query_task', {ids: ['id-1', 'id-2']}],
    [['inspect', 'conf', '--with-defaults'], 'conf', {with_defaults: true}],
    [['inspect', 'clock'], 'clock', {}],
    [['inspect', 'report'], 'report', {}],
    [['inspect', 'memsample'], 'memsample', {}],
    [['inspect', 'memdump', '--samples', '5'], 'memdump', {samples: 5}],
    [['inspect', 'objgraph', '--type', 'Request', '--num', '50', '--max-depth', '3'], 'objgraph', {type: 'Request', num: 50, max_depth: 3}],
    [['call', 'my_method', 'n=2', 'name=reports', 'on=true', 'list=[1,"a"]', 'text=hello world'], 'my_method', {n: 2, name: 'reports', on: true, list: [1, 'a'], text: 'hello world'}],
    [['call', 'pool_grow', '--args', '{"n": 1, "extra": {"a": 1}}', 'n=4'], 'pool_grow', {n: 4, extra: {a: 1}}],
    [['control', 'ping'], 'ping', {}],
    [['status'], 'ping', {}],
    [['check'], 'active_queues', {}],
    [['control', 'cancel-consumer', 'reports'], 'cancel_consumer', {queue: 'reports'}],
  ]
  for (const [args, method, expected] of requests) {
    test(`${args.join(' ')} → ${method} ${JSON.stringify(expected)}`, async () => {
      const run = await runArgvInProcess([...args, '--dry-run', '--json', '--pattern', 'w*', ...R])
      assert.equal(run.exitCode ?? 0, 0, run.stderr)
      const out = JSON.parse(run.stdout)
      assert.equal(out.dryRun, true)
      assert.equal(out.body.method, method)
      assert.deepEqual(out.body.arguments, expected)
      assert.equal(out.body.pattern, 'w*')
      assert.equal(out.body.matcher, 'glob')
      assert.ok(out.body.ticket && out.body.reply_to, 'a call carries a ticket and reply_to')
    })
  }

  test('control ping, status and check --dry-run through bin/run.js: the request printed, exit 0', async () => {
    for (const args of [['control', 'ping', '-d', 'a@h'], ['status'], ['check', '--format', 'nagios'], ['control', 'cancel-consumer', 'q']]) {
      const run = await runWfctl([...args, '--dry-run', ...R])
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /^dry run: nothing was sent$/m)
      assert.match(run.stdout, /"method": "(ping|active_queues|cancel_consumer)"/)
    }
  })

  test('a destructive dry run asks nothing and needs no --yes', async () => {
    const run = await runWfctl(['control', 'pool-restart', '--dry-run', ...R])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /dry run: nothing was sent/)
    assert.match(run.stdout, /"method": "pool_restart"/)
  })

})

describe('a request refused by the safety checks never reaches the broker', () => {
  test('call election: exit 2 before connecting (a broker that would hang is never tried)', async () => {
    const held = new Set<Socket>()
    const hanging = createServer((socket) => held.add(socket.on('error', () => {}))) // accepts, never answers (a reset by the client is no failure)
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r))
    try {
      const port = (hanging.address() as {port: number}).port
      const run = await runWfctl(['call', 'election', '-b', `redis://127.0.0.1:${port}/0`, '--connect-timeout', '120'], {timeoutMs: 60_000})
      oneLineError(run)
      assert.match(run.stderr, /kills single-worker clusters/)
      assert.equal(held.size, 0, 'wfctl connected to the broker')
    } finally {
      for (const socket of held) socket.destroy()
      await new Promise((r) => hanging.close(r))
    }
  })
})

describe('not destructive: sent without a confirmation', () => {
  test('cancel-consumer to a single -d node is not confirmed: it is published (nobody listens here: exit 69)', async () => {
    const spy = await redisSpy(DB, prefix)
    try {
      for (const args of [['control', 'cancel-consumer', 'q', '-d', 'a@h'], ['call', 'cancel_consumer', 'queue=q', '-d', 'a@h']]) {
        const run = await runArgvInProcess([...args, '-t', '0.2', ...R])
        assert.equal(run.exitCode, 69, `exit ${run.exitCode}\n${run.stderr}`)
        assert.doesNotMatch(run.stderr, /refused|confirm/)
      }
      await settle(SETTLE_MS)
      assert.equal(spy.messages.length, 2, 'both requests were published')
    } finally {
      await spy.close()
    }
  })
})
