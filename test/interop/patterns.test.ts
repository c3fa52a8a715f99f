// --pattern against a real Celery worker on Redis (DB 15, under a random global_keyprefix of this
// file's own): for accepted pcre and glob patterns the worker answers exactly when Python's matcher
// says its name matches, a refused pattern is never sent, and the worker still listens afterwards.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {after, before, test} from 'node:test'

import {globProblem, matchesNode, pcreProblem} from '../../src/protocol/pattern.ts'
import {redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {PYTHON, startWorker, type Worker} from '../helpers/celery.js'
import {json} from '../helpers/cli.js'
import {deleteKeysWithPrefix, show, wf, type Namespace} from './support.js'

const DB = 3 // any DB: the test owns its key prefix (DB 15 is the benchmark's)
const prefix = `wfctl-pat-${token()}:`
const redis = redisClient(DB)
const ns: Namespace = {label: `Redis DB ${DB}, prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)}

let worker: Worker | undefined

before(async () => {
  worker = await startWorker({broker: redisUrl(DB), keyPrefix: prefix, name: `wp${token()}`})
})

after(async () => {
  await worker?.stop()
  await deleteKeysWithPrefix(redis, prefix)
  redis.disconnect()
})

/** Python's own verdict, as kombu computes it: re.match(p, name) / fnmatch.fnmatch(name, p). */
function python(cases: Array<{p: string; m: 'pcre' | 'glob'}>, node: string): boolean[] {
  const script = `import fnmatch, json, re, sys
cases, node = json.loads(sys.argv[1]), sys.argv[2]
print(json.dumps([bool(re.match(c['p'], node)) if c['m'] == 'pcre' else fnmatch.fnmatch(node, c['p']) for c in cases]))`
  return JSON.parse(execFileSync(PYTHON, ['-c', script, JSON.stringify(cases), node], {encoding: 'utf8', timeout: 10_000})) as boolean[]
}

const re = (s: string): string => s.replace(/[^A-Za-z0-9]/g, '\\$&')

test('accepted patterns: the worker answers exactly when Python says its name matches, and keeps listening', async () => {
  const node = worker!.node
  const [name, host] = node.split('@')
  const cases: Array<{p: string; m: 'pcre' | 'glob'}> = [
    {p: name, m: 'pcre'},
    {p: `${name.slice(0, 4)}[0-9a-f]+@`, m: 'pcre'},
    {p: `^(?:nobody|${name})@${re(host)}$`, m: 'pcre'},
    {p: `${name}$`, m: 'pcre'},
    {p: `[^@]{${name.length}}@(?!${re(host)})`, m: 'pcre'},
    {p: `.+@${re(host)}`, m: 'pcre'},
    {p: `${name.toUpperCase()}`, m: 'pcre'},
    {p: `${name}@*`, m: 'glob'},
    {p: `*@${host}`, m: 'glob'},
    {p: name, m: 'glob'},
    {p: `wp?${name.slice(3)}@*`, m: 'glob'},
    {p: '[!w]*', m: 'glob'},
    {p: `[vw][a-z]${name.slice(2)}@[!@]*`, m: 'glob'},
  ]
  for (const c of cases) assert.equal(c.m === 'pcre' ? pcreProblem(c.p) : globProblem(c.p), undefined, `${c.p} should be accepted`)
  const expected = python(cases, node)
  assert.ok(expected.filter(Boolean).length >= 4 && expected.filter((x) => !x).length >= 4, `a mix of matches and misses: ${expected}`)
  for (const [i, c] of cases.entries()) {
    assert.equal(matchesNode(c.p, c.m, node), expected[i], `wfctl and Python agree on ${c.m} ${c.p}`)
    const run = await wf(ns, ['control', 'ping', '--pattern', c.p, '--matcher', c.m, '-t', '2', '--json'])
    const replies = run.code === 0 || run.code === 69 ? Object.keys(json(run).replies ?? {}) : undefined
    assert.deepEqual(replies, expected[i] ? [node] : [], `${c.m} ${JSON.stringify(c.p)}: Python says ${expected[i]}\n${show(run)}`)
    // PUBLISH's receiver count: the worker is still subscribed to its mailbox (a deafened one is not).
    assert.equal(json(run).listeners, 1, show(run))
  }
  const plain = await wf(ns, ['control', 'ping', '-d', node, '-t', '5', '--json'])
  assert.equal(plain.code, 0, show(plain))
  assert.deepEqual(json(plain).replies, {[node]: {ok: 'pong'}})
})

test('a pattern Python cannot compile is refused before anything is sent (exit 2), and the worker still answers', async () => {
  for (const p of ['(a)\\2', '[\\d-z]', 'x{99999999999}', '(?<n>w)']) {
    const run = await wf(ns, ['control', 'ping', '--pattern', p, '--matcher', 'pcre', '-t', '2', '--json'])
    assert.equal(run.code, 2, show(run))
    assert.match(run.stderr + run.stdout, /refusing to publish/, show(run))
  }
  const glob = await wf(ns, ['control', 'ping', '--pattern', 'w[z-a]*', '-t', '2', '--json'])
  assert.equal(glob.code, 2, show(glob))
  const plain = await wf(ns, ['control', 'ping', '-d', worker!.node, '-t', '5', '--json'])
  assert.equal(plain.code, 0, show(plain))
  assert.equal(json(plain).listeners, 1, show(plain))
})
