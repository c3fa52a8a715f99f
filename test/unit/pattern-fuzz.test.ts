// Random strings over the regular-expression alphabet, and hostile long inputs: the checks always
// return (a reason or undefined, never a throw), in bounded time, and never accept what Python
// rejects. Fixed seed, one Python run.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, test} from 'node:test'

import {PATTERN_LIMITS, globProblem, matchesNode, pcreProblem} from '../../src/protocol/pattern.ts'

const PYTHON = process.env.WFCTL_TEST_PYTHON ?? '/usr/bin/python3'

const ORACLE = String.raw`
import fnmatch, json, re, sys, warnings
data = json.load(open(sys.argv[1], encoding='utf-8'))
samples = data['samples']
def run(kind, item):
    p = item['p']
    r = {'ok': True}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            if kind == 'pcre':
                re.purge()
                re.compile(p)
            else:
                fnmatch._compile_pattern.cache_clear()
                fnmatch.fnmatch('', p)
        if caught:
            r['warning'] = str(caught[0].message)
    except Exception as e:
        r = {'ok': False, 'error': type(e).__name__ + ': ' + str(e)[:200]}
    if r['ok'] and item['match']:
        if kind == 'pcre':
            r['matches'] = [bool(re.match(p, s)) for s in samples]
        else:
            r['matches'] = [fnmatch.fnmatch(s, p) for s in samples]
    return r
json.dump({kind: [run(kind, item) for item in data[kind]] for kind in ('pcre', 'glob')}, open(sys.argv[2], 'w', encoding='utf-8'))
`

const SAMPLES = ['', 'a', 'ab', 'aab', 'w1@vm', 'w10@vm', 'celery@host-1.example', 'a\n', 'a-b', 'a{1}', '1٣', 'é😀', '*?[]\\^$|(){}.+-']

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABET = [...'ab1-@.^$*+?()[]{}|\\:=!<>PdwsbZA,0289xuk^é٣😀 '] as const
const rand = mulberry32(20261231)
const randomPattern = (): string => Array.from({length: Math.floor(rand() * 24)}, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join('')
const RANDOM = Array.from({length: 3000}, randomPattern)

/** Long and deep inputs: well past every limit, then right at them. */
const HOSTILE = [
  '('.repeat(100_000),
  ')'.repeat(100_000),
  '['.repeat(100_000),
  ']'.repeat(100_000),
  '\\'.repeat(100_000),
  '*'.repeat(100_000),
  '(?:'.repeat(100_000),
  '(?P<a>'.repeat(20_000),
  'a{'.repeat(50_000),
  '[a-'.repeat(30_000),
  '[!'.repeat(50_000),
  'a|'.repeat(50_000),
  'a'.repeat(1_000_000),
  '('.repeat(PATTERN_LIMITS.depth) + 'a' + ')'.repeat(PATTERN_LIMITS.depth),
  '('.repeat(PATTERN_LIMITS.depth + 1) + 'a' + ')'.repeat(PATTERN_LIMITS.depth + 1),
  '(?:a)'.repeat(200),
  '[a-z]'.repeat(200),
  'a|'.repeat(499) + 'a',
  '(a)'.repeat(333),
  'a{1000}'.repeat(142),
  '(?=a)'.repeat(200),
  '[!a-z]*'.repeat(142),
  '*?'.repeat(500),
  '['.repeat(999) + ']',
  '(' + '['.repeat(998) + ')',
  '{'.repeat(1000),
  '{1,'.repeat(250),
]

let dir: string | undefined

after(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

test('the checks never throw, whatever the input (a million characters of it included)', () => {
  for (const p of [...HOSTILE, ...RANDOM]) {
    for (const check of [pcreProblem, globProblem]) {
      let result: unknown
      assert.doesNotThrow(() => {
        result = check(p)
      }, p.slice(0, 20))
      assert.ok(result === undefined || typeof result === 'string', 'a reason or undefined')
      if (typeof result === 'string') assert.doesNotMatch(result, /could not be checked/, `a bug in the checker on ${JSON.stringify(p.slice(0, 40))}`)
    }
  }
  for (const p of HOSTILE.filter((h) => h.length > PATTERN_LIMITS.length)) {
    assert.match(pcreProblem(p)!, /longer than/)
    assert.match(globProblem(p)!, /longer than/)
  }
})

test('Python agrees: no randomly generated pattern wfctl accepts is one Python rejects, and the meaning is the same', (t) => {
  dir = mkdtempSync(join(tmpdir(), 'wfctl-pattern-fuzz-'))
  const patterns = [...new Set([...RANDOM, ...HOSTILE.filter((h) => h.length <= PATTERN_LIMITS.length)])]
  const pcre = patterns.map((p) => ({p, match: pcreProblem(p) === undefined}))
  const glob = patterns.map((p) => ({p, match: globProblem(p) === undefined}))
  const input = join(dir, 'in.json')
  const output = join(dir, 'out.json')
  writeFileSync(input, JSON.stringify({samples: SAMPLES, pcre, glob}))
  execFileSync(PYTHON, ['-c', ORACLE, input, output], {timeout: 15_000, stdio: ['ignore', 'ignore', 'inherit']})
  const out = JSON.parse(readFileSync(output, 'utf8')) as Record<'pcre' | 'glob', Array<{ok: boolean; error?: string; warning?: string; matches?: boolean[]}>>
  const bad: string[] = []
  for (const kind of ['pcre', 'glob'] as const) {
    const items = kind === 'pcre' ? pcre : glob
    items.forEach(({p, match}, i) => {
      if (!match) return
      const py = out[kind][i]
      if (!py.ok || py.warning) {
        bad.push(`${kind} ${JSON.stringify(p)}: ${py.error ?? py.warning}`)
        return
      }
      SAMPLES.forEach((s, j) => {
        if (matchesNode(p, kind, s) !== py.matches![j]) bad.push(`${kind} ${JSON.stringify(p)} on ${JSON.stringify(s)}: python ${py.matches![j]}`)
      })
    })
  }
  const accepted = pcre.filter((x) => x.match).length
  const rejectedByPython = out.pcre.filter((x) => !x.ok).length
  t.diagnostic(`${patterns.length} patterns: pcre ${accepted} accepted, Python rejects ${rejectedByPython}; glob ${glob.filter((x) => x.match).length} accepted`)
  assert.ok(accepted >= 30, `enough random pcre patterns are accepted to mean something (${accepted})`)
  assert.ok(rejectedByPython >= 1000, `and many are ones Python rejects (${rejectedByPython})`)
  assert.deepEqual(bad.slice(0, 20), [])
})
