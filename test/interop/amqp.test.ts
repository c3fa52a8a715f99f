// wfctl against real Celery workers on RabbitMQ: a vhost of this file's own for the workers, and a
// second fresh vhost where no worker ever ran.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {createVhost, rabbitctl, rabbitReplyQueues, token} from '../helpers/brokers.js'
import {json, runWfctl} from '../helpers/cli.js'
import {fleetSuite} from './fleet-suite.js'
import {amqpNamespace, show, wf} from './support.js'

type Vhost = Awaited<ReturnType<typeof createVhost>>

let fresh: Vhost

async function exchanges(vhost: string): Promise<string[]> {
  return (await rabbitctl('list_exchanges', '-p', vhost, 'name')).split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'name')
}

fleetSuite(
  'RabbitMQ',
  async () => {
    const [vhost, empty] = await Promise.all([createVhost('wfctl-it'), createVhost('wfctl-it-empty')])
    fresh = empty
    const namespaces = new Map<string, Awaited<ReturnType<typeof amqpNamespace>>>()
    const main = await amqpNamespace(vhost)
    // The suite's custom exchange: its watch is bound before the worker on it starts.
    return {
      worker: {broker: vhost.url},
      main,
      withExchange: (exchange) => {
        const ns = {label: `vhost ${vhost.name}, control exchange ${exchange}`, flags: ['-b', vhost.url, '--control-exchange', exchange], leftovers: async () => {
          if (!namespaces.has(exchange)) namespaces.set(exchange, await amqpNamespace(vhost, exchange))
          return namespaces.get(exchange)!.leftovers()
        }}
        return ns
      },
      // Nothing may be declared in the fresh vhost, not even a watch: listed (a few runs only).
      elsewhere: {label: `fresh vhost ${empty.name}`, flags: ['-b', empty.url], leftovers: () => rabbitReplyQueues(empty.name)},
      replyRouteExists: main.routeExists,
      close: async () => {
        await Promise.allSettled([main.close(), ...[...namespaces.values()].map((n) => n.close())])
        const left = await rabbitReplyQueues(vhost.name)
        await Promise.allSettled([vhost.remove(), empty.remove()])
        if (left.length > 0) throw new Error(`reply queues left in vhost ${vhost.name}: ${left.join(', ')}`)
      },
    }
  },
  (ctx) => {
    test('a fresh vhost where no worker ever ran keeps no exchange of wfctl after ping, status and add-consumer', async () => {
      const ns = ctx.env().elsewhere
      for (const args of [['control', 'ping'], ['status'], ['control', 'add-consumer', `wfq-${token()}`, '-d', ctx.a().node], ['control', 'ping', '--control-exchange', 'custom']]) {
        const run = await wf(ns, [...args, '-t', '1'])
        assert.equal(run.code, 69, `wfctl ${args.join(' ')}: ${show(run)}`)
      }
      const left = (await exchanges(fresh.name)).filter((e) => /pidbox/.test(e))
      assert.deepEqual(left, [], `wfctl created exchanges in a vhost where no worker ever ran: ${left}`)
      assert.deepEqual((await rabbitctl('list_queues', '-p', fresh.name, 'name')).split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'name'), [])
    })

    test('--redis-key-prefix with an amqp:// broker is a usage error (exit 2), nothing sent', async () => {
      const env = ctx.env()
      const run = await wf(env.main, ['control', 'ping', '--redis-key-prefix', 'x:', '--json'])
      assert.equal(run.code, 2, show(run))
      assert.equal(json(run).error.code, 2)
    })

    test('a refused password exits 3 and is masked in the error', async () => {
      const secret = `pw-${token()}`
      const url = ctx.env().worker.broker.replace('guest:guest@', `guest:${secret}@`)
      assert.notEqual(url, ctx.env().worker.broker)
      const run = await runWfctl(['control', 'ping', '-b', url, '-t', '1'])
      assert.equal(run.code, 3, show(run))
      assert.ok(!`${run.stdout}${run.stderr}`.includes(secret), `the password leaked:\n${show(run)}`)
      assert.match(run.stderr, /\*\*\*\*/, show(run))
    })
  },
)
