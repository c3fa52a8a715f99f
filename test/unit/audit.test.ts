// The audit log writer (src/fleet/audit.ts): where the log goes, which methods are changes, the
// record's per-node outcomes, the file's modes, a path that cannot be written, and whole lines
// from several processes appending at once.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, test} from 'node:test'

import {appendAudit, auditNodes, auditPath, isChange, maskStrings, READ_METHODS, type AuditRecord} from '../../src/fleet/audit.js'
import type {DrainResult} from '../../src/fleet/drain.js'
import type {FleetResult} from '../../src/fleet/outcome.js'
import type {ShutdownResult} from '../../src/fleet/shutdown.js'
import {ROOT} from '../helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'wfctl-audit-unit-'))
after(() => rmSync(dir, {recursive: true, force: true}))

function record(extra: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: new Date().toISOString(), user: 'op@host', command: ['wfctl', 'control', 'pool-grow', '1'], broker: 'redis://localhost:6379/0', via: 'command',
    target: {destination: ['a@h'], pattern: null, matcher: null}, method: 'pool_grow', args: {n: 1}, nodes: {'a@h': {outcome: 'ok'}}, exitCode: 0, reason: null,
    ...extra,
  }
}

describe('audit: where the log goes', () => {
  test('${XDG_STATE_HOME:-~/.local/state}/wfctl/audit.log, moved by WFCTL_AUDIT_LOG, off with WFCTL_AUDIT_LOG=off', () => {
    assert.equal(auditPath({HOME: '/home/op'}), '/home/op/.local/state/wfctl/audit.log')
    assert.equal(auditPath({}), join(homedir(), '.local/state/wfctl/audit.log'))
    assert.equal(auditPath({HOME: '/home/op', XDG_STATE_HOME: '/var/state'}), '/var/state/wfctl/audit.log')
    // The XDG spec: an empty or relative XDG_STATE_HOME is ignored.
    assert.equal(auditPath({HOME: '/home/op', XDG_STATE_HOME: ''}), '/home/op/.local/state/wfctl/audit.log')
    assert.equal(auditPath({HOME: '/home/op', XDG_STATE_HOME: 'rel/state'}), '/home/op/.local/state/wfctl/audit.log')
    assert.equal(auditPath({HOME: '/home/op', XDG_STATE_HOME: '/var/state', WFCTL_AUDIT_LOG: '/srv/log/wfctl.jsonl'}), '/srv/log/wfctl.jsonl')
    assert.equal(auditPath({WFCTL_AUDIT_LOG: 'off'}), null)
    assert.equal(auditPath({WFCTL_AUDIT_LOG: 'OFF'}), null)
    assert.equal(auditPath({HOME: '/home/op', WFCTL_AUDIT_LOG: ''}), '/home/op/.local/state/wfctl/audit.log')
  })
})

describe('audit: which methods are changes', () => {
  test('ping, the inspect methods (and their dump_ aliases), clock and heartbeat are reads; every control method, hello and custom methods are changes', () => {
    for (const m of ['ping', 'active', 'reserved', 'scheduled', 'revoked', 'registered', 'stats', 'active_queues', 'query_task', 'conf', 'clock', 'report', 'memsample', 'memdump', 'objgraph', 'heartbeat', 'dump_tasks', 'dump_conf']) {
      assert.equal(isChange(m), false, m)
    }
    for (const m of ['add_consumer', 'cancel_consumer', 'pool_grow', 'pool_shrink', 'pool_restart', 'autoscale', 'rate_limit', 'time_limit', 'revoke', 'revoke_by_stamped_headers', 'terminate', 'enable_events', 'disable_events', 'shutdown', 'drain', 'hello', 'my_custom_command']) {
      assert.equal(isChange(m), true, m)
    }
  })

  test('every method an inspect subcommand sends is a read, every control subcommand but ping and heartbeat sends a change', () => {
    const methodsOf = (folder: string) => readdirSync(join(ROOT, 'src/commands', folder)).filter((f) => f !== 'index.ts').map((f) => {
      const text = readFileSync(join(ROOT, 'src/commands', folder, f), 'utf8')
      return {file: f, methods: [...text.matchAll(/this\.perform\(flags, '([a-z_]+)'/g)].map((m) => m[1])}
    })
    for (const {file, methods} of methodsOf('inspect')) for (const m of methods) assert.ok(READ_METHODS.has(m), `inspect/${file} sends ${m}`)
    for (const {file, methods} of methodsOf('control')) {
      for (const m of methods) assert.equal(isChange(m), !['ping', 'heartbeat'].includes(m), `control/${file} sends ${m}`)
    }
  })
})

describe('audit: each node\'s outcome', () => {
  test('a request: ok, the error text, missing; unreadable replies that name no node are counted', () => {
    const result = {
      method: 'pool_grow', replies: {'a@h': {ok: 'pool will grow'}, 'b@h': {error: 'no pool'}}, errors: {'b@h': 'no pool', 'c@h': 'cannot decode pickle'},
      missing: ['d@h'], duplicates: [], duplicateReplies: {}, elapsedMs: 3, latencyMs: {}, expected: 4,
      undecodable: [{reason: 'pickle', node: 'c@h'}, {reason: 'not JSON'}], listeners: null,
    } as FleetResult
    assert.deepEqual(auditNodes(result), {
      nodes: {'a@h': {outcome: 'ok'}, 'b@h': {outcome: 'error', error: 'no pool'}, 'c@h': {outcome: 'error', error: 'cannot decode pickle'}, 'd@h': {outcome: 'missing'}},
      undecodable: 1,
    })
  })

  test('a shutdown: each node\'s state and active task count', () => {
    const result = {
      method: 'shutdown', replies: {}, errors: {}, missing: ['ghost@h'], duplicates: [], elapsedMs: 5, stopped: ['a@h'], stopping: ['b@h'], running: [],
      nodes: {'a@h': {state: 'stopped', activeTasks: 0}, 'b@h': {state: 'stopping', activeTasks: 1, tasks: [{id: 't1', name: 'x'}]}, 'ghost@h': {state: 'unknown', activeTasks: null, reason: 'did not answer before the shutdown'}},
      verified: false, waited: true, taskEvents: true, taskEventsNotHeard: [],
    } as ShutdownResult
    assert.deepEqual(auditNodes(result).nodes, {
      'a@h': {outcome: 'stopped', activeTasks: 0},
      'b@h': {outcome: 'stopping', activeTasks: 1},
      'ghost@h': {outcome: 'unknown', activeTasks: null, error: 'did not answer before the shutdown'},
    })
  })

  test('a drain: each node\'s drain state, and its shutdown state when it was shut down', () => {
    const result = {
      method: 'drain', missing: [], drained: ['a@h'], notDrained: ['b@h'], restore: [], shutdownRequested: true, elapsedMs: 9, waitMs: 1000, interrupted: null,
      nodes: {'a@h': {state: 'drained', active: 0, reserved: 0, scheduled: 0, cancelled: ['celery']}, 'b@h': {state: 'busy', active: 1, reserved: 0, scheduled: 0, cancelled: ['celery']}},
      shutdown: {nodes: {'a@h': {state: 'stopped', activeTasks: 0}}} as unknown as ShutdownResult,
    } as DrainResult
    assert.deepEqual(auditNodes(result).nodes, {'a@h': {outcome: 'drained', shutdown: 'stopped', activeTasks: 0}, 'b@h': {outcome: 'busy'}})
  })

  test('node names from the wire stay own properties ("__proto__" is a name too)', () => {
    const result = {method: 'rate_limit', replies: JSON.parse('{"__proto__": {"ok": 1}}'), errors: {}, missing: [], undecodable: []} as unknown as FleetResult
    const {nodes} = auditNodes(result)
    assert.ok(Object.hasOwn(nodes, '__proto__'))
    assert.equal(JSON.parse(JSON.stringify({nodes})).nodes.__proto__.outcome, 'ok')
  })

  test('maskStrings masks every string, keys included, and leaves other values', () => {
    const masked = maskStrings({a: 'x-secret', n: 2, list: ['secret', true, null], deep: {secret: 'y'}}, (s) => s.replace(/secret/g, '****'))
    assert.deepEqual(masked, {a: 'x-****', n: 2, list: ['****', true, null], deep: {'****': 'y'}})
  })
})

describe('audit: writing', () => {
  test('one JSON line per record; a new directory is 0700, a new file 0600', () => {
    const path = join(dir, 'new', 'deeper', 'audit.log')
    assert.equal(appendAudit(record(), {WFCTL_AUDIT_LOG: path}), path)
    appendAudit(record({method: 'pool_shrink'}), {WFCTL_AUDIT_LOG: path})
    const lines = readFileSync(path, 'utf8').split('\n')
    assert.equal(lines.pop(), '')
    assert.deepEqual(lines.map((l) => JSON.parse(l).method), ['pool_grow', 'pool_shrink'])
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'new')).mode & 0o777, 0o700)
    assert.equal(statSync(join(dir, 'new', 'deeper')).mode & 0o777, 0o700)
  })

  test('the default path under XDG_STATE_HOME', () => {
    const state = join(dir, 'state')
    assert.equal(appendAudit(record(), {XDG_STATE_HOME: state}), join(state, 'wfctl', 'audit.log'))
    assert.equal(readFileSync(join(state, 'wfctl', 'audit.log'), 'utf8').split('\n').length, 2)
  })

  test('off: nothing is written anywhere', () => {
    const state = join(dir, 'state-off')
    assert.equal(appendAudit(record(), {WFCTL_AUDIT_LOG: 'off', XDG_STATE_HOME: state, HOME: state}), null)
    assert.throws(() => statSync(state), {code: 'ENOENT'})
  })

  test('an unwritable path throws (the command turns it into one warning), and returns promptly where Node\'s recursive mkdir would spin', () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, '')
    assert.throws(() => appendAudit(record(), {WFCTL_AUDIT_LOG: join(file, 'audit.log')}), {code: 'ENOTDIR'})
    assert.throws(() => appendAudit(record(), {WFCTL_AUDIT_LOG: '/proc/wfctl-audit-test/audit.log'}), {code: 'ENOENT'})
  })

  test('several processes appending at once: every line whole (records longer than PIPE_BUF)', async () => {
    const path = join(dir, 'concurrent.log')
    const writers = 6
    const each = 150
    const script = `
      import {appendAudit} from ${JSON.stringify(join(ROOT, 'src/fleet/audit.ts'))}
      const w = Number(process.argv[1])
      for (let i = 0; i < ${each}; i++) appendAudit({time: new Date().toISOString(), user: 'u@h', command: [], broker: 'b', via: 'command',
        target: {destination: [], pattern: null, matcher: null}, method: 'pool_grow', args: {w, i, pad: String(w).repeat(6000 + i)}, nodes: {}, exitCode: 0, reason: null},
        {WFCTL_AUDIT_LOG: ${JSON.stringify(path)}})
    `
    await Promise.all(Array.from({length: writers}, (_, w) => new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, String(w)], {cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe']})
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
      child.on('close', (code) => {
        clearTimeout(killer)
        if (code === 0) resolve()
        else reject(new Error(`writer ${w} exited ${code}: ${stderr}`))
      })
    })))
    const lines = readFileSync(path, 'utf8').split('\n')
    assert.equal(lines.pop(), '')
    assert.equal(lines.length, writers * each)
    const seen = new Set<string>()
    for (const line of lines) {
      const {args} = JSON.parse(line) as {args: {w: number; i: number; pad: string}}
      assert.equal(args.pad, String(args.w).repeat(6000 + args.i))
      seen.add(`${args.w}:${args.i}`)
    }
    assert.equal(seen.size, writers * each)
  })
})
