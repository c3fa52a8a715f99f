// Python is the oracle: every pattern wfctl accepts must compile, without a warning, in the
// interpreter a Celery worker runs, and must address exactly the node names Python's matcher
// (kombu: re.match(pattern, name) / fnmatch.fnmatch(name, pattern)) says it addresses.
import assert from 'node:assert/strict'
import {before, test} from 'node:test'

import {globProblem, matchesNode, pcreProblem} from '../../src/protocol/pattern.ts'
import {askPython, mulberry32, type Verdict} from '../helpers/python-oracle.ts'


/** Node names and the strings that tell the engines apart. */
const SAMPLES = [
  '',
  'a',
  'b',
  'ab',
  'abc',
  'aaa',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaab',
  'w1@vm',
  'w10@vm',
  'w2@vm',
  'r8@vm',
  'x.y@vm',
  'celery@host-1.example',
  'celery@web-12.prod.example.com',
  'Celery@HOST',
  'worker_3@db-01',
  'api-7@dc2',
  '1',
  '123',
  'w٣@vm', // ARABIC-INDIC DIGIT THREE: \d in Python, not in JavaScript
  'w３@vm', // FULLWIDTH DIGIT THREE
  'wé@hôte',
  'ñandú',
  'Δ@x',
  'ß',
  'K', // KELVIN SIGN
  'w😀@vm',
  'w1@vm\n',
  'w1@vm\n\n',
  'w1@vm\r',
  'a\nb',
  'w1@vm\u2028',
  '\u0085',
  '\u00a0',
  '\x1c',
  ' ',
  'a b',
  'a-b_c.d',
  '-',
  '.',
  '@',
  '/',
  '\\',
  '*',
  '?',
  '[',
  ']',
  '{',
  '}',
  '^',
  '$',
  '|',
  '(',
  ')',
  '+',
  '#',
  '!',
  '&',
  '~',
]

/** Patterns that name the traps: JavaScript compiles each, Python does not. */
const JS_ONLY = ['(a)\\2', '\\8', '\\10', '[\\d-z]', '[a-\\d]', 'x{99999999999}', '(?<name>a)', '(?<n>a)\\k<n>', '(?<=ab|c)d', '\\p{L}', '\\u{41}', '\\cA']

const PCRE_CORPUS = [
  ...JS_ONLY,
  // compile in both, mean something else
  '\\Z', 'w1\\Z', '\\A', '\\z', '$', 'w1@vm$', 'w1$\\n', '[^]', '[^]x]', '[]', '[]a]', '\\d', 'w\\d@', '\\D', '\\w+', '\\W', '\\s', '\\S',
  '\\b', 'a\\b', '\\B', '[\\b]', '{,3}', 'a{,3}', '(?i)w', '(?i:W)1', '(?s).', '(?m)^a', '(?x)a b', '(?a)\\d', '(?u)a', '(?L)a', '\\a', '\\e',
  '\\x41', '\\x4', '\\u0041', '\\U00000041', '\\N{DIGIT ONE}', '\\0', '\\07', '\\012', '\\1', '\\n', '\\t', '\\r', '\\f', '\\v', '[[]', '[[]]',
  '[[:alpha:]]', 'a*+', 'a++', 'a?+', 'a{2}+', '(?>a)', '(?#c)a', '(?(1)a|b)', '(a)(?(1)b)', '(?P<n>a)', '(?P=n)', '(?P<n>a)(?P=n)', '(?<!a)b',
  '(?<=a)b', '\\k', '\\k<n>', '\\c', '\\cJ', '\\p', '\\q', '\\i', '\\é', '\\ ', '\\\u00e9',
  // malformed
  '', '(', ')', 'a(', 'a)', '(a', '((a)', '(a))', '[', '[a', 'a]', 'a}', '{', 'a{', '{2}', 'a{x}', 'a{1,2', 'a{3,2}', '\\', 'abc\\', '*', '*a',
  '+', '?', 'a**', 'a{2}{3}', 'a???', '^*', '$+', '(?=a)*', '(?!a){2}', '(?', '(?Q)', 'a|*', '(*)', '[z-a]', '[9-0]', '[a-c-e]', '[\\--a]',
  '[a--]', '[--a]', '[a&&b]', '[a||b]', '[a~~b]', 'x{1001}', 'x{0,99999}', 'a\u0000', 'a\nb', 'a\u200bb', 'a\u2028',
  // slow in Python
  '(a+)+', '(a*)*b', '(a|a)*', '(a|aa)+', '(a?a?){2}', '(x+y){2}', '.*.*.*.*.*', '(.*)*', '(a|b)*c',
  // the subset
  'w1', 'w1@vm', '^w1@vm$', 'w1@vm$', 'r8', '@vm', 'celery@host-1.example', 'celery@host-1\\.example', 'celery@web[0-9]+', 'celery@web-[0-9]{2,3}\\.prod',
  '^(?:a|b)[0-9]+@host\\.example$', '(web|api)-[0-9]+@', 'w[^0-9]', '[a-z0-9-]+@[A-Z]', '[-a]', '[a-]', '[-]', '[\\]\\[\\-\\\\^]', '[a^]', '[\\^a]', '[a\\-z]',
  'a*?b', 'a+?', 'a??b', 'a{2}?', 'a{1,}?', 'a{0,2}?b', 'x{0}', 'x{0}y', 'x{1000}', 'a{0,1000}', 'a{2,}', 'a{1,1}', 'a{01}', '(?=w)w', '(?!w1@)w[0-9]+',
  '(?=.*@vm$)w', '(?!)', '(?=)', '.', '..', '.+@vm', '.*', '.*$', 'a|', '|a', 'a||b', '()', '(?:)', '()*', '(?:)+', '(ab)+', '(a{3})+', '([0-9]{3}-)+',
  '(a+)?', '(a|b)?c', '((a))', '(?:(?:a)b)c', '(^a)+', '(a$)+', '((?=a)a)+', '^', '^$', 'a^', 'a$b', 'x^', 'a|^b', '^a|b$', '[^\\n]', '[^a]+',
  '\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\\\-\\/', '\\@\\#\\_\\~\\!\\%\\&\\=\\:\\;\\,\\<\\>\\\'\\"\\`', '\\-', '\\/', '\\@', '\\_', '\\#', '\\}', '\\]',
  'a/b', 'a b', ' ', '#', 'a#b', '-', '@', '!', '&', '~', '"', "'", '`', ',', ':', ';', '<', '>', '=', '%', '_',
  'wé@hôte', 'ñandú|Δ', 'w😀@vm', 'w😀+', '[😀]', '[é-é]', 'ß', 'K', 'w٣', '[٣]', '\u00a0',
  '[0-9]', '[0-9]+@', 'w[0-9]@vm$', 'w[0-9][0-9]?@', '[a-z]', '[A-Z]', '[a-zA-Z0-9_]+', '[^a-zA-Z0-9_]', '[a-a]', '[0-0]', 'Celery@HOST', 'celery@host',
  '[!-]', '[!]', '[&]', '[~]', '[|]', '[a&b]', '[.]', '[*+?]', '[$]', '[(){}]', '[/]', '[#]', '[ ]',
  'w1|w2|w10', '(w1|w2)@vm$', '(?:w1|r8)@', 'x\\.y@vm', 'x.y@vm', 'a(?=b)', 'a(?!b)', 'a(?=b|c)', 'a(?!(?:b|c))', '(?=a)(?=ab)abc', '(?!b)a|b',
  '[a-z]+-[0-9]+@[a-z]+', '.*a.*b.*c.*d', 'a{2,3}b{0,1}c?', '(ab){2}', '(ab){0,2}$', 'ab{1000}', '(a){2}', '(?:a{2}){2}', '(?:ab)*$',
  '((((((((((((((((((((a))))))))))))))))))))', 'a'.repeat(200), '[a-z]'.repeat(60), '(a)'.repeat(100),
]

const GLOB_CORPUS = [
  // refused
  '', '[z-a]', 'celery@[z-a]', '[9-0]*', '[A-z]', '[a-c-e]', '[', 'w1[', '[abc', '[]', '[]a]', '[!]', '[!]a]', '[^a]', '[^a]*', '[[]', '[[:alpha:]]',
  'a]', ']', 'a\\*', '\\', '[\\]', '[a\\b]', 'a\tb', '[a-é]', '[!-~]', '[+--]', '[a--]', '[--a]', '[a-\\]',
  // the subset
  '*', '?', '**', 'w1', 'w1*', 'w1@vm', '?1@vm', '*@vm', 'w?@vm', 'celery@*.example', 'celery@web-[a-c]*', '[rx]*', '[!w]*', '[!0-9]', '[!0-9]*',
  '[a-z0-9-]*', '[-a]', '[!-a]', '[a-]', '[-]', '[!-]', '[--]', '[*][?]', '[*]', '[?]', '[a!^&~|]', '[&&]', '[||]', '[~~]', '[a^]', '[!!]',
  'a^$.+(){}|/', 'a.b', 'x.y@vm', 'wé@hôte*', 'w😀?', '?😀', '[😀]', 'a b', ' ', '*a*a*a*b', '*a*', '?*', '*?', '[a-a]', '[0-9][0-9]*',
  'Celery@*', 'celery@*', 'w[0-9]@vm', 'w[!0-9]@vm', '*\n', '[!a]', '[!a-z]*', '[a-zA-Z0-9_]*', '*-*', 'api-?@dc?', '[ab][ab]', '???',
  '*[٣３]*', 'ß', 'K*', '.', '-', '@', '{', '}', '(', ')', '+', '$', '^', '|', '#', '!', '&', '~', '!*', '[.]*', 'a'.repeat(200),
]


const rand = mulberry32(0x5eed_cafe)
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]

const PCRE_ATOMS = ['a', 'b', 'w', '1', '@', '-', '.', 'é', '٣', '😀', ' ', '\\.', '\\-', '\\/', '\\@', '\\\\', '\\*', '[a-z]', '[^a-z]', '[0-9]', '[a-]', '[-a]', '[ab]', '[^\\n]', '^', '$']
const PCRE_BAD = ['\\d', '\\w', '\\s', '\\b', '\\Z', '\\A', '\\2', '\\8', '\\10', '\\0', '\\x41', '\\u0041', '\\n', '\\a', '\\p{L}', '\\k<n>', '\\cA', '[]', '[^]', '[\\d-z]', '[a-\\d]', '[z-a]', '[[]', '{,3}', '{', '}', ']', '(?<n>', '(?P<n>', '(?<=', '(?i)', '(?#', '(?>', '*+', '{99999999999}', '(', ')', '\\']
const QUANTIFIERS = ['', '', '', '*', '+', '?', '*?', '+?', '??', '{2}', '{1,3}', '{2,}', '{0}', '{0,1}']

function genPcre(depth: number): string {
  const n = 1 + Math.floor(rand() * 4)
  let out = ''
  for (let i = 0; i < n; i++) {
    const r = rand()
    let atom: string
    if (r < 0.12 && depth < 3) atom = `(${pick(['', '?:', '?=', '?!'])}${genPcre(depth + 1)})`
    else if (r < 0.18 && depth < 3) atom = `(?:${genPcre(depth + 1)}|${genPcre(depth + 1)})`
    else if (r < 0.24) atom = pick(PCRE_BAD)
    else atom = pick(PCRE_ATOMS)
    out += atom + pick(QUANTIFIERS)
  }
  return out
}

const GLOB_PIECES = ['a', 'b', 'w', '1', '@', '-', '.', 'é', '😀', '*', '?', '[a-z]', '[!a-z]', '[0-9]', '[a-]', '[-a]', '[ab]', '[!]', '[]', '[^a]', '[z-a]', '[', ']', '\\', '[[]', '!', '^', '[a-c-e]', '[*]']

function genGlob(): string {
  const n = 1 + Math.floor(rand() * 6)
  let out = ''
  for (let i = 0; i < n; i++) out += pick(GLOB_PIECES)
  return out
}

const generatedPcre = Array.from({length: 700}, () => genPcre(0))
const generatedGlob = Array.from({length: 300}, () => genGlob())

interface Item {
  p: string
  accepted: boolean
  py: Verdict
}

let pcre: Item[] = []
let glob: Item[] = []
let pythonVersion = ''

before(() => {
  const pcrePatterns = [...new Set([...PCRE_CORPUS, ...generatedPcre])]
  const globPatterns = [...new Set([...GLOB_CORPUS, ...generatedGlob])]
  const pcreAccepted = pcrePatterns.map((p) => pcreProblem(p) === undefined)
  const globAccepted = globPatterns.map((p) => globProblem(p) === undefined)
  // Python matches only what wfctl accepts: a refused pattern may be one that takes Python forever.
  const out = askPython(SAMPLES, pcrePatterns.map((p, i) => ({p, match: pcreAccepted[i]})), globPatterns.map((p, i) => ({p, match: globAccepted[i]})))
  pythonVersion = out.version
  pcre = pcrePatterns.map((p, i) => ({p, accepted: pcreAccepted[i], py: out.pcre[i]}))
  glob = globPatterns.map((p, i) => ({p, accepted: globAccepted[i], py: out.glob[i]}))
})

test('the corpus is not vacuous: hundreds of patterns, many accepted, many refused', (t) => {
  assert.match(pythonVersion, /^3\./)
  const count = (items: Item[], accepted: boolean): number => items.filter((x) => x.accepted === accepted).length
  const strict = (items: Item[]): number => items.filter((x) => !x.accepted && x.py.ok).length
  t.diagnostic(`Python ${pythonVersion}; pcre ${pcre.length} (${count(pcre, true)} accepted, ${count(pcre, false)} refused, of which Python compiles ${strict(pcre)})`)
  t.diagnostic(`glob ${glob.length} (${count(glob, true)} accepted, ${count(glob, false)} refused, of which fnmatch compiles ${strict(glob)})`)
  assert.ok(pcre.length >= 500, `pcre corpus: ${pcre.length}`)
  assert.ok(count(pcre, true) >= 200, `pcre accepted: ${count(pcre, true)}`)
  assert.ok(count(pcre, false) >= 200, `pcre refused: ${count(pcre, false)}`)
  assert.ok(glob.length >= 250, `glob corpus: ${glob.length}`)
  assert.ok(count(glob, true) >= 80, `glob accepted: ${count(glob, true)}`)
  assert.ok(count(glob, false) >= 80, `glob refused: ${count(glob, false)}`)
  assert.ok(pcre.filter((x) => !x.py.ok).length >= 80, 'many patterns Python rejects')
})

test('the traps are real: JavaScript compiles them, Python does not, wfctl refuses them', () => {
  for (const p of JS_ONLY) {
    assert.doesNotThrow(() => new RegExp(p), p)
    const item = pcre.find((x) => x.p === p)!
    assert.equal(item.py.ok, false, `${p}: Python should reject it`)
    assert.equal(item.accepted, false, p)
  }
})

test('pcre: wfctl never accepts a pattern Python rejects or warns about', () => {
  const bad = pcre.filter((x) => x.accepted && (!x.py.ok || x.py.warning)).map((x) => `${JSON.stringify(x.p)}: ${x.py.error ?? x.py.warning}`)
  assert.deepEqual(bad, [])
})

test('pcre: for every accepted pattern, wfctl addresses exactly the names re.match does', () => {
  const wrong: string[] = []
  for (const x of pcre.filter((it) => it.accepted)) {
    SAMPLES.forEach((s, i) => {
      const js = matchesNode(x.p, 'pcre', s)
      if (js !== x.py.matches![i]) wrong.push(`${JSON.stringify(x.p)} on ${JSON.stringify(s)}: python ${x.py.matches![i]}, wfctl ${js}`)
    })
  }
  assert.deepEqual(wrong.slice(0, 20), [])
})

// Outside the BMP, JavaScript's RegExp without the u flag repeats half a character (😀+): wfctl's own
// matcher reads code points, as Python does, so only BMP patterns are held to this.
test("pcre: on plain ASCII names, an accepted BMP pattern means the same to JavaScript's own RegExp", () => {
  const plain = SAMPLES.map((s, i) => [s, i] as const).filter(([s]) => /^[\x20-\x7e]*$/.test(s))
  assert.ok(plain.length > 30)
  const wrong: string[] = []
  for (const x of pcre.filter((it) => it.accepted && !/[\uD800-\uDFFF]/.test(it.p))) {
    const re = new RegExp(`^(?:${x.p})`)
    for (const [s, i] of plain) if (re.test(s) !== x.py.matches![i]) wrong.push(`${JSON.stringify(x.p)} on ${JSON.stringify(s)}`)
  }
  assert.deepEqual(wrong.slice(0, 20), [])
})

test('glob: wfctl never accepts a pattern fnmatch rejects or warns about', () => {
  const bad = glob.filter((x) => x.accepted && (!x.py.ok || x.py.warning)).map((x) => `${JSON.stringify(x.p)}: ${x.py.error ?? x.py.warning}`)
  assert.deepEqual(bad, [])
})

test('glob: for every accepted pattern, wfctl addresses exactly the names fnmatch does', () => {
  const wrong: string[] = []
  for (const x of glob.filter((it) => it.accepted)) {
    SAMPLES.forEach((s, i) => {
      const js = matchesNode(x.p, 'glob', s)
      if (js !== x.py.matches![i]) wrong.push(`${JSON.stringify(x.p)} on ${JSON.stringify(s)}: python ${x.py.matches![i]}, wfctl ${js}`)
    })
  }
  assert.deepEqual(wrong.slice(0, 20), [])
})
