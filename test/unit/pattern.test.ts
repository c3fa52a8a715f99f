import assert from 'node:assert/strict'
import {test} from 'node:test'

import {PATTERN_LIMITS, globProblem, matchesNode, pcreProblem, pcreToRegExp} from '../../src/protocol/pattern.ts'
import {assertSafeRequest, globProblem as globFromRequest, pcreProblem as pcreFromRequest} from '../../src/protocol/request.ts'
import {UnsafeMessageError} from '../../src/errors.ts'

function accepts(check: (p: string) => string | undefined, patterns: string[]): void {
  for (const p of patterns) assert.equal(check(p), undefined, `${JSON.stringify(p)} should be accepted`)
}

function refuses(check: (p: string) => string | undefined, cases: Array<[string, RegExp]>): void {
  for (const [p, why] of cases) {
    const reason = check(p)
    assert.ok(reason !== undefined, `${JSON.stringify(p)} should be refused`)
    assert.match(reason, why, `${JSON.stringify(p)}: ${reason}`)
    assert.doesNotMatch(reason, /§|protocol/, 'reasons never point at document sections')
  }
}

test('pcre: the supported subset is accepted', () => {
  accepts(pcreProblem, [
    'celery@host-1.example',
    'w1',
    'w1@vm',
    '^w1@vm$',
    'celery@web[0-9]+',
    'celery@web-[0-9]{2,3}\\.prod\\.example$',
    '^(?:a|b)[0-9]+@host\\.example$',
    '(web|api)-[0-9]+@',
    'w[^0-9]',
    '[a-z0-9-]+@[A-Z]',
    '[-a]',
    '[a-]',
    '[\\]\\[\\-\\\\^]',
    '[a^]',
    'a*?b+?c??d{2}?e{1,}?',
    'x{0}',
    'x{1000}',
    'x{0,1000}',
    '(?=w)w',
    '(?!w1@)w[0-9]+',
    '.',
    '.+@vm',
    'a|',
    '|a',
    '()',
    '(?:)',
    '(ab)+',
    '(a{3})+',
    '([0-9]{3}-)+',
    '(a+)?',
    '\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\\\-\\/',
    '\\@\\#\\_\\~\\!\\%\\&\\=\\:\\;\\,\\<\\>\\\'\\"\\`',
    'a/b',
    'a b#c',
    'wé@hôte',
    'ñandú|Δ',
    'w😀@vm',
    '(((((((((((((((((((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))))))))))))))))))',
    'a'.repeat(PATTERN_LIMITS.length),
    '.*a.*b.*c.*d',
  ])
})

test('pcre: every pattern that JavaScript compiles and Python does not is refused', () => {
  refuses(pcreProblem, [
    ['(a)\\2', /back-references \(\\2\)/],
    ['\\8', /back-references \(\\8\)/],
    ['\\10', /back-references \(\\10\)/],
    ['(a)\\1', /back-references \(\\1\)/],
    ['[\\d-z]', /\\d is not supported/],
    ['[a-\\d]', /range .*a-\\d/],
    ['x{99999999999}', /repeat count 99999999999/],
    ['x{1001}', /repeat count 1001 is above 1000/],
    ['x{0,99999}', /repeat count 99999/],
    ['(?<name>a)', /named groups/],
    ['(?P<name>a)', /named groups/],
    ['(?P<n>a)(?P=n)', /named groups/],
    ['(?P=n)', /named back-references/],
    ['(a)\\k<n>', /named back-references \(\\k\)/],
    ['(?<=a)b', /look-behind groups/],
    ['(?<!a)b', /look-behind groups/],
    ['(?<=ab|c)d', /look-behind groups/],
    ['\\p{L}', /Unicode property escapes \(\\p\)/],
    ['\\P{L}', /Unicode property escapes \(\\P\)/],
    ['\\u{41}', /Unicode escapes \(\\u\)/],
    ['\\u0041', /Unicode escapes \(\\u\)/],
    ['\\x41', /hex .* \(\\x\)/],
    ['\\x{41}', /hex .* \(\\x\)/],
    ['\\N{DIGIT ONE}', /\\N/],
    ['\\cA', /control escapes \(\\c\)/],
  ])
})

test('pcre: what compiles in both but means something else is refused', () => {
  refuses(pcreProblem, [
    ['\\Z', /anchor \\Z/],
    ['\\A', /anchor \\A/],
    ['\\z', /anchor \\z/],
    ['[^]', /\] right after \[\^/],
    ['[^]x]', /\] right after \[\^/],
    ['[]', /\] right after \[/],
    ['[]a]', /\] right after \[/],
    ['\\d', /\\d is not supported.*\[0-9\]/],
    ['\\D', /\\D is not supported/],
    ['\\w+', /\\w is not supported/],
    ['\\W', /\\W is not supported/],
    ['\\s', /\\s is not supported/],
    ['\\S', /\\S is not supported/],
    ['a\\b', /word boundaries \(\\b\)/],
    ['\\B', /word boundaries \(\\B\)/],
    ['[\\b]', /word boundaries/],
    ['a{,3}', /\{,n\} is not supported/],
    ['{,3}', /\{,n\} is not supported/],
    ['(?i)a', /inline flag groups such as \(\?i\)/],
    ['(?s).', /inline flag/],
    ['(?a:x)', /inline flag/],
    ['(?-i:x)', /inline flag/],
    ['\\a', /escape \\a/],
    ['\\e', /escape \\e/],
    ['\\n', /escape \\n/],
    ['\\t', /escape \\t/],
    ['\\0', /octal escapes/],
    ['\\07', /octal escapes/],
    ['[[]', /\[ inside a character class/],
    ['[[:alpha:]]', /\[ inside a character class/],
    ['a*+', /possessive quantifiers \(\*\+\)/],
    ['a++', /possessive/],
    ['a{2}+', /possessive/],
    ['(?>a)', /atomic groups/],
    ['(?#note)a', /comment groups/],
    ['(?(1)a|b)', /conditional groups/],
    ['(?x)', /inline flag/],
    ['(?', /the group \(\? is not supported/],
    ['(?Q)', /the group \(\?Q/],
    ['a{', /literal \{ must be written/],
    ['a{x}', /literal \{ must be written/],
    ['a}', /literal \} must be written/],
    ['a]', /literal \] must be written/],
    ['a{3,2}', /minimum above its maximum/],
    ['\\é', /write é without the backslash/],
    ['\\ ', /escape \\ {2}is not supported|escape \\ /],
  ])
})

test('pcre: malformed patterns, and those that would make Python slow, are refused', () => {
  refuses(pcreProblem, [
    ['', /empty/],
    ['a(', /missing \) for the \( at position 1/],
    ['(a', /missing \)/],
    ['a)', /unbalanced \) at position 1/],
    ['[a', /unterminated character class/],
    ['abc\\', /lone backslash/],
    ['*a', /nothing to repeat before \*/],
    ['+', /nothing to repeat/],
    ['a|?', /nothing to repeat/],
    ['(*)', /nothing to repeat/],
    ['{2}', /nothing to repeat before \{/],
    ['a**', /repeat of a repeat \(\*\*\)/],
    ['a{2}{3}', /repeat of a repeat/],
    ['a???', /repeat of a repeat/],
    ['^*', /\^ cannot be repeated/],
    ['$+', /\$ cannot be repeated/],
    ['(?=a)*', /look-ahead cannot be repeated/],
    ['(?!a){2}', /look-ahead cannot be repeated/],
    ['(a+)+', /nested repetition \(a\+\)\+/],
    ['(a*)*b', /nested repetition/],
    ['(a|a)*', /nested repetition/],
    ['(a|aa)+', /nested repetition/],
    ['(a?a?){2}', /nested repetition/],
    ['(x+y){2}', /nested repetition/],
    ['.*.*.*.*.*', /more than 4 repetitions/],
    ['[z-a]', /range z-a is reversed/],
    ['[9-0]', /reversed/],
    ['[A-z]', /not between two digits or two letters of the same case/],
    ['[!-~]', /not between/],
    ['[a-é]', /not between/],
    ['[a-c-e]', /the - after the range a-c is ambiguous/],
    ['[\\--a]', /a range must be between two plain characters/],
    ['[a--]', /not between|doubled/],
    ['[a&&b]', /doubled &&/],
    ['[a||b]', /doubled \|\|/],
    ['[a~~b]', /doubled ~~/],
    ['[--a]', /doubled --/],
    ['a\u0000', /control character U\+0000/],
    ['a\nb', /control character U\+000A/],
    ['a\u200Bb', /control character U\+200B/],
    ['a\u2028', /control character U\+2028/],
    ['\uD800', /lone surrogate U\+D800/],
    ['('.repeat(PATTERN_LIMITS.depth + 1) + ')'.repeat(PATTERN_LIMITS.depth + 1), /nested deeper than 50/],
    ['a'.repeat(PATTERN_LIMITS.length + 1), /longer than 1000/],
  ])
})

test('glob: the supported subset is accepted', () => {
  accepts(globProblem, [
    'celery@web-[a-c]*',
    '*',
    '?',
    'w?@vm',
    '*@vm',
    'celery@*.example',
    '[!w]*',
    '[!0-9]',
    '[a-z0-9-]*',
    '[-a]',
    '[!-a]',
    '[a-]',
    '[-]',
    '[*][?]',
    '[a!^&~|]',
    '[&&]',
    'a^$.+(){}|/',
    'wé@hôte*',
    'w😀?',
    '**',
    'a b',
  ])
})

test('glob: what fnmatch reads differently or older Pythons reject is refused', () => {
  refuses(globProblem, [
    ['', /empty/],
    ['celery@[z-a]', /range z-a is reversed/],
    ['[9-0]*', /reversed/],
    ['[A-z]', /not between/],
    ['[a-c-e]', /ambiguous/],
    ['[', /\[ at position 0 is never closed/],
    ['w1[', /never closed/],
    ['[abc', /never closed/],
    ['[]', /\] right after \[/],
    ['[]a]', /\] right after \[/],
    ['[!]', /\] right after \[!/],
    ['[!]a]', /\] right after \[!/],
    ['[^a]', /not negation .*\[!\.\.\.\]/],
    ['[[]', /\[ inside a set/],
    ['[[:alpha:]]', /\[ inside a set/],
    ['a]', /\] outside a set/],
    ['a\\*', /no escapes/],
    ['[\\]', /no escapes/],
    ['a\tb', /control character U\+0009/],
    ['\uDC00', /lone surrogate/],
    ['*'.repeat(PATTERN_LIMITS.length + 1), /longer than 1000/],
  ])
})

test('pcre matching follows re.match: anchored at the start only, $ also before a final newline', () => {
  const m = (p: string, s: string): boolean => matchesNode(p, 'pcre', s)
  assert.equal(m('w1', 'w1@vm'), true)
  assert.equal(m('w1', 'w10@vm'), true, 'a prefix: w1 also addresses w10')
  assert.equal(m('w1@vm$', 'w10@vm'), false)
  assert.equal(m('@vm', 'w1@vm'), false, 'not re.search')
  assert.equal(m('w1@vm$', 'w1@vm\n'), true, "Python's $ matches before a final newline")
  assert.equal(m('w1@vm$', 'w1@vm\n\n'), false)
  assert.equal(m('w.@', 'w\n@'), false, '. is anything but a newline')
  assert.equal(m('w.@', 'w\r@'), true, 'but includes \\r, unlike JavaScript')
  assert.equal(m('w.@', 'w\u2028@'), true)
  assert.equal(m('w.@', 'w😀@'), true, '. is one code point')
  assert.equal(m('w[^a]@', 'w\n@'), true)
  assert.equal(m('W1', 'w1'), false, 'case-sensitive')
  assert.equal(m('a|^b', 'b'), true)
  assert.equal(m('x^', 'x'), false)
  assert.equal(m('(?!w1@)w[0-9]+', 'w1@vm'), false)
  assert.equal(m('(?!w1@)w[0-9]+', 'w12@vm'), true)
  assert.equal(m('\\/', '/'), true)
  assert.equal(m('a|', 'zzz'), true, 'an empty alternative matches everything')
  assert.equal(pcreToRegExp('a.$').source, '^(?:a[^\\n](?=\\n?$))')
  assert.throws(() => matchesNode('(a)\\2', 'pcre', 'aa'), /back-references/)
})

test('glob matching follows fnmatch: the whole name, case-sensitive, * and ? crossing newlines', () => {
  const m = (p: string, s: string): boolean => matchesNode(p, 'glob', s)
  assert.equal(m('w1*', 'w10@vm'), true)
  assert.equal(m('w1', 'w1@vm'), false, 'the whole name')
  assert.equal(m('?1@vm', 'w1@vm'), true)
  assert.equal(m('[!w]*', 'r8@vm'), true)
  assert.equal(m('[!w]*', 'w8@vm'), false)
  assert.equal(m('W*', 'w1'), false, 'case-sensitive on POSIX workers')
  assert.equal(m('*', ''), true)
  assert.equal(m('?', ''), false)
  assert.equal(m('a*b', 'a\nb'), true)
  assert.equal(m('a?b', 'a\nb'), true)
  assert.equal(m('?', '😀'), true)
  assert.equal(m('*a*a*a*b', 'a'.repeat(5000)), false, 'no exponential backtracking')
  assert.equal(m('[*]', '*'), true)
  assert.equal(m('[*]', 'x'), false)
  assert.equal(m('a.b', 'axb'), false, '. is literal in a glob')
  assert.equal(m('[a-]x', '-x'), true)
  assert.throws(() => matchesNode('[z-a]', 'glob', 'x'), /reversed/)
})

test('request.ts re-exports the checks and refuses requests with bad patterns', () => {
  assert.equal(pcreFromRequest, pcreProblem)
  assert.equal(globFromRequest, globProblem)
  assert.throws(() => assertSafeRequest({method: 'ping', arguments: {}, matcher: 'pcre', pattern: '(a)\\2'}), UnsafeMessageError)
  assert.throws(() => assertSafeRequest({method: 'ping', arguments: {}, matcher: 'glob', pattern: '[z-a]'}), UnsafeMessageError)
  assertSafeRequest({method: 'ping', arguments: {}, destination: null, matcher: 'pcre', pattern: 'w[0-9]+@'})
})

test('the checks never throw on long or deep input', () => {
  for (const p of ['('.repeat(100_000), ')'.repeat(100_000), '['.repeat(100_000), '\\'.repeat(100_001), 'a'.repeat(1_000_000), '(?:'.repeat(333) + 'a']) {
    assert.equal(typeof pcreProblem(p), 'string')
    assert.doesNotThrow(() => globProblem(p))
  }
})
