// One screen: `wfctl inspect` on a terminal opens top's live view, scoped by -d / --pattern, and `m`
// in that view (in `wfctl top` too) runs the explorer's menu on the selected worker(s), then comes
// back to the live view. Driven in a real 80x24 terminal (tmux) as an operator runs it:
// - 150 simulated nodes (`wfctl simulate`, Redis): the scope and natural order, the filter, a view
//   and an action from the menu with stderr sent to a file, the -d scope and its confirmation, a
//   closed window, two SIGHUPs and Ctrl-C while the menu is open (exit 130, no reply binding left);
// - a real Celery worker running a task (Redis and RabbitMQ): in top, the detail pane shows it, the
//   menu offers its id for query-task and terminate, the audit log says "via": "top", and the view
//   comes back with its cursor, filter and pane.
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {createVhost, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {celery, startWorker, type Worker} from '../helpers/celery.js'
import {gone, json, runWfctl, startSimulatedFleet, type LiveRun} from '../helpers/cli.js'
import {hangUpTwice, Terminal} from '../helpers/tmux.js'
import {choose, cursorAt, flat, menuUp, until} from '../helpers/menu.js'
import {amqpNamespace, deleteKeysWithPrefix, poll, show, sleep, stopAll, type Namespace} from './support.js'

const DB = 12

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The live view is drawn: its key line is at the bottom. */
const liveUp = (screen: string) => /\? help · [^\n]*q quit {2}m menu/.test(screen)

async function press(term: Terminal, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    term.keys(key)
    await sleep(60)
  }
}

describe('wfctl inspect opens the live view: 150 simulated nodes, in a terminal (Redis)', {timeout: 300_000}, () => {
  const tok = token()
  const prefix = `wfctl-os-${tok}:`
  const host = `h${tok}`
  const flags = ['-b', redisUrl(DB), '--redis-key-prefix', prefix]
  const redis = redisClient(DB)
  const dir = mkdtempSync(join(tmpdir(), 'wfctl-os-'))
  let fleet: LiveRun

  before(async () => {
    fleet = await startSimulatedFleet(['-n', '150', '--name-prefix', 'pod-', '--hostname', host, '--heartbeat', '1', ...flags])
    assert.match(fleet.stderr(), /150 simulated workers/, fleet.stderr())
  })
  after(async () => {
    fleet?.kill('SIGINT')
    await fleet?.done
    await deleteKeysWithPrefix(redis, prefix)
    redis.disconnect()
    rmSync(dir, {recursive: true, force: true})
  })

  test('--pattern scopes the view, in natural order; filter, then a view and an action from the menu with stderr sent to a file; back, q (exit 0, nothing left)', async () => {
    const log = join(dir, 'stderr.log')
    const queue = `wfq${tok}`
    const term = new Terminal(['inspect', ...flags, '--pattern', `pod-1?@${host}`, '-t', '3'], {}, {stderrTo: log})
    try {
      const first = await term.waitFor(/^10 online · /, 20_000)
      assert.match(flat(first), new RegExp(`^10 online · 0 active · [^·]+ · matching glob "pod-1\\?@${host}" · wfctl top`))
      const rows = first.split('\n').filter((l) => /^[ >*]+pod-/.test(l)).map((l) => l.replace(/^[ >*]+/, '').split(/\s+/)[0])
      assert.deepEqual(rows, Array.from({length: 10}, (_, i) => `pod-1${i}@${host}`), 'only the scope, in natural order')

      // The filter: the one node; m opens the menu for the worker under the cursor.
      await press(term, '/')
      term.keys('-l', '7@')
      await term.waitFor(/filter \(1 of 10/)
      await press(term, 'Enter', 'm')
      const menu = flat(await until(term, menuUp, 'the menu'))
      assert.match(menu, new RegExp(`· 10 nodes matching glob "pod-1\\?@${host}" · selected: pod-17@${host} `))
      // Its last entry (the list wraps around) goes back; there is no picking nor refreshing here.
      await press(term, 'Up')
      assert.equal(cursorAt(await until(term, (s) => cursorAt(s) !== 'View: Active tasks', 'the cursor move')), 'Back to the live view')
      await press(term, 'Up')
      assert.equal(cursorAt(await until(term, (s) => cursorAt(s) !== 'Back to the live view', 'the cursor move')), 'Action: Shutdown')
      await press(term, 'Down', 'Down')
      assert.doesNotMatch(menu, /Pick nodes|Refresh the fleet/)

      await choose(term, 'View: Active queues')
      await term.waitFor(new RegExp(`pod-17@${host}\\s+celery\\s+celery \\(direct\\)`))
      await choose(term, 'Action: Add consumer')
      await term.waitFor(/\? Queue \(type to filter, or a new name\)\s*\n❯ celery/)
      term.keys('-l', queue)
      await term.waitFor(new RegExp(`❯ ${queue} \\(as typed\\)`))
      term.keys('Enter')
      await term.waitFor(new RegExp(`add consumer ${queue}`))
      // The menu's cursor stays on the action.
      assert.equal(cursorAt(await until(term, menuUp, 'the menu')), 'Action: Add consumer')

      // Back: the live view as it was left (the filter, the cursor on pod-17).
      await press(term, 'Escape')
      const back = await until(term, liveUp, 'the live view')
      assert.match(back, new RegExp(`>\\s+pod-17@${host}\\s+online`))
      assert.match(back, /filter "7@": 1 of 10/)
      const queues = json(await runWfctl(['inspect', 'active-queues', '-d', `pod-17@${host},pod-1@${host}`, '-t', '5', '--json', ...flags]))
      assert.ok(queues.replies[`pod-17@${host}`].some((q: {name: string}) => q.name === queue), 'added on pod-17')
      assert.ok(!queues.replies[`pod-1@${host}`].some((q: {name: string}) => q.name === queue), 'and on pod-17 only')

      await press(term, 'q')
      await term.waitFor(/EXIT=0/)
      assert.deepEqual(await redisLeftovers(redis, prefix), [])
      assert.equal(readFileSync(log, 'utf8'), '', 'nothing went wrong, so nothing was written to stderr')
    } finally {
      term.close()
    }
  })

  test('-d scopes the view to the nodes named, says which did not answer, and "all" in a confirmation means them', async () => {
    const term = new Terminal(['inspect', ...flags, '-d', `pod-3@${host},pod-30@${host},pod-999@${host}`, '-t', '2'])
    try {
      const first = await term.waitFor(/no answer to the ping from 1 named with -d: pod-999@/, 20_000)
      assert.match(first, /^2 online · [^\n]*named with -d/)
      const rows = first.split('\n').filter((l) => /^[ >*]+pod-/.test(l)).map((l) => l.replace(/^[ >*]+/, '').split(/\s+/)[0])
      assert.deepEqual(rows, [`pod-3@${host}`, `pod-30@${host}`])
      await press(term, 'A', 'm')
      await choose(term, 'Action: Pool shrink')
      await term.waitFor(/\? Processes to remove/)
      term.keys('Enter')
      const confirm = flat(await term.waitFor(/\(y\/N\)/))
      assert.match(confirm, new RegExp(`Shrink the pool of all 2 nodes named with -d \\(pod-3@${host}, pod-30@${host}\\) by 1 via `))
      term.keys('n')
      term.keys('Enter')
      await term.waitFor(/not confirmed: nothing was sent/)
      await press(term, 'Escape')
      assert.match(await until(term, liveUp, 'the live view'), /2 selected/, 'the selection is kept')
      await press(term, 'q')
      await term.waitFor(/EXIT=0/)
    } finally {
      term.close()
    }
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })

  test('closing the terminal window while the menu is open leaves no reply binding in Redis', async () => {
    const term = new Terminal(['inspect', ...flags, '--pattern', `pod-2*@${host}`, '-t', '3'])
    let pid = 0
    try {
      await term.waitFor(/^11 online/, 20_000)
      await press(term, 'm')
      await until(term, menuUp, 'the menu')
      pid = term.wfctlPid()
      const bound = await redis.smembers(`${prefix}_kombu.binding.reply.celery.pidbox`)
      assert.equal(bound.length, 1, `the view's reply binding is there while it runs: ${bound}`)
    } finally {
      // The window goes: tmux hangs the terminal up (SIGHUP, end of input, every write fails).
      term.close()
    }
    assert.ok(await poll(() => gone(pid), Boolean, 15_000), 'wfctl ended')
    assert.deepEqual(await redisLeftovers(redis, prefix), [])
  })

  test('two SIGHUPs in a row while a question of the menu is open: the cleanup still runs (exit 130, nothing left)', async () => {
    const term = new Terminal(['inspect', ...flags, '-t', '3'])
    try {
      await term.waitFor(/^150 online/, 20_000)
      await press(term, 'm')
      await choose(term, 'Action: Shutdown')
      await term.waitFor(/\? Reason, for the audit log/)
      const pid = term.wfctlPid()
      hangUpTwice(pid)
      await term.waitFor(/EXIT=130/)
      assert.deepEqual(await redisLeftovers(redis, prefix), [])
    } finally {
      term.close()
    }
    const ping = await runWfctl(['control', 'ping', '-d', `pod-1@${host}`, '-t', '3', ...flags])
    assert.equal(ping.code, 0, `nothing was shut down: ${show(ping)}`)
  })

  test('Ctrl-C in the menu leaves as it does in the view (exit 130, nothing left)', async () => {
    const term = new Terminal(['top', ...flags, '-t', '3'])
    try {
      await term.waitFor(/^150 online/, 20_000)
      await press(term, 'm')
      await until(term, menuUp, 'the menu')
      term.keys('C-c')
      await term.waitFor(/EXIT=130/)
      assert.deepEqual(await redisLeftovers(redis, prefix), [])
    } finally {
      term.close()
    }
  })
})

interface Space {
  worker: {broker: string; keyPrefix?: string}
  ns: Namespace
  close: () => Promise<void>
}

async function redisSpace(): Promise<Space> {
  const prefix = `wfctl-osw-${token()}:`
  const redis = redisClient(DB)
  return {
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    ns: {label: `Redis DB ${DB} prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
}

async function amqpSpace(): Promise<Space> {
  const vhost = await createVhost('wfctl-os')
  const ns = await amqpNamespace(vhost)
  return {
    worker: {broker: vhost.url},
    ns,
    close: async () => {
      await ns.close()
      await vhost.remove()
    },
  }
}

for (const [label, open] of [['Redis', redisSpace], ['RabbitMQ', amqpSpace]] as const) {
  describe(`in top, the menu acts on a real worker's running task (${label})`, {timeout: 180_000}, () => {
    const tok = token()
    const dir = mkdtempSync(join(tmpdir(), 'wfctl-osw-'))
    const audit = join(dir, 'audit.log')
    const queue = `wfoq${tok}`
    let space: Space
    let worker: Worker
    let bystander: Worker
    let id = ''

    before(async () => {
      space = await open()
      const started = await Promise.allSettled([
        startWorker({...space.worker, name: `x${tok}`, pool: 'prefork', concurrency: 2, queues: [queue], keep: {heartbeat: 1}}),
        startWorker({...space.worker, name: `y${tok}`, keep: {heartbeat: 1}}),
      ])
      ;[worker, bystander] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as Worker[]
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) throw failed.reason
      const sent = await celery(['call', 'wfctl_tasks.sleepy', '--args', '[60]', '--queue', queue], {...space.worker, timeoutMs: 30_000})
      assert.equal(sent.code, 0, sent.stderr)
      id = sent.stdout.trim().split('\n').at(-1)!.trim()
      const active = await poll(async () => json(await runWfctl(['inspect', 'active', '-d', worker.node, '-t', '3', '--json', ...space.ns.flags])).replies[worker.node] as {id: string}[], (a) => a?.some((t) => t.id === id), 20_000, 300)
      assert.ok(active?.some((t) => t.id === id), `the task ${id} never became active`)
    })
    after(async () => {
      await stopAll([worker, bystander])
      await space?.close()
      rmSync(dir, {recursive: true, force: true})
    })

    test('the detail pane shows the task; m offers its id for query-task and terminate; back to the live view, q (exit 0); audited "via": "top"', async () => {
      const node = escape(worker.node)
      const term = new Terminal(['top', ...space.ns.flags, '-t', '3'], {WFCTL_AUDIT_LOG: audit})
      try {
        await term.waitFor(new RegExp(`${node}\\s+online\\s+1\\s`), 20_000)
        await press(term, '/')
        term.keys('-l', `x${tok}`)
        await press(term, 'Enter', 'Enter')
        // The detail pane: its active task, by one request to that worker.
        await term.waitFor(new RegExp(`Active tasks \\(1\\):\\n {2}${id}  wfctl_tasks\\.sleepy`))

        await press(term, 'm')
        assert.match(flat(await until(term, menuUp, 'the menu')), new RegExp(`selected: ${node} `))
        await choose(term, 'Action: Query tasks by id')
        // Offered from what the pane showed.
        await term.waitFor(new RegExp(`Task ids \\(seen on the selected nodes[\\s\\S]*❯\\s*◯ ${id}  wfctl_tasks\\.sleepy`))
        term.keys('Space')
        term.keys('Enter')
        await term.waitFor(new RegExp(`${id}\\s+active\\s+\\S*sleepy`))

        await choose(term, 'Action: Terminate tasks')
        await term.waitFor(new RegExp(`❯\\s*◯ ${id}`))
        term.keys('Space')
        term.keys('Enter')
        await term.waitFor(/\? Signal/)
        term.keys('-l', 'KILL')
        term.keys('Enter')
        const confirm = flat(await term.waitFor(/\(y\/N\)/))
        assert.match(confirm, new RegExp(`Terminate task ${id} with SIGKILL on ${node} via (redis|amqp)://`))
        term.keys('y')
        term.keys('Enter')
        await term.waitFor(new RegExp(`terminate: ${id}`))

        // Back: the pane of the same worker, read again on return (and with r, until the worker has let the task go).
        await press(term, 'Escape')
        await until(term, (s) => liveUp(s) && new RegExp(`\\n${node} {2}online`).test(s), 'the detail pane again')
        const cleared = await poll(async () => {
          const screen = term.screen()
          if (!/Active tasks \(0\):\n {2}none/.test(screen)) await press(term, 'r')
          return screen
        }, (screen) => /Active tasks \(0\):\n {2}none/.test(screen), 15_000, 1500)
        assert.match(cleared, /Active tasks \(0\):\n {2}none/)
        // The filter and the cursor too.
        await press(term, 'Escape')
        const list = await until(term, (s) => liveUp(s) && new RegExp(`>\\s+${node}\\s+online`).test(s), 'the worker list')
        assert.match(list, new RegExp(`filter "x${tok}": 1 of \\d+`))
        assert.doesNotMatch(list, new RegExp(escape(bystander.node)))
        await press(term, 'q')
        await term.waitFor(/EXIT=0/)
        assert.deepEqual(await space.ns.leftovers(), [])
      } finally {
        term.close()
      }
      const records = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>)
      assert.deepEqual(records.map((r) => [r.via, r.method]), [['top', 'terminate']], JSON.stringify(records))
      assert.deepEqual(records[0].args, {signal: 'KILL', task_id: [id]})
      assert.deepEqual(records[0].target.destination, [worker.node])
      assert.equal(records[0].nodes[worker.node].outcome, 'ok')
      const after = await poll(async () => json(await runWfctl(['inspect', 'active', '-d', worker.node, '-t', '3', '--json', ...space.ns.flags])).replies[worker.node] as {id: string}[], (a) => Array.isArray(a) && !a.some((t) => t.id === id), 15_000, 300)
      assert.ok(!after.some((t) => t.id === id), 'the task no longer runs')
      const ping = await runWfctl(['control', 'ping', '-d', bystander.node, '-t', '3', ...space.ns.flags])
      assert.equal(ping.code, 0, show(ping))
    })
  })
}
