// Random strings over the regular-expression alphabet, and hostile long inputs: the checks always
// return (a reason or undefined, never a throw), in bounded time, and never accept what Python
// rejects. Fixed seed, one Python run.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {PATTERN_LIMITS, globProblem, matchesNode, pcreProblem} from '../../src/protocol/pattern.ts'
import {askPython, mulberry32} from '../helpers/python-oracle.ts'



const SAMPLES = ['', 'a', 'ab', 'aab', 'w1@vm', 'w10@vm', 'celery@host-1.example', 'a\n', 'a-b', 'a{1}', '1٣', 'é😀', '*?[]\\^$|(){}.+-']


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
  const patterns = [...new Set([...RANDOM, ...HOSTILE.filter((h) => h.length <= PATTERN_LIMITS.length)])]
  const pcre = patterns.map((p) => ({p, match: pcreProblem(p) === undefined}))
  const glob = patterns.map((p) => ({p, match: globProblem(p) === undefined}))
  const out = askPython(SAMPLES, pcre, glob)
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
