// The menu explorer (`wfctl inspect --menu` on a terminal; plain `wfctl inspect` opens top's live
// view, test/interop/one-screen.test.ts) driven in a real 80x24 terminal (tmux)
// against real Celery workers, on Redis and on RabbitMQ: pick a node, read its active queues, add a
// consumer, see it, cancel it, quit; and Ctrl-C from the menu. Asserts on what the screen shows and
// on what is left in the broker.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {createVhost, rabbitReplyQueues, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {startWorker, type Worker} from '../helpers/celery.js'
import {runWfctl} from '../helpers/cli.js'
import {Terminal} from '../helpers/tmux.js'
import {choose, menuUp, until} from '../helpers/menu.js'
import {amqpNamespace, activeQueues, deleteKeysWithPrefix, poll, show, sleep, stopAll} from './support.js'

const DB = 1

interface Broker {
  worker: {broker: string; keyPrefix?: string}
  flags: string[]
  leftovers: () => Promise<string[]>
  close: () => Promise<void>
}

async function redisBroker(): Promise<Broker> {
  const prefix = `wfctl-tty-${token()}:`
  const redis = redisClient(DB)
  return {
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix],
    leftovers: () => redisLeftovers(redis, prefix),
    close: async () => {
      await deleteKeysWithPrefix(redis, prefix)
      redis.disconnect()
    },
  }
}

async function amqpBroker(): Promise<Broker> {
  const vhost = await createVhost('wfctl-tty')
  const ns = await amqpNamespace(vhost)
  return {
    worker: {broker: vhost.url},
    flags: ns.flags,
    leftovers: ns.leftovers,
    close: async () => {
      await ns.close()
      const left = await rabbitReplyQueues(vhost.name)
      await vhost.remove()
      if (left.length > 0) throw new Error(`reply queues left in vhost ${vhost.name}: ${left.join(', ')}`)
    },
  }
}

/** Presses a key n times, a little apart, as a person would. */
async function press(term: Terminal, key: string, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    term.keys(key)
    await sleep(40)
  }
}

for (const [label, open] of [['Redis', redisBroker], ['RabbitMQ', amqpBroker]] as const) {
  describe(`the explorer in a terminal, against real workers (${label})`, {timeout: 120_000}, () => {
    let b: Broker
    let one: Worker
    let two: Worker
    const tok = token()
    const queue = `wfq${tok}`

    before(async () => {
      b = await open()
      const started = await Promise.allSettled([startWorker({...b.worker, name: `a${tok}`}), startWorker({...b.worker, name: `b${tok}`})])
      ;[one, two] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as Worker[]
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) throw failed.reason
    })
    after(async () => {
      await stopAll([one, two])
      await b?.close()
    })

    test('pick a node, read its active queues, add a consumer, see it, cancel it, quit (exit 0, nothing left)', async () => {
      const term = new Terminal(['inspect', '--menu', ...b.flags])
      try {
        const first = await until(term, menuUp, 'the menu')
        assert.match(first, new RegExp(`${one.node}\\s+online`))
        assert.match(first, /2 nodes online\./)
        assert.match(first.replace(/\s+/g, ' '), /· 2 nodes · selected: all 2 nodes/)

        await choose(term, 'Pick nodes')
        await term.waitFor(/Nodes \(type to filter/)
        // Typing filters the list down to the one node; Enter picks it.
        term.keys('-l', `a${tok}`)
        await term.waitFor(new RegExp(`filter[^\\n]*a${tok}\\n❯ ${one.node}\\s*\\n\\s*\\n`))
        term.keys('Enter')
        await term.waitFor(new RegExp(`selected:\\s+${one.node}\\s*\\n`))

        await choose(term, 'View: Active queues')
        const queues = await term.waitFor(/QUEUE\s+EXCHANGE\s+ROUTING KEY[\s\S]*node replied[\s\S]*selected/)
        assert.match(queues, new RegExp(`${one.node}\\s+celery\\s+celery \\(direct\\)\\s+celery`))
        assert.doesNotMatch(queues, new RegExp(two.node.replace('.', '\\.') + '\\s+celery'))

        await choose(term, 'Action: Add consumer')
        // The queues the view showed are offered; a new one is typed.
        await term.waitFor(/\? Queue \(type to filter, or a new name\)\s*\n❯ celery/)
        term.keys('-l', queue)
        await term.waitFor(new RegExp(`❯ ${queue} \\(as typed\\)`))
        term.keys('Enter')
        await term.waitFor(new RegExp(`add consumer ${queue}`))
        // Celery applies it after replying: the real celery CLI sees it.
        const added = await poll(() => activeQueues(one.node, b.worker), (q) => q.some((x) => x.name === queue), 10_000)
        assert.ok(added.some((x) => x.name === queue))

        await choose(term, 'View: Active queues')
        await term.waitFor(new RegExp(`${one.node}\\s+${queue}\\s+${queue} \\(direct\\)\\s+${queue}`))

        await choose(term, 'Action: Cancel consumer')
        // Picked from the node's active queues: typing filters them down to the one added.
        await term.waitFor(/\? Queue \(type to filter, or a new name\)\s*\n❯ celery/)
        term.keys('-l', queue.slice(0, 6))
        await term.waitFor(new RegExp(`${queue.slice(0, 6)}\\s*\\n❯ ${queue}\\s*\\n`))
        term.keys('Enter')
        await term.waitFor(new RegExp(`no longer consuming from ${queue}`))
        const cancelled = await poll(() => activeQueues(one.node, b.worker), (q) => !q.some((x) => x.name === queue), 10_000)
        assert.ok(!cancelled.some((x) => x.name === queue))
        assert.ok(!(await activeQueues(two.node, b.worker)).some((x) => x.name === queue), 'the other node was never touched')

        await choose(term, 'Quit')
        await term.waitFor(/EXIT=0/)
        assert.deepEqual(await b.leftovers(), [])
      } finally {
        term.close()
      }
    })

    test('an action asks with validation, and a destructive one confirms naming the nodes; Ctrl-C leaves (exit 130, nothing left)', async () => {
      const term = new Terminal(['inspect', '--menu', ...b.flags])
      try {
        await choose(term, 'Action: Pool shrink')
        await term.waitFor(/\? Processes to remove/)
        await press(term, 'BSpace')
        term.keys('-l', '0')
        term.keys('Enter')
        await term.waitFor(/N must be a positive integer, got "0"/)
        await press(term, 'BSpace')
        term.keys('-l', '1')
        term.keys('Enter')
        const confirm = (await term.waitFor(/\(y\/N\)/)).replace(/\s+/g, ' ')
        assert.match(confirm, new RegExp(`Shrink the pool of all 2 nodes \\((${one.node}, ${two.node})\\) by 1 via `))
        term.keys('C-c')
        await term.waitFor(/EXIT=130/)
        assert.deepEqual(await b.leftovers(), [])
      } finally {
        term.close()
      }
      const stats = await runWfctl(['inspect', 'stats', '-d', `${one.node},${two.node}`, '-t', '5', '--json', ...b.flags])
      assert.equal(stats.code, 0, show(stats))
    })
  })
}

test('without a terminal, the explorer exits 2 and names the non-interactive subcommands', async () => {
  const run = await runWfctl(['inspect', '-b', redisUrl(DB)])
  assert.equal(run.code, 2, show(run))
  assert.match(run.stderr, /^Error: the explorer needs a terminal for its input and output; without one use `wfctl inspect <active\|reserved\|scheduled\|revoked\|registered\|stats\|active-queues/)
  assert.equal(run.stdout, '')
})
