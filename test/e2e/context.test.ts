// `wfctl context list | use | show`, --context and --context a,b, end to end: bin/run.js with HOME,
// XDG_CONFIG_HOME and AIRFLOW_HOME in a temporary directory of the test's own and every broker
// variable removed, so nothing reads the real ~/.config or ~/airflow. Mostly --dry-run and unreachable
// ports; one ping on the real Redis under a key prefix of its own (test/interop/airflow-config.test.ts
// runs against real workers).
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, test} from 'node:test'

import {token} from '../helpers/brokers.ts'
import {json, runWfctl, type CliRun} from '../helpers/cli.ts'
import {freePort} from '../helpers/private-redis.ts'

const roots: string[] = []
after(() => {
  for (const r of roots) rmSync(r, {recursive: true, force: true})
})

/** Every variable that could name a broker, a context or a configuration, removed from the child's environment. */
const SCRUBBED = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL_CMD', 'WFCTL_CONTEXT', 'WFCTL_CONFIG', 'AIRFLOW_CONFIG', 'WFCTL_SENTINEL_PASSWORD']

function sandbox(): {root: string; env: Record<string, string | undefined>; config: string; cfg: string} {
  const root = mkdtempSync(join(tmpdir(), 'wfctl-context-e2e-'))
  roots.push(root)
  mkdirSync(join(root, 'xdg', 'wfctl'), {recursive: true})
  mkdirSync(join(root, 'airflow'), {recursive: true})
  const env: Record<string, string | undefined> = Object.fromEntries(SCRUBBED.map((k) => [k, undefined]))
  Object.assign(env, {HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), AIRFLOW_HOME: join(root, 'airflow')})
  return {root, env, config: join(root, 'xdg', 'wfctl', 'config.yaml'), cfg: join(root, 'airflow', 'airflow.cfg')}
}

function write(path: string, text: string, mode = 0o600): void {
  writeFileSync(path, text, {mode})
  chmodSync(path, mode)
}

const PASSWORD = 'ctx-pass-7731'
const CONFIG = `# wfctl contexts for the e2e test
current: alpha   # the usual one
contexts:
  alpha:
    broker: redis://127.0.0.1:6379/7
    redisKeyPrefix: "alpha:"
  beta:
    broker: amqp://guest:${PASSWORD}@127.0.0.1:5672/beta-vhost
    controlExchange: betax
  gamma:
    brokerCmd: "echo redis://:${PASSWORD}@127.0.0.1:6379/9"
`

function show(run: CliRun): string {
  return `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`
}

function noPassword(run: CliRun): void {
  assert.ok(!run.stdout.includes(PASSWORD) && !run.stderr.includes(PASSWORD), `the password was printed:\n${show(run)}`)
}

describe('wfctl context list', () => {
  test('names, masked brokers, the current one marked; --json', async () => {
    const {env, config} = sandbox()
    write(config, CONFIG)
    const run = await runWfctl(['context', 'list'], {env})
    assert.equal(run.code, 0, show(run))
    const lines = run.stdout.trim().split('\n')
    assert.match(lines[0], /^CURRENT\s+NAME\s+BROKER$/)
    assert.match(lines[1], /^\*\s+alpha\s+redis:\/\/127\.0\.0\.1:6379\/7$/)
    assert.match(lines[2], /^\s+beta\s+amqp:\/\/guest:\*\*\*\*@127\.0\.0\.1:5672\/beta-vhost$/)
    assert.match(lines[3], /^\s+gamma\s+\$\(echo redis:\/\/:\*\*\*\*@127\.0\.0\.1:6379\/9\)$/)
    noPassword(run)
    const j = json(await runWfctl(['context', 'list', '--json'], {env}))
    assert.equal(j.path, config)
    assert.equal(j.current, 'alpha')
    assert.deepEqual(j.contexts.map((c: {name: string; current: boolean}) => [c.name, c.current]), [['alpha', true], ['beta', false], ['gamma', false]])
    assert.equal(j.contexts[1].controlExchange, 'betax')
  })

  test('no file is no contexts, exit 0; WFCTL_CONFIG names the file', async () => {
    const {env, root} = sandbox()
    const none = await runWfctl(['context', 'list', '--json'], {env})
    assert.equal(none.code, 0, show(none))
    assert.deepEqual({exists: json(none).exists, contexts: json(none).contexts}, {exists: false, contexts: []})
    const mine = join(root, 'elsewhere.yaml')
    write(mine, 'contexts:\n  only:\n    broker: redis://127.0.0.1:6379/3\n')
    const run = await runWfctl(['context', 'list', '--json'], {env: {...env, WFCTL_CONFIG: mine}})
    assert.deepEqual(json(run).contexts.map((c: {name: string}) => c.name), ['only'])
  })
})

describe('wfctl context use', () => {
  test('rewrites current: and nothing else; the file is its owner\'s only; an unknown name is exit 2', async () => {
    const {env, config} = sandbox()
    // No password in it: a file others may read is fine then, and the rewritten one is its owner's only.
    const plain = CONFIG.replace(`guest:${PASSWORD}@`, '').replace(`:${PASSWORD}@`, '')
    write(config, plain, 0o644)
    const run = await runWfctl(['context', 'use', 'beta'], {env})
    assert.equal(run.code, 0, show(run))
    assert.equal(run.stdout.trim(), `current context: beta (${config})`)
    assert.equal(readFileSync(config, 'utf8'), plain.replace('current: alpha   #', 'current: beta   #'))
    assert.equal(statSync(config).mode & 0o777, 0o600)
    const shown = json(await runWfctl(['context', 'show', '--json'], {env}))
    assert.deepEqual(shown.context, {name: 'beta', path: config, explicit: false})
    const bad = await runWfctl(['context', 'use', 'nope'], {env})
    assert.equal(bad.code, 2, show(bad))
    assert.match(bad.stderr, /^Error: context use names no context "nope" in .* \(it has alpha, beta, gamma\)\n$/)
  })
})

describe('wfctl context show: the broker in effect and where each setting came from', () => {
  async function source(env: Record<string, string | undefined>, args: string[] = []): Promise<{broker: {value: string; source: string; kind: string}; all: any}> {
    const run = await runWfctl(['context', 'show', '--json', ...args], {env})
    assert.equal(run.code, 0, show(run))
    noPassword(run)
    const j = json(run)
    return {broker: j.settings.broker, all: j}
  }

  test('each row of the precedence table', async () => {
    const {env, config, cfg} = sandbox()
    write(config, CONFIG)
    write(cfg, '[celery]\nbroker_url = redis://127.0.0.1:6379/13\n[celery_broker_transport_options]\nglobal_keyprefix = af:\n')
    const full = {...env, WFCTL_BROKER_URL: 'redis://127.0.0.1:6379/1', CELERY_BROKER_URL: 'redis://127.0.0.1:6379/2', AIRFLOW__CELERY__BROKER_URL: 'redis://127.0.0.1:6379/3', AIRFLOW__CELERY__BROKER_URL_CMD: 'echo redis://127.0.0.1:6379/4'}
    assert.deepEqual((await source(full, ['-b', 'redis://127.0.0.1:6379/0', '--context', 'beta'])).broker, {value: 'redis://127.0.0.1:6379/0', source: 'flag --broker', kind: 'flag'})
    const named = await source(full, ['--context', 'beta'])
    assert.deepEqual(named.broker, {value: 'amqp://guest:****@127.0.0.1:5672/beta-vhost', source: `context beta (broker, ${config})`, kind: 'context'})
    assert.equal(named.all.settings['control-exchange'].value, 'betax')
    assert.equal((await source({...full, WFCTL_CONTEXT: 'beta'})).broker.kind, 'context')
    // show NAME is --context NAME.
    assert.equal((await source(full, ['gamma'])).broker.value, 'redis://:****@127.0.0.1:6379/9')
    const order = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL_CMD']
    let left: Record<string, string | undefined> = full
    for (const [i, name] of order.entries()) {
      assert.deepEqual((await source(left)).broker, {value: `redis://127.0.0.1:6379/${i + 1}`, source: `env ${name}`, kind: 'env'})
      left = {...left, [name]: undefined}
    }
    const current = await source(left)
    assert.deepEqual(current.broker, {value: 'redis://127.0.0.1:6379/7', source: `context alpha (broker, ${config})`, kind: 'context'})
    assert.equal(current.all.settings['redis-key-prefix'].value, 'alpha:')
    rmSync(config)
    const airflow = await source(left)
    assert.deepEqual(airflow.broker, {value: 'redis://127.0.0.1:6379/13', source: `airflow.cfg ${cfg} line 2 ([celery] broker_url)`, kind: 'airflow'})
    assert.equal(airflow.all.settings['redis-key-prefix'].value, 'af:')
    rmSync(cfg)
    assert.deepEqual((await source(left)).broker, {value: 'redis://localhost:6379/0', source: 'default', kind: 'default'})
  })

  test('the table names the files once and each source briefly', async () => {
    const {env, config} = sandbox()
    write(config, CONFIG)
    const run = await runWfctl(['context', 'show', '--control-exchange', 'mine'], {env})
    assert.equal(run.code, 0, show(run))
    assert.match(run.stdout, new RegExp(`^context: +alpha \\(current: in ${config.replace(/[.]/g, '\\.')}\\)\n`))
    assert.match(run.stdout, /\nbroker +redis:\/\/127\.0\.0\.1:6379\/7 +context alpha \(broker\)\n/)
    assert.match(run.stdout, /\ncontrol-exchange +mine +flag --control-exchange\n/)
    assert.match(run.stdout, /\nconnect-timeout +3 s +default\n/)
  })

  test('settings that cannot be used: shown, with the reason, exit 2', async () => {
    const {env, config} = sandbox()
    write(config, 'contexts:\n  r:\n    broker: amqp://127.0.0.1//\n    redisKeyPrefix: "p:"\n  bad:\n    broker: redis://127.0.0.1/0\n    controlExchange: "a b"\n')
    const run = await runWfctl(['context', 'show', 'r'], {env})
    assert.equal(run.code, 2, show(run))
    assert.match(run.stderr, /Error: redisKeyPrefix of context r \(.*\) applies to Redis brokers only/)
    const status = await runWfctl(['status', '--dry-run', '--context', 'bad'], {env})
    assert.equal(status.code, 2, show(status))
    assert.match(status.stderr, /^Error: invalid controlExchange of context bad \(.*config\.yaml\) "a b"\n$/)
    // Airflow's global_keyprefix on a RabbitMQ broker is ignored, as kombu ignores it.
    const {env: env2, cfg} = sandbox()
    write(cfg, '[celery]\nbroker_url = amqp://guest:guest@127.0.0.1:5672//\n[celery_broker_transport_options]\nglobal_keyprefix = af:\n')
    const dry = await runWfctl(['status', '--dry-run'], {env: env2})
    assert.equal(dry.code, 0, show(dry))
  })
})

describe('--context on a command', () => {
  test('the context\'s broker and namespace reach the request (--dry-run)', async () => {
    const {env, config} = sandbox()
    write(config, CONFIG)
    const alpha = await runWfctl(['status', '--dry-run'], {env})
    assert.equal(alpha.code, 0, show(alpha))
    assert.match(alpha.stdout, /\nto: +channel alpha:\/7\.celery\.pidbox\n/)
    const beta = await runWfctl(['control', 'ping', '--dry-run', '--context', 'beta'], {env})
    assert.match(beta.stdout, /\nto: +exchange betax\.pidbox in vhost "beta-vhost"|\nto: +.*betax\.pidbox/)
    noPassword(beta)
  })

  test('a file holding a password that others may read is refused by every command, as ssh refuses such keys', async () => {
    const {env, config} = sandbox()
    write(config, CONFIG, 0o644)
    for (const args of [['status', '--dry-run'], ['context', 'list'], ['context', 'show']]) {
      const run = await runWfctl(args, {env})
      assert.equal(run.code, 2, show(run))
      assert.equal(run.stderr, `Error: ${config}: holds a password and is readable by others (mode 0644): run chmod 600 ${config}\n`)
      noPassword(run)
    }
    // -b never reads the file.
    const b = await runWfctl(['status', '--dry-run', '-b', 'redis://127.0.0.1:6379/0'], {env})
    assert.equal(b.code, 0, show(b))
  })

  test('an unknown key is one line naming it', async () => {
    const {env, config} = sandbox()
    write(config, 'contexts:\n  p:\n    broker: redis://127.0.0.1/0\n    redisKeyPrefx: "x"\n')
    const run = await runWfctl(['status', '--dry-run'], {env: {...env, WFCTL_CONTEXT: 'p'}})
    assert.equal(run.code, 2, show(run))
    assert.match(run.stderr, /^Error: .*config\.yaml: unknown key "contexts\.p\.redisKeyPrefx" \(a context takes broker, brokerCmd, /)
  })

  test('a brokerCmd URL is masked in every message, also where a client library would echo it', async () => {
    const {env, config} = sandbox()
    const port = await freePort()
    write(config, `contexts:\n  down:\n    brokerCmd: "echo redis://:${PASSWORD}@127.0.0.1:${port}/0"\n`)
    for (const args of [['status', '--context', 'down', '--connect-timeout', '1'], ['status', '--context', 'down', '--connect-timeout', '1', '--json']]) {
      const run = await runWfctl(args, {env})
      assert.equal(run.code, 3, show(run))
      noPassword(run)
    }
    write(config, 'contexts:\n  failing:\n    brokerCmd: "sh -c \'echo ctx-pass-7731; exit 4\'"\n')
    const failing = await runWfctl(['status', '--context', 'failing'], {env})
    assert.equal(failing.code, 2, show(failing))
    assert.match(failing.stderr, /^Error: brokerCmd of context failing ".*" failed \(exit 4\); its output is not shown/)
  })
})

describe('--context a,b (or all) on a read-only command', () => {
  test('runs once per context, every line labelled with its context; --json is {"contexts": {NAME: ...}}', async () => {
    const {env, config} = sandbox()
    write(config, CONFIG)
    const run = await runWfctl(['status', '--dry-run', '--context', 'alpha,beta'], {env})
    assert.equal(run.code, 0, show(run))
    const lines = run.stdout.split('\n').filter((l) => l !== '')
    assert.ok(lines.every((l) => /^(alpha|beta ) {2}/.test(l)), run.stdout)
    assert.ok(lines.some((l) => /^alpha  to: +channel alpha:\/7\.celery\.pidbox$/.test(l)), run.stdout)
    assert.ok(lines.some((l) => /^beta {3}to: .*betax\.pidbox/.test(l)), run.stdout)
    noPassword(run)
    const all = json(await runWfctl(['inspect', 'active', '--dry-run', '--context', 'all', '--json'], {env}))
    assert.deepEqual(Object.keys(all.contexts), ['alpha', 'beta', 'gamma'])
    assert.equal(all.contexts.alpha.body.method, 'active')
    assert.match(all.contexts.gamma.broker, /^redis:\/\/:\*\*\*\*@127\.0\.0\.1:6379\/9$/)
  })

  test('the exit code is the worst of the contexts; each context\'s error is labelled', async () => {
    const {env, config} = sandbox()
    const port = await freePort()
    write(config, `contexts:\n  ok:\n    broker: redis://127.0.0.1:6379/0\n    redisKeyPrefix: "wfctl-ctx-${token()}:"\n  down:\n    broker: redis://127.0.0.1:${port}/0\n`)
    const run = await runWfctl(['control', 'ping', '--context', 'down,ok', '--dry-run'], {env})
    assert.equal(run.code, 0, show(run))
    const down = await runWfctl(['control', 'ping', '--context', 'ok,down', '-t', '0.2', '--connect-timeout', '1', '--json'], {env})
    assert.equal(down.code, 3, show(down))
    const j = json(down)
    assert.deepEqual(Object.keys(j.contexts), ['ok', 'down'])
    assert.equal(j.contexts.down.error.code, 3)
    const text = await runWfctl(['status', '--context', 'ok,down', '-t', '0.2', '--connect-timeout', '1'], {env})
    assert.equal(text.code, 3, show(text))
    assert.match(text.stderr, /^down {2}Error: /m)
  })

  test('a command that changes workers, or one not in the read-only list, refuses a list (exit 2, nothing sent)', async () => {
    const {env, config} = sandbox()
    write(config, CONFIG)
    for (const args of [['control', 'shutdown', '--all', '-y'], ['control', 'pool-grow', '1'], ['doctor'], ['call', 'ping'], ['context', 'show']]) {
      const run = await runWfctl([...args, '--context', 'alpha,beta'], {env})
      assert.equal(run.code, 2, `${args.join(' ')}: ${show(run)}`)
      assert.match(run.stderr, /^Error: several contexts \(--context alpha,beta\) are for read-only commands only/)
    }
    const unknown = await runWfctl(['status', '--context', 'alpha,nope'], {env})
    assert.equal(unknown.code, 2, show(unknown))
    assert.match(unknown.stderr, /--context names no context "nope"/)
    // check: misuse is UNKNOWN (3), and nagios / prometheus speak for one fleet.
    const nagios = await runWfctl(['check', '--context', 'alpha,beta', '--format', 'nagios'], {env})
    assert.equal(nagios.code, 3, show(nagios))
    const checkJson = await runWfctl(['check', '--context', 'alpha,beta', '--format', 'json', '--dry-run'], {env})
    assert.equal(checkJson.code, 0, show(checkJson))
    assert.deepEqual(Object.keys(json(checkJson).contexts), ['alpha', 'beta'])
  })
})

describe('what start-up reads', () => {
  // The YAML parser is bundled and evaluated only at the import() of a context file's read
  // (src/fleet/contexts.ts); what can be seen from outside is that the file is not opened unless reached.
  test('the context file only when the broker is not given by a flag or the environment', async () => {
    const {env, config} = sandbox()
    // A directory where the file should be: an error as soon as anything tries to read it.
    mkdirSync(config)
    const b = await runWfctl(['status', '--dry-run', '-b', 'redis://127.0.0.1:6379/0'], {env})
    assert.equal(b.code, 0, show(b))
    const e = await runWfctl(['status', '--dry-run'], {env: {...env, WFCTL_BROKER_URL: 'redis://127.0.0.1:6379/0'}})
    assert.equal(e.code, 0, show(e))
    const reached = await runWfctl(['status', '--dry-run'], {env})
    assert.equal(reached.code, 2, show(reached))
    assert.equal(reached.stderr, `Error: ${config}: is not a file\n`)
  })
})
