// Where the broker settings come from: the precedence table row by row, airflow.cfg's dialect
// (Python's configparser and shlex as the oracles), the context file's errors and its permissions.
// Every resolution gets an environment of its own, with HOME, XDG_CONFIG_HOME and AIRFLOW_HOME in a
// temporary directory: nothing here reads ~/.config or ~/airflow.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, test} from 'node:test'

import {UsageError} from '../../src/errors.ts'
import {AirflowConfig, expandEnvVar, parseIni, withAirflowTls} from '../../src/fleet/airflow-config.ts'
import {holdsSecret, loadContexts, parseContexts, useContext, withCurrentLine} from '../../src/fleet/contexts.ts'
import {contextList, describeSource, resolvedSecrets, resolveSettings, runBrokerCommand, shlexSplit, type ResolveOptions, type Settings} from '../../src/fleet/settings.ts'
import {PYTHON} from '../helpers/celery.ts'

const roots: string[] = []
after(() => {
  for (const r of roots) rmSync(r, {recursive: true, force: true})
})

/** A temporary home: HOME, XDG_CONFIG_HOME and AIRFLOW_HOME inside it, and files written under it. */
function home(files: Record<string, string> = {}, mode = 0o600): {root: string; env: NodeJS.ProcessEnv; config: string; cfg: string} {
  const root = mkdtempSync(join(tmpdir(), 'wfctl-settings-'))
  roots.push(root)
  mkdirSync(join(root, 'xdg', 'wfctl'), {recursive: true})
  mkdirSync(join(root, 'airflow'), {recursive: true})
  const env: NodeJS.ProcessEnv = {HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), AIRFLOW_HOME: join(root, 'airflow'), PATH: process.env.PATH}
  for (const [name, text] of Object.entries(files)) {
    const path = join(root, name)
    mkdirSync(join(path, '..'), {recursive: true})
    writeFileSync(path, text, {mode})
    chmodSync(path, mode)
  }
  return {root, env, config: join(root, 'xdg', 'wfctl', 'config.yaml'), cfg: join(root, 'airflow', 'airflow.cfg')}
}

const CONTEXTS = `current: cur
contexts:
  cur:
    broker: redis://127.0.0.1:6379/11
    redisKeyPrefix: "cur:"
    controlExchange: curx
  named:
    broker: amqp://guest:guest@127.0.0.1:5672/named
    controlExchange: namedx
    connectTimeout: 7
  cmd:
    brokerCmd: "echo redis://:from-a-command@127.0.0.1:6379/12"
`
const AIRFLOW_CFG = `[celery]
broker_url = redis://127.0.0.1:6379/13
[celery_broker_transport_options]
global_keyprefix = af:
master_name = airmaster
`

async function resolve(env: NodeJS.ProcessEnv, flags: ResolveOptions['flags'] = {}, context?: string): Promise<Settings> {
  return resolveSettings({flags, env, context})
}

async function refused(work: () => Promise<unknown>, pattern: RegExp): Promise<string> {
  try {
    await work()
  } catch (error) {
    assert.ok(error instanceof UsageError, `not a usage error: ${(error as Error).stack}`)
    assert.match(error.message, pattern)
    assert.ok(!error.message.includes('\n'), `more than one line: ${error.message}`)
    return error.message
  }
  assert.fail(`not refused (expected ${pattern})`)
}

describe('the precedence table, highest first', () => {
  const all = () => {
    const h = home({'xdg/wfctl/config.yaml': CONTEXTS, 'airflow/airflow.cfg': AIRFLOW_CFG})
    h.env.WFCTL_BROKER_URL = 'redis://127.0.0.1:6379/1'
    h.env.CELERY_BROKER_URL = 'redis://127.0.0.1:6379/2'
    h.env.AIRFLOW__CELERY__BROKER_URL = 'redis://127.0.0.1:6379/3'
    h.env.AIRFLOW__CELERY__BROKER_URL_CMD = 'echo redis://127.0.0.1:6379/4'
    return h
  }

  test('1. a flag beats every other source', async () => {
    const {env} = all()
    env.WFCTL_CONTEXT = 'named'
    const s = await resolve(env, {broker: 'redis://127.0.0.1:6379/0', context: 'named'})
    assert.equal(s.broker.value, 'redis://127.0.0.1:6379/0')
    assert.deepEqual(s.broker.source, {kind: 'flag', flag: '--broker'})
    assert.equal(describeSource(s.broker.source), 'flag --broker')
  })

  test('2. --context beats the environment, the current context and airflow.cfg; WFCTL_CONTEXT is the same row, below --context', async () => {
    const {env, config} = all()
    const s = await resolve(env, {context: 'named'})
    assert.equal(s.broker.value, 'amqp://guest:guest@127.0.0.1:5672/named')
    assert.deepEqual(s.broker.source, {kind: 'context', name: 'named', path: config, key: 'broker'})
    assert.deepEqual(s.context, {name: 'named', path: config, explicit: true})
    assert.equal(s.controlExchange.value, 'namedx')
    assert.equal(s.connectTimeout.value, '7')
    env.WFCTL_CONTEXT = 'named'
    assert.equal((await resolve(env)).broker.value, 'amqp://guest:guest@127.0.0.1:5672/named')
    assert.equal((await resolve(env, {context: 'cur'})).broker.value, 'redis://127.0.0.1:6379/11')
  })

  test('3. then WFCTL_BROKER_URL, CELERY_BROKER_URL, AIRFLOW__CELERY__BROKER_URL, AIRFLOW__CELERY__BROKER_URL_CMD, in that order', async () => {
    const {env} = all()
    const order = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL_CMD']
    for (const [i, name] of order.entries()) {
      const s = await resolve(env)
      assert.equal(s.broker.value, `redis://127.0.0.1:6379/${i + 1}`, name)
      assert.deepEqual(s.broker.source, {kind: 'env', name})
      assert.equal(s.context, undefined)
      delete env[name]
    }
  })

  test('4. then the current context of the context file', async () => {
    const {env, config} = all()
    for (const k of ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL_CMD']) delete env[k]
    const s = await resolve(env)
    assert.equal(s.broker.value, 'redis://127.0.0.1:6379/11')
    assert.deepEqual(s.context, {name: 'cur', path: config, explicit: false})
    assert.equal(s.redisKeyPrefix.value, 'cur:')
    assert.equal(s.controlExchange.value, 'curx')
  })

  test('5. then airflow.cfg, with its transport options', async () => {
    const {env, cfg} = home({'airflow/airflow.cfg': AIRFLOW_CFG})
    const s = await resolve(env)
    assert.equal(s.broker.value, 'redis://127.0.0.1:6379/13')
    assert.deepEqual(s.broker.source, {kind: 'airflow', path: cfg, key: '[celery] broker_url', line: 2})
    assert.equal(describeSource(s.broker.source), `airflow.cfg ${cfg} line 2 ([celery] broker_url)`)
    assert.equal(s.redisKeyPrefix.value, 'af:')
    assert.equal(s.sentinelMaster.value, 'airmaster')
    // A context file without current: does not stop the search.
    const h = home({'xdg/wfctl/config.yaml': CONTEXTS.replace('current: cur\n', ''), 'airflow/airflow.cfg': AIRFLOW_CFG})
    assert.equal((await resolve(h.env)).broker.value, 'redis://127.0.0.1:6379/13')
  })

  test('6. then redis://localhost:6379/0, with every other default', async () => {
    const s = await resolve(home().env)
    assert.equal(s.broker.value, 'redis://localhost:6379/0')
    assert.deepEqual(s.broker.source, {kind: 'default'})
    assert.equal(s.controlExchange.value, 'celery')
    assert.equal(s.redisKeyPrefix.value, '')
    assert.equal(s.connectTimeout.value, '3')
    for (const k of ['sentinelMaster', 'sentinelPassword', 'tlsCa', 'tlsCert', 'tlsKey'] as const) assert.equal(s[k].value, undefined, k)
  })

  test('every other setting: its flag, else the named context, else the source of the broker, else its default', async () => {
    const {env} = all()
    // A flag over the named context.
    const s = await resolve(env, {context: 'named', 'control-exchange': 'flagx', 'connect-timeout': '9'})
    assert.equal(s.controlExchange.value, 'flagx')
    assert.deepEqual(s.controlExchange.source, {kind: 'flag', flag: '--control-exchange'})
    assert.equal(s.connectTimeout.value, '9')
    // -b with --context: the context's namespace on the flag's broker.
    const b = await resolve(env, {broker: 'redis://127.0.0.1:6379/0', context: 'cur'})
    assert.equal(b.redisKeyPrefix.value, 'cur:')
    // A broker from WFCTL_BROKER_URL takes nothing from the current context or airflow.cfg.
    const e = await resolve(env)
    assert.equal(e.redisKeyPrefix.value, '')
    assert.equal(e.controlExchange.value, 'celery')
    assert.equal(e.sentinelMaster.value, undefined)
    // A broker from AIRFLOW__CELERY__BROKER_URL takes Airflow's other settings (the file's, the environment's over them).
    delete env.WFCTL_BROKER_URL
    delete env.CELERY_BROKER_URL
    const a = await resolve(env)
    assert.deepEqual(a.broker.source, {kind: 'env', name: 'AIRFLOW__CELERY__BROKER_URL'})
    assert.equal(a.redisKeyPrefix.value, 'af:')
    assert.equal(a.redisKeyPrefix.source.kind, 'airflow')
    env.AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX = 'envaf:'
    const a2 = await resolve(env)
    assert.equal(a2.redisKeyPrefix.value, 'envaf:')
    assert.deepEqual(a2.redisKeyPrefix.source, {kind: 'env', name: 'AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX'})
    // The current context's settings never land on a broker from elsewhere.
    assert.equal(a2.controlExchange.value, 'celery')
  })

  test('WFCTL_SENTINEL_PASSWORD stands in for a flag; sentinelPassword of a context and sentinel_kwargs of airflow.cfg otherwise', async () => {
    const h = home({'xdg/wfctl/config.yaml': 'contexts:\n  s:\n    broker: sentinel://127.0.0.1:26379\n    sentinelMaster: m\n    sentinelPassword: sentinel-secret\n'})
    const s = await resolve(h.env, {context: 's'})
    assert.equal(s.sentinelPassword.value, 'sentinel-secret')
    assert.equal(s.sentinelMaster.value, 'm')
    h.env.WFCTL_SENTINEL_PASSWORD = 'from-the-env'
    assert.deepEqual((await resolve(h.env, {context: 's'})).sentinelPassword, {value: 'from-the-env', source: {kind: 'env', name: 'WFCTL_SENTINEL_PASSWORD'}})
    const a = home({'airflow/airflow.cfg': '[celery]\nbroker_url = sentinel://127.0.0.1:26379\n[celery_broker_transport_options]\nmaster_name = m\nsentinel_kwargs = {"password": "kw-secret"}\n'})
    assert.equal((await resolve(a.env)).sentinelPassword.value, 'kw-secret')
  })
})

describe('what is read, and only when it is reached', () => {
  const broken = {'xdg/wfctl/config.yaml': 'contexts: [oops\n', 'airflow/airflow.cfg': 'no section header here\n'}

  test('with -b or a broker variable, neither the context file nor airflow.cfg is opened, and no command runs', async () => {
    const {env, root} = home(broken)
    const marker = join(root, 'ran')
    env.AIRFLOW__CELERY__BROKER_URL_CMD = `touch ${marker}`
    assert.equal((await resolve(env, {broker: 'redis://127.0.0.1:6379/0'})).broker.value, 'redis://127.0.0.1:6379/0')
    env.CELERY_BROKER_URL = 'redis://127.0.0.1:6379/5'
    assert.equal((await resolve(env)).broker.value, 'redis://127.0.0.1:6379/5')
    assert.throws(() => statSync(marker), /ENOENT/)
  })

  test('a broken context file is an error once it is reached; a broken airflow.cfg once it is', async () => {
    const {env} = home(broken)
    await refused(() => resolve(env), /config\.yaml: line \d+: Flow sequence/)
    const a = home({'airflow/airflow.cfg': broken['airflow/airflow.cfg']})
    await refused(() => resolve(a.env), /airflow\.cfg line 1: an option before any \[section\] header/)
  })

  test('AIRFLOW_CONFIG names the file, as it does for Airflow; no AIRFLOW_HOME means ~/airflow/airflow.cfg', async () => {
    const h = home({'elsewhere.cfg': '[celery]\nbroker_url = redis://127.0.0.1:6379/14\n', 'airflow/airflow.cfg': AIRFLOW_CFG})
    h.env.AIRFLOW_CONFIG = join(h.root, 'elsewhere.cfg')
    assert.equal((await resolve(h.env)).broker.value, 'redis://127.0.0.1:6379/14')
    delete h.env.AIRFLOW_CONFIG
    delete h.env.AIRFLOW_HOME
    assert.equal((await resolve(h.env)).broker.value, 'redis://127.0.0.1:6379/13')
  })
})

describe('airflow.cfg', () => {
  test('broker_url, else broker_url_cmd, else Airflow\'s own default when there is a [celery] section, else nothing', async () => {
    const both = home({'airflow/airflow.cfg': '[celery]\nbroker_url_cmd = echo redis://127.0.0.1:6379/2\nbroker_url = redis://127.0.0.1:6379/1\n'})
    assert.equal((await resolve(both.env)).broker.value, 'redis://127.0.0.1:6379/1')
    const cmd = home({'airflow/airflow.cfg': "[celery]\nbroker_url_cmd = sh -c 'echo redis://127.0.0.1:6379/2'\n"})
    const s = await resolve(cmd.env)
    assert.equal(s.broker.value, 'redis://127.0.0.1:6379/2')
    assert.equal(s.broker.source.kind === 'airflow' && s.broker.source.key, '[celery] broker_url_cmd')
    const bare = home({'airflow/airflow.cfg': '[celery]\nworker_concurrency = 16\n'})
    const d = await resolve(bare.env)
    assert.equal(d.broker.value, 'redis://redis:6379/0')
    assert.match(describeSource(d.broker.source), /Airflow's default/)
    const none = home({'airflow/airflow.cfg': '[core]\nexecutor = LocalExecutor\n'})
    assert.deepEqual((await resolve(none.env)).broker.source, {kind: 'default'})
  })

  test('ssl_active = True is TLS: redis:// is read as rediss://, amqp:// as amqps://, with ssl_cacert, ssl_cert and ssl_key', async () => {
    const h = home({'airflow/airflow.cfg': '[celery]\nbroker_url = redis://127.0.0.1:6380/0\nssl_active = True\nssl_cacert = /etc/ca.pem\nssl_cert = ~/c.pem\nssl_key = /etc/k.pem\n'})
    const s = await resolve(h.env)
    assert.equal(s.broker.value, 'rediss://127.0.0.1:6380/0')
    assert.equal(s.tlsCa.value, '/etc/ca.pem')
    assert.equal(s.tlsCert.value, join(h.root, 'c.pem'))
    assert.equal(s.tlsKey.value, '/etc/k.pem')
    assert.equal(s.notes.length, 1)
    // Off: the files are not used.
    const off = home({'airflow/airflow.cfg': '[celery]\nbroker_url = redis://127.0.0.1:6380/0\nssl_active = f  # off\nssl_cacert = /etc/ca.pem\n'})
    const o = await resolve(off.env)
    assert.equal(o.broker.value, 'redis://127.0.0.1:6380/0')
    assert.equal(o.tlsCa.value, undefined)
    assert.equal(withAirflowTls('amqp://u:p@h//', 'x'), 'amqps://u:p@h//')
    assert.equal(withAirflowTls('pyamqp://h:5671//;amqp://h2//', 'x'), 'amqps://h:5671//;amqps://h2//')
    assert.equal(withAirflowTls('rediss://h/0', 'x'), 'rediss://h/0')
    assert.throws(() => withAirflowTls('sentinel://h:26379', 'x'), /ssl_active is true, but the broker is neither/)
    const bad = home({'airflow/airflow.cfg': '[celery]\nbroker_url = redis://h/0\nssl_active = maybe\n'})
    await refused(() => resolve(bad.env), /"maybe" is not a boolean/)
  })

  test('worker_enable_remote_control = False is said: nobody would answer', async () => {
    const h = home({'airflow/airflow.cfg': '[celery]\nbroker_url = redis://h/0\nworker_enable_remote_control = False\n'})
    assert.match((await resolve(h.env)).notes.join('\n'), /worker_enable_remote_control\) is false/)
  })

  test('values: %% and %(name)s interpolation, $VARS and ~ expanded as Airflow expands them, in the file and in AIRFLOW__ variables', async () => {
    const h = home({'airflow/airflow.cfg': '[DEFAULT]\nhost = 127.0.0.1\n[celery]\npw = p%%40ss\nbroker_url = redis://:%(pw)s@%(host)s:6379/${DB}\n'})
    h.env.DB = '15'
    assert.equal((await resolve(h.env)).broker.value, 'redis://:p%40ss@127.0.0.1:6379/15')
    const e = home()
    e.env.REDIS_PASSWORD = 'expanded-secret'
    e.env.AIRFLOW__CELERY__BROKER_URL = 'redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0'
    assert.equal((await resolve(e.env)).broker.value, 'redis://:expanded-secret@127.0.0.1:6379/0')
    // Celery's and wfctl's own variables are taken as they are.
    e.env.CELERY_BROKER_URL = 'redis://:$REDIS_PASSWORD@127.0.0.1:6379/0'
    assert.equal((await resolve(e.env)).broker.value, 'redis://:$REDIS_PASSWORD@127.0.0.1:6379/0')
    assert.equal(expandEnvVar('$UNKNOWN/${ALSO_UNKNOWN}', {}), '$UNKNOWN/${ALSO_UNKNOWN}')
    assert.equal(expandEnvVar('~/x', {HOME: '/h'}), '/h/x')
    assert.equal(expandEnvVar('a~/x', {HOME: '/h'}), 'a~/x')
  })

  test('a lone "%" is an error, as configparser makes it one (a percent-encoded password is written %%40)', async () => {
    const h = home({'airflow/airflow.cfg': '[celery]\nbroker_url = redis://:p%40ss@h:6379/0\n'})
    const message = await refused(() => resolve(h.env), /line 2: \[celery\] broker_url: a "%" must be written "%%"/)
    assert.ok(!message.includes('p%40ss'))
    await refused(() => resolve(home({'airflow/airflow.cfg': '[celery]\nbroker_url = %(nope)s\n'}).env), /%\(nope\)s names no key/)
    await refused(() => resolve(home({'airflow/airflow.cfg': '[celery]\na = %(b)s\nb = %(a)s\nbroker_url = %(a)s\n'}).env), /nest deeper than 10/)
  })

  test('the INI dialect matches Python\'s configparser, corner by corner', () => {
    const texts = [
      // delimiters, spacing, case of keys
      '[celery]\nBroker_URL=redis://h:1/0\nkey : value\nempty =\nx:y=z\n',
      // continuation lines, an empty line inside a value, trailing empty lines dropped, a comment inside
      '[celery]\nbroker_url = first\n  second\n\n  third\n    # a comment, not part of it\n\t  fourth\n\nnext = 1\n',
      // whole-line comments with # and ;, indented too; a # after a value is part of the value
      '# top\n; also\n[celery]\n  # indented comment\n ; and this\nbroker_url = redis://h/0 # kept\nk = v ; kept\n',
      // [DEFAULT] seen from every section; interpolation from it and from the section, nested; %%
      '[DEFAULT]\nbase = redis://h\nport = 6379\n[celery]\nhostport = %(base)s:%(port)s\nbroker_url = %(hostport)s/0?x=100%%\n',
      // a repeated section merges; a repeated key: the last wins (configparser strict=False)
      '[celery]\na = 1\n[other]\nb = 2\n[celery]\na = 3\nc = 4\n',
      // an indented key after a value is that value's continuation
      '[celery]\nbroker_url = redis://h/0\n  global_keyprefix = x\n',
      // a key line indented less than the previous continuation, CRLF line ends, a BOM
      '\uFEFF[celery]\r\n  a = 1\r\n    more\r\nb = 2\r\n',
      // the header regex is greedy up to the last ]
      '[celery] trailing\nk = v\n[a]b]\nk = w\n',
    ]
    const oracle = String.raw`
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    c = configparser.ConfigParser(strict=False)
    try:
        c.read_string(text.lstrip('\ufeff'))
        out.append({s: {k: c.get(s, k) for k in c[s]} for s in c.sections()})
    except Exception as e:
        out.append({'error': type(e).__name__})
print(json.dumps(out))
`
    const python = JSON.parse(execFileSync(PYTHON, ['-c', oracle], {input: JSON.stringify(texts), encoding: 'utf8'})) as Record<string, Record<string, string>>[]
    texts.forEach((text, i) => {
      const ini = parseIni(text, 'airflow.cfg')
      const config = new AirflowConfig({}, ini, 'airflow.cfg')
      const ours: Record<string, Record<string, string>> = {}
      for (const [name, section] of ini.sections) {
        ours[name] = {}
        for (const key of new Set([...section.keys(), ...ini.defaults.keys()])) ours[name][key] = config.fromFile(name, key)!.value
      }
      assert.deepEqual(ours, python[i], `text ${i}: ${JSON.stringify(text)}`)
    })
  })

  test('lines configparser refuses are refused, with their line number', () => {
    const bad: [string, RegExp][] = [
      ['k = v\n', /line 1: an option before any \[section\]/],
      ['[celery]\njust words\n', /line 2: neither a \[section\], a "key = value" nor a comment/],
      ['[celery]\n= value\n', /line 2: neither/],
    ]
    const oracle = String.raw`
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    try:
        configparser.ConfigParser(strict=False).read_string(text)
        out.append('ok')
    except Exception as e:
        out.append(type(e).__name__)
print(json.dumps(out))
`
    const python = JSON.parse(execFileSync(PYTHON, ['-c', oracle], {input: JSON.stringify(bad.map(([t]) => t)), encoding: 'utf8'})) as string[]
    bad.forEach(([text, pattern], i) => {
      assert.notEqual(python[i], 'ok', `Python reads ${JSON.stringify(text)}`)
      assert.throws(() => parseIni(text, 'airflow.cfg'), (e: Error) => e instanceof UsageError && pattern.test(e.message))
    })
  })
})

describe('commands that print the broker URL', () => {
  test('split as Python\'s shlex.split splits them', () => {
    const commands = [
      'pass show celery/prod',
      `a "b c" d\\ e 'f\\g' "h\\"i\\j" ''`,
      '  lead   and trail  ',
      `"it's" 'say "hi"' mixed"quo"'tes'`,
      'tab\tsep\nnewline',
      '"$HOME" `x` \\$y',
    ]
    const python = JSON.parse(execFileSync(PYTHON, ['-c', 'import json, shlex, sys; print(json.dumps([shlex.split(c) for c in json.load(sys.stdin)]))'], {input: JSON.stringify(commands), encoding: 'utf8'})) as string[][]
    commands.forEach((c, i) => assert.deepEqual(shlexSplit(c), python[i], JSON.stringify(c)))
    assert.throws(() => shlexSplit('"open'), /No closing quotation/)
    assert.throws(() => shlexSplit("it's"), /No closing quotation/)
    assert.throws(() => shlexSplit('trailing\\'), /No escaped character/)
  })

  test('run without a shell; the output trimmed; remembered as a secret', async () => {
    assert.equal(await runBrokerCommand("printf '  redis://:cmd-secret-1@h:6379/0\\n\\n'", 'X'), 'redis://:cmd-secret-1@h:6379/0')
    assert.ok(resolvedSecrets().urls.includes('redis://:cmd-secret-1@h:6379/0'))
    assert.ok(resolvedSecrets().words.includes('cmd-secret-1'))
    // No shell: a ; is an argument of echo.
    await refused(() => runBrokerCommand('echo redis://h/0 ; false', 'X'), /printed something that is not a broker URL/)
  })

  test('a failing, missing, silent, slow or chatty command is one line that never shows the output', async () => {
    const secret = 'never-shown-9'
    const failing = await refused(() => runBrokerCommand(`sh -c 'echo redis://:${secret}@h/0; echo ${secret} >&2; exit 3'`, 'AIRFLOW__CELERY__BROKER_URL_CMD'), /^AIRFLOW__CELERY__BROKER_URL_CMD ".*" failed \(exit 3\); its output is not shown/)
    assert.ok(!failing.includes(`redis://:${secret}`))
    await refused(() => runBrokerCommand('no-such-command-wfctl-test x', 'X'), /"no-such-command-wfctl-test" was not found/)
    await refused(() => runBrokerCommand('true', 'X'), /printed nothing/)
    const bare = await refused(() => runBrokerCommand(`echo ${secret}`, 'X'), /not a broker URL/)
    assert.ok(!bare.replace(`echo ${secret}`, '').includes(secret))
    await refused(() => runBrokerCommand('', 'X'), /is empty/)
    await refused(() => runBrokerCommand('"unclosed', 'X'), /cannot be split into words: No closing quotation/)
    await refused(() => runBrokerCommand("sh -c 'sleep 30 & wait'", 'X', 300), /did not finish within 0\.3 s/)
  })
})

describe('the context file', () => {
  const parse = (text: string) => parseContexts(text, '/x/config.yaml', {HOME: '/home/op'})

  test('contexts in the file\'s order; tls paths relative to the file, ~ the home directory', async () => {
    const file = await parse('contexts:\n  b:\n    broker: redis://h/0\n    tls: {ca: ca.pem, cert: ~/c.pem, key: /k.pem}\n  a:\n    brokerCmd: pass show x\ncurrent: a\n')
    assert.deepEqual([...file.contexts.keys()], ['b', 'a'])
    assert.equal(file.current, 'a')
    assert.deepEqual(file.contexts.get('b')!.tls, {ca: '/x/ca.pem', cert: '/home/op/c.pem', key: '/k.pem'})
    assert.equal((await parse('')).contexts.size, 0)
    assert.equal((await parse('# only a comment\n')).contexts.size, 0)
  })

  test('every mistake is one line naming the key', async () => {
    const cases: [string, RegExp][] = [
      ['contxts: {}\n', /unknown key "contxts" \(the file takes current and contexts\)/],
      ['contexts:\n  p:\n    broker: redis://h/0\n    brokerUrl: x\n', /unknown key "contexts\.p\.brokerUrl"/],
      ['contexts:\n  p:\n    broker: redis://h/0\n    tls: {cafile: x}\n', /unknown key "contexts\.p\.tls\.cafile"/],
      ['contexts:\n  p:\n    broker: redis://h/0\n    brokerCmd: x\n', /has both broker and brokerCmd/],
      ['contexts:\n  p:\n    controlExchange: x\n', /contexts\.p has no broker/],
      ['contexts:\n  p:\n', /contexts\.p is empty/],
      ['contexts:\n  p:\n    broker: redis://h/0\n    controlExchange: 12\n', /contexts\.p\.controlExchange must be a string/],
      ['contexts:\n  all:\n    broker: redis://h/0\n', /may not be named "all"/],
      ['contexts:\n  "a,b":\n    broker: redis://h/0\n', /context name "a,b"/],
      ['contexts: [a, b]\n', /contexts must be a mapping/],
      ['- a\n', /must be a mapping/],
      ['current: [x]\n', /current must be the name of a context/],
      ['contexts:\n  p:\n    broker: redis://h/0\n  p:\n    broker: redis://h/1\n', /line 4: Map keys must be unique/],
      ['contexts:\n  p: {broker: redis://h/0\n', /line \d+: /],
    ]
    for (const [text, pattern] of cases) await refused(() => parse(text), pattern)
  })

  test('a name that is not there lists the names that are', async () => {
    const h = home({'xdg/wfctl/config.yaml': CONTEXTS})
    await refused(() => resolve(h.env, {context: 'nope'}), /^--context names no context "nope" in .*config\.yaml \(it has cur, named, cmd\)$/)
    h.env.WFCTL_CONTEXT = 'nope'
    await refused(() => resolve(h.env), /^WFCTL_CONTEXT names no context "nope"/)
    h.env.WFCTL_CONTEXT = 'a,b'
    await refused(() => resolve(h.env), /WFCTL_CONTEXT names one context/)
    const dangling = home({'xdg/wfctl/config.yaml': CONTEXTS.replace('current: cur', 'current: gone')})
    await refused(() => resolve(dangling.env), /^current: names no context "gone"/)
    const none = home()
    await refused(() => resolve(none.env, {context: 'x'}), /--context names the context "x", but there is no context file/)
  })

  test('a file holding a password that others may read is refused, as ssh refuses such keys', async () => {
    const withPassword = 'contexts:\n  p:\n    broker: amqp://u:hunter22@h//\n'
    const open = home({'xdg/wfctl/config.yaml': withPassword}, 0o644)
    const message = await refused(() => loadContexts(open.env), /holds a password and is readable by others \(mode 0644\): run chmod 600 /)
    assert.ok(message.endsWith(`chmod 600 ${open.config}`))
    assert.ok(!message.includes('hunter22'))
    await refused(() => loadContexts(home({'xdg/wfctl/config.yaml': withPassword}, 0o640).env), /mode 0640/)
    // Readable by its owner only: fine. No password: fine at 0644.
    assert.equal((await loadContexts(home({'xdg/wfctl/config.yaml': withPassword}, 0o600).env))!.contexts.size, 1)
    assert.equal((await loadContexts(home({'xdg/wfctl/config.yaml': 'contexts:\n  p:\n    broker: redis://h/0\n'}, 0o644).env))!.contexts.size, 1)
    // What counts as a password: in a URL, in a command line, sentinelPassword.
    assert.equal(holdsSecret({name: 'a', broker: 'redis://:pw@h/0'}), true)
    assert.equal(holdsSecret({name: 'a', brokerCmd: 'echo redis://:pw@h/0'}), true)
    assert.equal(holdsSecret({name: 'a', broker: 'sentinel://h', sentinelPassword: 'x'}), true)
    assert.equal(holdsSecret({name: 'a', brokerCmd: 'pass show celery/prod'}), false)
    assert.equal(holdsSecret({name: 'a', broker: 'redis://h:6379/0'}), false)
  })

  test('WFCTL_CONFIG names the file; XDG_CONFIG_HOME moves it; a relative XDG_CONFIG_HOME is ignored', async () => {
    const h = home({'mine.yaml': 'contexts:\n  m:\n    broker: redis://127.0.0.1:6379/3\n', 'dot/.config/wfctl/config.yaml': 'current: d\ncontexts:\n  d:\n    broker: redis://127.0.0.1:6379/4\n'})
    assert.equal((await resolve({...h.env, WFCTL_CONFIG: join(h.root, 'mine.yaml')}, {context: 'm'})).broker.value, 'redis://127.0.0.1:6379/3')
    assert.equal((await resolve({...h.env, HOME: join(h.root, 'dot'), XDG_CONFIG_HOME: 'relative/dir'})).broker.value, 'redis://127.0.0.1:6379/4')
  })

  test('--context a,b and all: the names given, in order, each checked', async () => {
    const h = home({'xdg/wfctl/config.yaml': CONTEXTS})
    assert.deepEqual(await contextList('named, cur,named', h.env), ['named', 'cur'])
    assert.deepEqual(await contextList('all', h.env), ['cur', 'named', 'cmd'])
    await refused(() => contextList('cur,nope', h.env), /no context "nope"/)
    await refused(() => contextList(',', h.env), /needs a context name/)
  })

  test('brokerCmd runs only when its context is used; its URL is remembered as a secret', async () => {
    const h = home({'xdg/wfctl/config.yaml': CONTEXTS})
    const s = await resolve(h.env, {context: 'cmd'})
    assert.equal(s.broker.value, 'redis://:from-a-command@127.0.0.1:6379/12')
    assert.deepEqual(s.broker.source, {kind: 'context', name: 'cmd', path: h.config, key: 'brokerCmd'})
    assert.ok(resolvedSecrets().urls.includes(s.broker.value))
  })
})

describe('context use', () => {
  test('rewrites the current: line, keeping every comment and every other byte', async () => {
    const text = '# wfctl contexts\ncurrent: cur   # where I work\ncontexts:\n  # production first\n  cur:\n    broker: "redis://127.0.0.1:6379/11"\n  named:\n    broker: redis://127.0.0.1:6379/12   # staging\n'
    const h = home({'xdg/wfctl/config.yaml': text}, 0o644)
    const file = await useContext(h.env, 'named')
    assert.equal(file.current, 'named')
    assert.equal(readFileSync(h.config, 'utf8'), text.replace('current: cur   #', 'current: named   #'))
    // The new file is its owner's only.
    assert.equal(statSync(h.config).mode & 0o777, 0o600)
    await refused(() => useContext(h.env, 'nope'), /context use names no context "nope"/)
    await refused(() => useContext(home().env, 'x'), /there is no context file/)
  })

  test('adds current: when the file has none; quotes a name YAML would read otherwise; keeps a symbolic link', async () => {
    assert.equal(withCurrentLine('contexts: {}\n', 'prod'), 'current: prod\ncontexts: {}\n')
    assert.equal(withCurrentLine('%YAML 1.2\n---\ncontexts: {}\n', 'prod'), '%YAML 1.2\n---\ncurrent: prod\ncontexts: {}\n')
    assert.equal(withCurrentLine("current: 'old'\n", 'true'), 'current: "true"\n')
    assert.equal(withCurrentLine('current: "a b"  # c\n', 'x:y'), 'current: "x:y"  # c\n')
    const h = home({'real/config.yaml': 'contexts:\n  "0755":\n    broker: redis://h/0\n'})
    symlinkSync(join(h.root, 'real', 'config.yaml'), h.config)
    await useContext(h.env, '0755')
    assert.equal((await loadContexts(h.env))!.current, '0755')
    assert.ok(statSync(h.config).isFile())
    assert.match(readFileSync(join(h.root, 'real', 'config.yaml'), 'utf8'), /^current: "0755"\n/)
  })

  test('a layout the line edit does not understand goes through YAML\'s document model', async () => {
    const h = home({'xdg/wfctl/config.yaml': '{current: a, contexts: {a: {broker: "redis://h/0"}, b: {broker: "redis://h/1"}}}  # flow\n'})
    await useContext(h.env, 'b')
    const again = (await loadContexts(h.env))!
    assert.equal(again.current, 'b')
    assert.deepEqual([...again.contexts.keys()], ['a', 'b'])
  })
})
