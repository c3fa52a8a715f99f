// The menu explorer made for big fleets (`wfctl inspect --menu`; the same fixes on the live view that
// plain `wfctl inspect` opens are in test/interop/one-screen.test.ts), driven in a real 80x24
// terminal (tmux) as an operator runs it:
// 150 simulated nodes (`wfctl simulate`) to filter and sort, -d / --pattern scopes, stderr sent to a
// file, a closed terminal window and a double SIGHUP (nothing left in Redis); and real Celery workers
// for picking a running task's id (query-task, terminate) and a shutdown with a reason that reaches
// the worker's log and the audit log. Redis: where a reply binding can be left behind.
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {gone, json, runWfctl, startSimulatedFleet, type LiveRun} from '../helpers/cli.js'
import {hangUpTwice, Terminal} from '../helpers/tmux.js'
import {choose, cursorAt, flat, menuUp, until} from '../helpers/menu.js'
import {deleteKeysWithPrefix, poll, show, stopAll} from './support.js'

const DB = 3

describe('the explorer against 150 simulated nodes, in a terminal (Redis)', {timeout: 240_000}, () => {
  const tok = token()
  const prefix = `wfctl-xf-${tok}:`
  const host = `h${tok}`
  const flags = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]
  const redis = redisClient(DB)
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-xf-'))
  let fleet: LiveRun

  before(async () => {
    fleet = await startSimulatedFleet(['-n', '150', '--name-prefix', 'pod-', '--hostname', host, ...flags])
    assert.match(fleet.stderr(), /150 simulated workers/, fleet.stderr())
  })
  after(async () => {
    fleet?.kill('SIGINT')
    await fleet?.done
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
    rmSync(dir, {recursive: true, force: true})
  })

  test('with stderr sent to a file: type to filter in natural order, pick one node, act, and the cursor stays (exit 0, nothing left)', async () => {
    const log = join(dir, 'stderr.log')
    const queue = `wfq${tok}`
    const term = new Terminal(['inspect', '--menu', ...flags, '-t', '3'], {}, {stderrTo: log})
    try {
      const first = await until(term, menuUp, 'the menu', 20_000)
      assert.match(first, /150 nodes online\./)
      assert.match(flat(first), /· 150 nodes · selected: all 150 nodes/)

      await choose(term, 'Pick nodes')
      const all = await term.waitFor(/Nodes \(type to filter[^\n]*\n❯ Select all 150 nodes\n {2}Select several of them…\n/)
      assert.match(all, new RegExp(`\\n {2}pod-1@${host}\\n {2}pod-2@${host}\\n {2}pod-3@${host}\\n`), 'natural order: pod-2 right after pod-1')
      term.keys('-l', 'pod-1')
      const ones = await term.waitFor(/❯ Select all 62 nodes matching "pod-1"/)
      assert.match(ones, new RegExp(`\\n {2}pod-1@${host}\\n {2}pod-10@${host}\\n {2}pod-11@${host}\\n`))
      term.keys('-l', '7@')
      await term.waitFor(new RegExp(`pod-17@\\s*\\n❯ pod-17@${host}\\s*\\n\\s*\\n`))
      term.keys('Enter')
      await until(term, (s) => menuUp(s) && new RegExp(`\\? [^\\n]*selected: pod-17@${host}\\n`).test(s), 'pod-17 selected')

      await choose(term, 'View: Active queues')
      await term.waitFor(new RegExp(`pod-17@${host}\\s+celery\\s+celery \\(direct\\)`))
      await choose(term, 'Action: Add consumer')
      await term.waitFor(/\? Queue \(type to filter, or a new name\)\s*\n❯ celery/)
      term.keys('-l', queue)
      await term.waitFor(new RegExp(`❯ ${queue} \\(as typed\\)`))
      term.keys('Enter')
      await term.waitFor(new RegExp(`add consumer ${queue}`))
      // The cursor came back to the action, not to the first view.
      assert.equal(cursorAt(await until(term, menuUp, 'the menu')), 'Action: Add consumer')
      const queues = json(await runWfctl(['inspect', 'active-queues', '-d', `pod-17@${host},pod-1@${host}`, '-t', '5', '--json', ...flags]))
      assert.ok(queues.replies[`pod-17@${host}`].some((q: {name: string}) => q.name === queue), 'added on pod-17')
      assert.ok(!queues.replies[`pod-1@${host}`].some((q: {name: string}) => q.name === queue), 'and on pod-17 only')

      // Cancel: the queue just added is offered, picked by typing a part of it.
      await choose(term, 'Action: Cancel consumer')
      await term.waitFor(new RegExp(`\\? Queue \\(type to filter, or a new name\\)\\s*\\n❯ celery\\s*\\n {2}${queue}\\s*\\n`))
      term.keys('-l', 'wfq')
      await term.waitFor(new RegExp(`wfq\\s*\\n❯ ${queue}\\s*\\n {2}wfq \\(as typed\\)`))
      term.keys('Enter')
      await term.waitFor(new RegExp(`no longer consuming from ${queue}`))
      assert.equal(cursorAt(await until(term, menuUp, 'the menu')), 'Action: Cancel consumer')

      await choose(term, 'Quit')
      await term.waitFor(/EXIT=0/)
      assert.deepEqual(await redisLeftovers(redis, prefix), [])
      assert.ok(existsSync(log))
      assert.equal(readFileSync(log, 'utf8'), '', 'nothing went wrong, so nothing was written to stderr')
    } finally {
      term.close()
    }
  })

  test('--pattern and -d scope the explorer to some nodes, and say so', async () => {
    const pattern = new Terminal(['inspect', '--menu', ...flags, '--pattern', `pod-1?@${host}`, '-t', '3'])
    try {
      const menu = flat(await until(pattern, menuUp, 'the menu', 20_000))
      assert.match(menu, /10 nodes online\./)
      assert.match(menu, new RegExp(`· 10 nodes matching glob "pod-1\\?@${host}" · selected: all 10 nodes`))
      await choose(pattern, 'Pick nodes')
      const picker = await pattern.waitFor(/Select all 10 nodes/)
      assert.match(picker, new RegExp(`\\n {2}pod-10@${host}\\n {2}pod-11@${host}\\n`))
      assert.doesNotMatch(picker, new RegExp(`pod-1@${host}|pod-2@${host}`))
      pattern.keys('Escape')
      await until(pattern, menuUp, 'the menu')
      pattern.keys('Escape')
      await pattern.waitFor(/EXIT=0/)
    } finally {
      pattern.close()
    }
    const named = new Terminal(['inspect', '--menu', ...flags, '-d', `pod-3@${host},pod-30@${host},pod-999@${host}`, '-t', '2'])
    try {
      const menu = flat(await until(named, menuUp, 'the menu', 20_000))
      assert.match(menu, new RegExp(`pod-999@${host} missing`))
      assert.match(menu, new RegExp(`· 2 nodes named with -d · selected: all 2 nodes`))
      await choose(named, 'Action: Pool shrink')
      await named.waitFor(/\? Processes to remove/)
      named.keys('Enter')
      const confirm = flat(await named.waitFor(/\(y\/N\)/))
      assert.match(confirm, new RegExp(`Shrink the pool of all 2 nodes named with -d \\(pod-3@${host}, pod-30@${host}\\) by 1 via `))
      named.keys('n')
      named.keys('Enter')
      await named.waitFor(/not confirmed: nothing was sent/)
      named.keys('Escape')
      await named.waitFor(/EXIT=0/)
    } finally {
      named.close()
    }
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })

  test('closing the terminal window leaves no reply binding in Redis', async () => {
    const term = new Terminal(['inspect', '--menu', ...flags, '-t', '3'])
    let pid = 0
    try {
      await until(term, menuUp, 'the menu', 20_000)
      pid = term.wfctlPid()
      const bound = await redis.smembers(`${prefix}_kombu.binding.reply.celery.pidbox`)
      assert.equal(bound.length, 1, `the explorer's reply binding is there while it runs: ${bound}`)
    } finally {
      // The window goes: tmux hangs the terminal up (SIGHUP, end of input, every write fails).
      term.close()
    }
    assert.ok(await poll(() => gone(pid), Boolean, 15_000), 'wfctl ended')
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })

  test('two SIGHUPs in a row: the second does not skip the cleanup (exit 130, nothing left)', async () => {
    const term = new Terminal(['inspect', '--menu', ...flags, '-t', '3'])
    try {
      await until(term, menuUp, 'the menu', 20_000)
      await choose(term, 'Pick nodes')
      await term.waitFor(/Nodes \(type to filter/)
      const pid = term.wfctlPid()
      hangUpTwice(pid)
      await term.waitFor(/EXIT=130/)
      assert.deepEqual(await redisLeftovers(redis, prefix), [])
    } finally {
      term.close()
    }
  })
})

describe('the explorer against a real Celery worker running a task (Redis)', {timeout: 180_000}, () => {
  const tok = token()
  const prefix = `wfctl-xw-${tok}:`
  const flags = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]
  const redis = redisClient(DB)
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-xw-'))
  const audit = join(dir, 'audit.log')
  const queue = `wfxq${tok}`
  let worker: Worker
  let bystander: Worker
  let id = ''

  before(async () => {
    const started = await Promise.allSettled([
      startWorker({broker: redisUrl(DB), keyPrefix: prefix, name: `x${tok}`, pool: 'prefork', concurrency: 2, queues: [queue]}),
      startWorker({broker: redisUrl(DB), keyPrefix: prefix, name: `y${tok}`}),
    ])
    ;[worker, bystander] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as Worker[]
    const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
    const sent = await celery(['call', 'wfctl_tasks.sleepy', '--args', '[60]', '--queue', queue], {broker: redisUrl(DB), keyPrefix: prefix, timeoutMs: 30_000})
    assert.equal(sent.code, 0, sent.stderr)
    id = sent.stdout.trim().split('\n').at(-1)!.trim()
    const active = await poll(async () => json(await runWfctl(['inspect', 'active', '-d', worker.node, '-t', '3', '--json', ...flags])).replies[worker.node] as {id: string}[], (a) => a?.some((t) => t.id === id), 20_000, 300)
    assert.ok(active?.some((t) => t.id === id), `the task ${id} never became active`)
  })
  after(async () => {
    await stopAll([worker, bystander])
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
    rmSync(dir, {recursive: true, force: true})
  })

  test('the running task\'s id is picked for query-task and terminate; a shutdown reason reaches the worker log and the audit log', async () => {
    const term = new Terminal(['inspect', '--menu', ...flags, '--pattern', `x${tok}@*`, '-t', '3'], {WFCTL_AUDIT_LOG: audit})
    try {
      assert.match(flat(await until(term, menuUp, 'the menu', 20_000)), /· 1 node matching glob "x[^"]*" · selected: /)
      await choose(term, 'View: Active tasks')
      await term.waitFor(new RegExp(id.slice(0, 8)))

      await choose(term, 'Action: Query tasks by id')
      await term.waitFor(new RegExp(`Task ids \\(seen on the selected nodes[\\s\\S]*❯\\s*◯ ${id}  wfctl_tasks\\.sleepy`))
      term.keys('Space')
      term.keys('Enter')
      await term.waitFor(new RegExp(`Task ids \\(seen on the selected nodes; space to toggle, enter to confirm\\)\\s+${id}\\n`))
      await term.waitFor(new RegExp(`${id}\\s+active\\s+\\S*sleepy`))

      await choose(term, 'Action: Terminate tasks')
      await term.waitFor(new RegExp(`❯\\s*◯ ${id}`))
      term.keys('Space')
      term.keys('Enter')
      await term.waitFor(/\? Signal/)
      term.keys('-l', 'KILL')
      term.keys('Enter')
      const confirm = flat(await term.waitFor(/\(y\/N\)/))
      assert.match(confirm, new RegExp(`Terminate task ${id} with SIGKILL on ${worker.node.replace(/\./g, '\\.')} via redis://`))
      assert.doesNotMatch(confirm, new RegExp(`\\(${worker.node.replace(/\./g, '\\.')}\\)`), 'the node is named once')
      term.keys('y')
      term.keys('Enter')
      await term.waitFor(new RegExp(`terminate: ${id}`))
      const after = await poll(async () => json(await runWfctl(['inspect', 'active', '-d', worker.node, '-t', '3', '--json', ...flags])).replies[worker.node] as {id: string}[], (a) => Array.isArray(a) && !a.some((t) => t.id === id), 15_000, 300)
      assert.ok(!after.some((t) => t.id === id), 'the task no longer runs')

      await choose(term, 'Action: Shutdown')
      await term.waitFor(/\? Reason, for the audit log and each worker's log/)
      term.keys('-l', `deploy ${tok}`)
      term.keys('Enter')
      assert.match(flat(await term.waitFor(/\(y\/N\)/)), new RegExp(`Shut down ${worker.node.replace(/\./g, '\\.')} via redis://`))
      term.keys('y')
      term.keys('Enter')
      await term.waitFor(new RegExp(`${worker.node.replace(/\./g, '\\.')}\\s+stopped`), 30_000)
      await worker.exited
      assert.match(worker.log(), new RegExp(`deploy ${tok}`), 'the worker logged the reason')
      await choose(term, 'Quit')
      await term.waitFor(/EXIT=0/)
    } finally {
      term.close()
    }
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
    const records = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>)
    assert.deepEqual(records.map((r) => [r.via, r.method]), [['explorer', 'terminate'], ['explorer', 'shutdown']], JSON.stringify(records))
    assert.deepEqual(records[0].args, {signal: 'KILL', task_id: [id]})
    assert.equal(records[0].reason, null)
    assert.equal(records[1].reason, `deploy ${tok}`)
    assert.equal(records[1].args.msg, `deploy ${tok}`)
    assert.deepEqual(records[1].target.destination, [worker.node])
    assert.equal(records[1].nodes[worker.node].outcome, 'stopped')
    // The other worker was outside the scope: never addressed, still up.
    const ping = await runWfctl(['control', 'ping', '-d', bystander.node, '-t', '3', ...flags])
    assert.equal(ping.code, 0, show(ping))
  })
})
