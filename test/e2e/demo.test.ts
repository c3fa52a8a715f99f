// `npm run demo` (scripts/demo.mjs) as a newcomer runs it: against the Redis on 127.0.0.1:6379,
// against a private redis-server it starts when nothing answers, against RabbitMQ, and with Ctrl-C.
// Each run must show every step's real result, exit as documented and leave nothing on the broker.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, test} from 'node:test'

import {createVhost, keysWithPrefix, rabbitctl, redisClient, token} from '../helpers/brokers.js'
import {ROOT} from '../helpers/cli.js'
import {freePort} from '../helpers/private-redis.js'

const DEMO = join(ROOT, 'scripts', 'demo.mjs')
const DB = 14 // the demo's own DB

interface DemoRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

interface DemoOptions {
  env?: Record<string, string>
  /** Sends SIGINT once stdout holds this text: to the demo alone, or to its whole process group (a terminal's Ctrl-C). */
  interruptAt?: string
  interruptGroup?: boolean
}

/** Runs the demo as `npm run demo` does, without a terminal, with the test's own names. */
function runDemo(id: string, opts: DemoOptions = {}): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = {...process.env, NO_COLOR: '1', WFCTL_AUDIT_LOG: 'off', WFCTL_DEMO_SKIP_BUILD: '1', WFCTL_DEMO_ID: id, ...opts.env}
    for (const key of ['WFCTL_DEMO_BROKER', 'WFCTL_DEMO_REDIS_PORT']) if (!(opts.env && key in opts.env)) delete env[key]
    const child = spawn(process.execPath, [DEMO], {cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.interruptGroup})
    let stdout = ''
    let stderr = ''
    let sent = false
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (d: string) => {
      stdout += d
      if (opts.interruptAt && !sent && stdout.includes(opts.interruptAt)) {
        sent = true
        if (opts.interruptGroup) process.kill(-child.pid!, 'SIGINT')
        else child.kill('SIGINT')
      }
    })
    child.stderr.on('data', (d: string) => (stderr += d))
    const killer = setTimeout(() => (opts.interruptGroup ? process.kill(-child.pid!, 'SIGKILL') : child.kill('SIGKILL')), 90_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      resolve({code, signal, stdout, stderr})
    })
  })
}

const newId = () => `wfctl-demo-test-${token()}`
const hostOf = (id: string) => id.replace(/^wfctl-/, '')
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Every line pattern, in this order, in the output. */
function assertInOrder(output: string, patterns: RegExp[]) {
  let from = 0
  for (const pattern of patterns) {
    const m = pattern.exec(output.slice(from))
    assert.ok(m, `expected ${pattern} after offset ${from} in:\n${output}`)
    from += m.index + m[0].length
  }
}

/** What a full run must show: each command line, then that command's real result. */
function assertSteps(run: DemoRun, id: string, broker: RegExp) {
  const host = escape(hostOf(id))
  const w = (n: number) => `worker${n}@${host}`
  assertInOrder(run.stdout, [
    new RegExp(`^\\$ wfctl simulate --workers 3 --name-prefix worker --hostname ${host} --queues celery,reports -b ${broker.source} --control-exchange ${escape(id)}.* &$`, 'm'),
    new RegExp(`^3 simulated workers \\(${w(1)}, ${w(2)}, ${w(3)}\\) on `, 'm'),
    new RegExp(`^\\$ wfctl status -b ${broker.source} --control-exchange ${escape(id)}`, 'm'),
    new RegExp(`^${w(1)} +online +\\d+ ms$`, 'm'),
    new RegExp(`^${w(3)} +online +\\d+ ms$`, 'm'),
    /^3 nodes online\.$/m,
    /^\$ wfctl inspect stats --expect 3 /m,
    new RegExp(`^${w(1)} +\\d+ +\\d+s +prefork 4 +0 +16 `, 'm'),
    /^3 nodes replied \(\d+ ms\)$/m,
    /^\$ wfctl check --expect 3 --queue reports /m,
    /^OK: 3\/3 workers, queues reports consumed$/m,
    new RegExp(`^  ${w(2)} +celery, reports$`, 'm'),
    new RegExp(`^\\$ wfctl control add-consumer emails -d ${w(2)} `, 'm'),
    new RegExp(`^${w(2)} +OK +\\d+ ms +add consumer emails$`, 'm'),
    /^1 node replied \(\d+ ms\)$/m,
    new RegExp(`^\\$ wfctl inspect active-queues -d ${w(2)} `, 'm'),
    new RegExp(`^${w(2)} +celery +celery \\(direct\\) +celery$`, 'm'),
    new RegExp(`^${w(2)} +emails +emails \\(direct\\) +emails$`, 'm'),
    /^\$ kill -INT %1/m,
    /^wfctl simulate exited 130/m,
    /^✔ The broker is clean: /m,
    /^Next: wfctl status -b /m,
  ])
  // Only worker2 took the new queue; nothing went wrong on the way.
  assert.equal(run.stdout.match(/emails \(direct\)/g)?.length, 1)
  assert.doesNotMatch(run.stdout, /^(warning|error):/m)
}

/** Keys and binding-set members on a Redis DB that hold the demo's names. */
async function redisTraces(port: number, id: string): Promise<string[]> {
  const {Redis} = await import('ioredis')
  const redis = port === 6379 ? redisClient(DB) : new Redis({host: '127.0.0.1', port, db: DB, maxRetriesPerRequest: 1})
  try {
    const keys = [...(await keysWithPrefix(redis, `${id}:`)), ...(await keysWithPrefix(redis, '')).filter((k) => k.includes(id) || k.includes(`@${hostOf(id)}.`))]
    const members: string[] = []
    for (const set of ['_kombu.binding.celery.pidbox', '_kombu.binding.reply.celery.pidbox', '_kombu.binding.celeryev']) {
      if ((await redis.type(set)) === 'set') members.push(...(await redis.smembers(set)).filter((m) => m.includes(hostOf(id))).map((m) => `${set} ${m}`))
    }
    return [...new Set([...keys, ...members])]
  } finally {
    redis.disconnect()
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    socket.on('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}


describe('npm run demo', () => {
  test('on the Redis of 127.0.0.1:6379: every step with its real result, exit 0, nothing left', async () => {
    const id = newId()
    const run = await runDemo(id)
    assert.equal(run.code, 0, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    assert.equal(run.stderr, '')
    assert.match(run.stdout, new RegExp(`^wfctl demo: 3 simulated Celery workers on redis://127\\.0\\.0\\.1:6379/14, under names of their own \\(control exchange ${escape(id)}, key prefix ${escape(id)}:\\)`, 'm'))
    assertSteps(run, id, new RegExp(escape(`redis://127.0.0.1:6379/${DB}`)))
    assert.match(run.stdout, new RegExp(`nothing under the key prefix ${escape(id)}: is left`))
    assert.deepEqual(await redisTraces(6379, id), [])
  })

  test('with nothing on the probed port: a private redis-server, stopped and removed at the end', async (t) => {
    const id = newId()
    const probed = await freePort()
    // The demo's own temporary folder (TMPDIR), so that only what this demo created is looked at.
    const tmp = mkdtempSync(join(tmpdir(), 'wfctl-demo-test-'))
    t.after(() => rmSync(tmp, {recursive: true, force: true}))
    const run = await runDemo(id, {env: {WFCTL_DEMO_REDIS_PORT: String(probed), TMPDIR: tmp}})
    assert.equal(run.code, 0, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    const m = new RegExp(`^demo: no Redis answers on 127\\.0\\.0\\.1:${probed}: started a private redis-server on 127\\.0\\.0\\.1:(\\d+) \\(stopped at the end\\)$`, 'm').exec(run.stdout)
    assert.ok(m, run.stdout)
    const port = Number(m[1])
    assert.notEqual(port, probed)
    assertSteps(run, id, new RegExp(escape(`redis://127.0.0.1:${port}/${DB}`)))
    assert.equal(await listening(port), false, 'the private redis-server still runs')
    assert.deepEqual(readdirSync(tmp), [], 'the private server directory is left behind')
  })

  test('on RabbitMQ (WFCTL_DEMO_BROKER): password masked, no queue or exchange of its own left', async () => {
    const vhost = await createVhost('wfctl-demo-test')
    const id = newId()
    try {
      const run = await runDemo(id, {env: {WFCTL_DEMO_BROKER: vhost.url}})
      assert.equal(run.code, 0, `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
      assert.ok(!`${run.stdout}${run.stderr}`.includes('guest:guest'), 'password shown')
      assertSteps(run, id, new RegExp(`'${escape(vhost.url.replace('guest:guest@', 'guest:****@'))}'`))
      assert.doesNotMatch(run.stdout, /--redis-key-prefix/)
      const queues = await rabbitctl('list_queues', '-p', vhost.name, 'name')
      const exchanges = await rabbitctl('list_exchanges', '-p', vhost.name, 'name')
      assert.deepEqual(`${queues}\n${exchanges}`.split('\n').filter((l) => l.includes(hostOf(id))), [])
      // Every connection of the demo is closed.
      assert.equal((await rabbitctl('list_connections', 'vhost')).split('\n').filter((l) => l.trim() === vhost.name).length, 0)
    } finally {
      await vhost.remove()
    }
  })

  for (const group of [false, true]) {
    test(`Ctrl-C ${group ? 'on a terminal (the whole process group)' : 'to the demo alone'}: exit 130, fleet stopped, nothing left`, async () => {
      const id = newId()
      const run = await runDemo(id, {interruptAt: '$ wfctl inspect stats', interruptGroup: group})
      assert.equal(run.code, 130, `exit ${run.code} ${run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
      assert.match(run.stdout, /^demo: interrupted, stopping the simulated fleet$/m)
      assert.doesNotMatch(run.stdout, /The broker is clean/)
      assert.deepEqual(await redisTraces(6379, id), [])
    })
  }
})

