/**
 * Node-name patterns (`--pattern` with `--matcher pcre|glob`), checked against an allowlist before
 * anything is sent.
 *
 * A worker tests its own name with kombu's matcher registry (kombu/matcher.py, 5.2.4 to today):
 * `pcre` is `re.match(pattern, hostname)` — anchored at the start only, NOT at the end, flags 0, so
 * a str pattern with Unicode semantics — and `glob` is `fnmatch.fnmatch(hostname, pattern)`, whose
 * `os.path.normcase` is a no-op on POSIX (so it is `fnmatchcase`: whole-name, case-sensitive).
 * Neither call is guarded: a pattern Python cannot compile raises inside `Node.handle_message`,
 * and a Redis worker stops listening to its mailbox until it is restarted.
 *
 * So wfctl accepts only a small, documented subset (docs/patterns.md) that every Python 3.7–3.13
 * compiles without error or warning, whose meaning wfctl can state exactly, and for which
 * {@link matchesNode} gives Python's answer for every string. Everything else is refused with a
 * short reason. The checks walk the pattern once, with nesting bounded, and never throw.
 */

export type PatternMatcher = 'glob' | 'pcre'

export const PATTERN_LIMITS = {
  /** Characters (UTF-16 code units) in a pattern. */
  length: 1000,
  /** Groups inside groups. */
  depth: 50,
  /** The largest n or m in {n}, {n,}, {n,m}. */
  repeat: 1000,
  /** Quantifiers that repeat a variable number of times, more than once (*, +, {n,}, {n,m} with n<m). */
  repetitions: 4,
} as const

class Refusal {
  constructor(readonly reason: string) {}
}

function refuse(reason: string): never {
  throw new Refusal(reason)
}

function hex(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
}

// Made when first needed: a Unicode class costs every start a compile of its own.
let unprintable: RegExp | undefined
const UNPRINTABLE = () => (unprintable ??= /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]$/u)
const LONE_SURROGATE = /^[\uD800-\uDFFF]$/

/** A literal character must be a whole, visible character: no control or format characters. */
function checkCharacter(ch: string): void {
  if (LONE_SURROGATE.test(ch)) refuse(`the lone surrogate ${hex(ch)} is not a character`)
  if (UNPRINTABLE().test(ch)) refuse(`the control character ${hex(ch)} is not supported`)
}

function kindOf(ch: string): 'digit' | 'lower' | 'upper' | undefined {
  if (ch >= '0' && ch <= '9' && ch.length === 1) return 'digit'
  if (ch >= 'a' && ch <= 'z' && ch.length === 1) return 'lower'
  if (ch >= 'A' && ch <= 'Z' && ch.length === 1) return 'upper'
  return undefined
}

/** A range is two ASCII letters of the same case or two digits, in ascending order. */
function checkRange(from: string, to: string): void {
  const a = kindOf(from)
  const b = kindOf(to)
  if (a === undefined || a !== b) refuse(`the range ${from}-${to} is not between two digits or two letters of the same case`)
  if (from > to) refuse(`the range ${from}-${to} is reversed`)
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

// ---------------------------------------------------------------------------------------------
// pcre: Python's re.match

type ClassItem = {ch: string} | {from: string; to: string}

type PcreNode =
  | {kind: 'char'; ch: string}
  | {kind: 'any'}
  | {kind: 'start'}
  | {kind: 'end'}
  | {kind: 'class'; negate: boolean; items: ClassItem[]}
  | {kind: 'group'; body: PcreNode[][]; choice: boolean}
  | {kind: 'look'; negate: boolean; body: PcreNode[][]; choice: boolean}
  | {kind: 'repeat'; min: number; max: number; lazy: boolean; body: PcreNode}

/** ASCII punctuation: escaped, each stands for itself in Python and in JavaScript. */
const PUNCTUATION = new Set([...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'])

/** Why each escaped ASCII letter is refused. */
function letterEscapeProblem(letter: string): string {
  switch (letter) {
    case 'd':
    case 'D':
      return `\\${letter} is not supported: Python's matches any Unicode digit, JavaScript's only 0-9; write [0-9]`
    case 'w':
    case 'W':
      return `\\${letter} is not supported: Python's matches any Unicode letter or digit, JavaScript's only ASCII; write [A-Za-z0-9_]`
    case 's':
    case 'S':
      return `\\${letter} is not supported: Python and JavaScript disagree on which characters are spaces`
    case 'b':
    case 'B':
      return `word boundaries (\\${letter}) are not supported: Python's are Unicode-aware, JavaScript's ASCII-only`
    case 'A':
    case 'Z':
    case 'z':
    case 'G':
      return `the anchor \\${letter} is not supported; use ^ and $`
    case 'x':
    case 'u':
    case 'U':
    case 'N':
      return `hex and Unicode escapes (\\${letter}) are not supported; write the character itself`
    case 'p':
    case 'P':
      return `Unicode property escapes (\\${letter}) are not supported: Python's re has none`
    case 'k':
      return 'named back-references (\\k) are not supported'
    case 'c':
      return 'control escapes (\\c) are not supported'
    default:
      return `the escape \\${letter} is not supported`
  }
}

class PcreParser {
  private pos = 0
  private depth = 0
  private repetitions = 0

  constructor(private readonly cps: string[]) {}

  parse(): PcreNode[][] {
    const body = this.alternation()
    if (this.pos < this.cps.length) refuse(`not a valid regular expression: unbalanced ) at position ${this.pos}`)
    return body
  }

  private peek(offset = 0): string | undefined {
    return this.cps[this.pos + offset]
  }

  private alternation(): PcreNode[][] {
    const branches = [this.sequence()]
    while (this.peek() === '|') {
      this.pos++
      branches.push(this.sequence())
    }
    return branches
  }

  private sequence(): PcreNode[] {
    const seq: PcreNode[] = []
    for (;;) {
      const c = this.peek()
      if (c === undefined || c === '|' || c === ')') return seq
      const start = this.pos
      const atom = this.atom()
      seq.push(this.quantified(atom, start))
    }
  }

  /** Reads {n}, {n,} or {n,m} at the current position, or returns undefined if there is none. */
  private braces(): {min: number; max: number; length: number} | undefined {
    if (this.peek() !== '{') return undefined
    let i = 1
    const digits = (): string => {
      let s = ''
      while (/^[0-9]$/.test(this.peek(i) ?? '')) {
        s += this.peek(i)
        i++
        if (s.length > 12) break
      }
      return s
    }
    const low = digits()
    if (low === '' && this.peek(i) === ',' && /^[0-9]$/.test(this.peek(i + 1) ?? '')) {
      refuse('{,n} is not supported: Python reads it as {0,n}, JavaScript as text; write {0,n}')
    }
    if (low === '') return undefined
    let high = low
    if (this.peek(i) === ',') {
      i++
      high = digits()
    }
    if (this.peek(i) !== '}') return undefined
    const min = Number(low)
    const max = high === '' ? Infinity : Number(high)
    for (const [text, n] of [[low, min], [high, max]] as const) {
      if (text !== '' && (text.length > 4 || n > PATTERN_LIMITS.repeat)) refuse(`the repeat count ${text} is above ${PATTERN_LIMITS.repeat}`)
    }
    if (min > max) refuse(`the repeat {${low},${high}} has its minimum above its maximum`)
    return {min, max, length: i + 1}
  }

  private quantifierAt(): {min: number; max: number; length: number; text: string} | undefined {
    const c = this.peek()
    let q: {min: number; max: number; length: number} | undefined
    if (c === '*') q = {min: 0, max: Infinity, length: 1}
    else if (c === '+') q = {min: 1, max: Infinity, length: 1}
    else if (c === '?') q = {min: 0, max: 1, length: 1}
    else q = this.braces()
    if (!q) return undefined
    return {...q, text: this.cps.slice(this.pos, this.pos + q.length).join('')}
  }

  private quantified(atom: PcreNode, start: number): PcreNode {
    const q = this.quantifierAt()
    if (!q) return atom
    if (atom.kind === 'start' || atom.kind === 'end') refuse(`${atom.kind === 'start' ? '^' : '$'} cannot be repeated`)
    if (atom.kind === 'look') refuse(`a look-ahead cannot be repeated (${q.text})`)
    this.pos += q.length
    let lazy = false
    if (this.peek() === '?') {
      lazy = true
      this.pos++
    }
    const quantifier = q.text + (lazy ? '?' : '')
    if (this.peek() === '+') refuse(`possessive quantifiers (${quantifier}+) are not supported`)
    const next = this.quantifierAt()
    if (next) refuse(`a repeat of a repeat (${quantifier}${next.text}) is not supported`)
    if (q.max > 1 && hasChoice(atom)) {
      refuse(`nested repetition ${shorten(this.cps.slice(start, this.pos).join(''))} is not supported: Python's matcher can take exponential time on it`)
    }
    if (q.max > 1 && q.max > q.min) {
      this.repetitions++
      if (this.repetitions > PATTERN_LIMITS.repetitions) {
        refuse(`more than ${PATTERN_LIMITS.repetitions} repetitions (*, +, {n,m}) are not supported: Python's matcher would be too slow`)
      }
    }
    return {kind: 'repeat', min: q.min, max: q.max, lazy, body: atom}
  }

  private atom(): PcreNode {
    const c = this.cps[this.pos]
    if (c === '(') return this.group()
    if (c === '[') return this.characterClass()
    if (c === '.' || c === '^' || c === '$') {
      this.pos++
      return {kind: c === '.' ? 'any' : c === '^' ? 'start' : 'end'}
    }
    if (c === '\\') {
      this.pos++
      return {kind: 'char', ch: this.escape()}
    }
    if (c === '*' || c === '+' || c === '?') refuse(`nothing to repeat before ${c} at position ${this.pos}`)
    if (c === '{') {
      if (this.braces()) refuse(`nothing to repeat before { at position ${this.pos}`)
      refuse('a literal { must be written \\{')
    }
    if (c === '}' || c === ']') refuse(`a literal ${c} must be written \\${c}`)
    checkCharacter(c)
    this.pos++
    return {kind: 'char', ch: c}
  }

  /** After a backslash: the character it stands for, or a refusal. */
  private escape(): string {
    const e = this.peek()
    if (e === undefined) refuse('ends with a lone backslash')
    this.pos++
    if (PUNCTUATION.has(e)) return e
    if (e >= '1' && e <= '9') {
      let digits = e
      while (digits.length < 3 && /^[0-9]$/.test(this.peek() ?? '')) digits += this.cps[this.pos++]
      refuse(`back-references (\\${digits}) are not supported`)
    }
    if (e === '0') refuse('octal escapes (\\0) are not supported')
    if (/^[A-Za-z]$/.test(e)) refuse(letterEscapeProblem(e))
    checkCharacter(e)
    refuse(`the escape \\${e} is not supported; write ${e} without the backslash`)
  }

  private group(): PcreNode {
    const open = this.pos
    this.pos++
    this.depth++
    if (this.depth > PATTERN_LIMITS.depth) refuse(`groups are nested deeper than ${PATTERN_LIMITS.depth}`)
    let look: {negate: boolean} | undefined
    if (this.peek() === '?') {
      const k = this.peek(1)
      const k2 = this.peek(2)
      if (k === ':') {
        this.pos += 2
      } else if (k === '=' || k === '!') {
        look = {negate: k === '!'}
        this.pos += 2
      } else if (k === '<' && (k2 === '=' || k2 === '!')) {
        refuse(`look-behind groups (?<${k2}...) are not supported`)
      } else if (k === '<' || (k === 'P' && k2 === '<')) {
        refuse(`named groups (${k === 'P' ? '?P<' : '?<'}...) are not supported`)
      } else if (k === 'P' && k2 === '=') {
        refuse('named back-references (?P=...) are not supported')
      } else if (k === '#') {
        refuse('comment groups (?#...) are not supported')
      } else if (k === '>') {
        refuse('atomic groups (?>...) are not supported')
      } else if (k === '(') {
        refuse('conditional groups (?(...)...) are not supported')
      } else if (k !== undefined && /^[aiLmsux-]$/.test(k)) {
        refuse(`inline flag groups such as (?${k}) are not supported`)
      } else {
        refuse(`the group (?${k ?? ''} is not supported; use (...), (?:...), (?=...) or (?!...)`)
      }
    }
    const body = this.alternation()
    if (this.peek() !== ')') refuse(`not a valid regular expression: missing ) for the ( at position ${open}`)
    this.pos++
    this.depth--
    const choice = body.length > 1 || body.some((branch) => branch.some(hasChoice))
    return look ? {kind: 'look', negate: look.negate, body, choice} : {kind: 'group', body, choice}
  }

  private classMember(): string {
    const c = this.cps[this.pos]
    if (c === '\\') {
      this.pos++
      return this.escape()
    }
    if (c === '[') refuse('a [ inside a character class must be written \\[')
    if ((c === '&' || c === '~' || c === '|' || c === '-') && this.peek(1) === c) {
      refuse(`the doubled ${c}${c} in a character class is not supported (Python reserves it for set operations)`)
    }
    checkCharacter(c)
    this.pos++
    return c
  }

  private characterClass(): PcreNode {
    const open = this.pos
    this.pos++
    let negate = false
    if (this.peek() === '^') {
      negate = true
      this.pos++
    }
    if (this.peek() === ']') refuse(`a ] right after [${negate ? '^' : ''} must be written \\]`)
    const items: ClassItem[] = []
    for (;;) {
      const c = this.peek()
      if (c === undefined) refuse(`not a valid regular expression: unterminated character class at position ${open}`)
      if (c === ']') {
        this.pos++
        return {kind: 'class', negate, items}
      }
      const escaped = c === '\\'
      const start = this.pos
      const from = this.classMember()
      const after = this.peek(1)
      if (this.peek() === '-' && after !== ']' && after !== undefined) {
        this.pos++
        if (escaped || this.peek() === '\\') {
          refuse(`a range must be between two plain characters (${shorten(this.cps.slice(start, this.pos + 2).join(''))})`)
        }
        const to = this.classMember()
        checkRange(from, to)
        items.push({from, to})
        if (this.peek() === '-' && this.peek(1) !== ']') refuse(`the - after the range ${from}-${to} is ambiguous; write \\-`)
      } else {
        items.push({ch: from})
      }
    }
  }
}

function hasChoice(node: PcreNode): boolean {
  switch (node.kind) {
    case 'group':
    case 'look':
      return node.choice
    case 'repeat':
      return node.max > node.min || hasChoice(node.body)
    default:
      return false
  }
}

function parsePcre(pattern: string): PcreNode[][] {
  if (pattern === '') refuse('the pattern is empty')
  if (pattern.length > PATTERN_LIMITS.length) refuse(`the pattern is longer than ${PATTERN_LIMITS.length} characters`)
  return new PcreParser(Array.from(pattern)).parse()
}

function guarded(check: () => void): string | undefined {
  try {
    check()
    return undefined
  } catch (error) {
    if (error instanceof Refusal) return error.reason
    // A bug in the checker: refuse rather than send something unchecked.
    return `could not be checked (${(error as Error)?.message ?? String(error)})`
  }
}

/**
 * Why a worker's `re.match` might choke on this pattern or read it differently from wfctl, or
 * undefined when it is in the supported subset (docs/patterns.md).
 */
export function pcreProblem(pattern: string): string | undefined {
  return guarded(() => {
    parsePcre(pattern)
  })
}

// --- JavaScript spelling of an accepted pcre pattern, with Python's meaning

const JS_SYNTAX = new Set([...'^$\\.*+?()[]{}|/'])
const JS_CLASS_SYNTAX = new Set([...'\\]^-['])

function jsChar(ch: string): string {
  return JS_SYNTAX.has(ch) ? `\\${ch}` : ch
}

function jsClassChar(ch: string): string {
  return JS_CLASS_SYNTAX.has(ch) ? `\\${ch}` : ch
}

function jsAlternation(body: PcreNode[][]): string {
  return body.map((branch) => branch.map(jsNode).join('')).join('|')
}

function jsNode(node: PcreNode): string {
  switch (node.kind) {
    case 'char':
      return jsChar(node.ch)
    // Python's . is anything but \n; JavaScript's also refuses \r, U+2028 and U+2029.
    case 'any':
      return '[^\\n]'
    case 'start':
      return '^'
    // Python's $ (no MULTILINE) matches at the end and just before a newline that ends the string.
    case 'end':
      return '(?=\\n?$)'
    case 'class':
      return `[${node.negate ? '^' : ''}${node.items.map((it) => ('ch' in it ? jsClassChar(it.ch) : `${it.from}-${it.to}`)).join('')}]`
    case 'group':
      return `(?:${jsAlternation(node.body)})`
    case 'look':
      return `(?${node.negate ? '!' : '='}${jsAlternation(node.body)})`
    case 'repeat': {
      const {min, max} = node
      let q: string
      if (min === 0 && max === Infinity) q = '*'
      else if (min === 1 && max === Infinity) q = '+'
      else if (min === 0 && max === 1) q = '?'
      else if (max === Infinity) q = `{${min},}`
      else if (min === max) q = `{${min}}`
      else q = `{${min},${max}}`
      return jsNode(node.body) + q + (node.lazy ? '?' : '')
    }
  }
}

/**
 * The JavaScript RegExp that tests a node name exactly as a worker's `re.match(pattern, name)`
 * does (anchored at the start only; Unicode code points). Throws on a refused pattern.
 */
export function pcreToRegExp(pattern: string): RegExp {
  let ast: PcreNode[][]
  try {
    ast = parsePcre(pattern)
  } catch (error) {
    if (error instanceof Refusal) throw new Error(`pattern ${JSON.stringify(pattern)}: ${error.reason}`)
    throw error
  }
  return new RegExp(`^(?:${jsAlternation(ast)})`, 'u')
}

// ---------------------------------------------------------------------------------------------
// glob: Python's fnmatch.fnmatch

type GlobToken = {kind: 'star'} | {kind: 'one'} | {kind: 'char'; ch: string} | {kind: 'set'; negate: boolean; items: ClassItem[]}

const GLOB_NO_ESCAPE = 'glob patterns have no escapes (a \\ would match a backslash); write [*] or [?] for a literal * or ?'

function parseGlob(pattern: string): GlobToken[] {
  if (pattern === '') refuse('the pattern is empty')
  if (pattern.length > PATTERN_LIMITS.length) refuse(`the pattern is longer than ${PATTERN_LIMITS.length} characters`)
  const cps = Array.from(pattern)
  const tokens: GlobToken[] = []
  let i = 0
  while (i < cps.length) {
    const c = cps[i]
    if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({kind: 'star'})
      i++
    } else if (c === '?') {
      tokens.push({kind: 'one'})
      i++
    } else if (c === '[') {
      const open = i
      i++
      let negate = false
      if (cps[i] === '!') {
        negate = true
        i++
      }
      if (cps[i] === '^') refuse('[^...] is not negation in Python\'s fnmatch; write [!...]')
      if (cps[i] === ']') refuse(`a ] right after [${negate ? '!' : ''} is not supported`)
      const items: ClassItem[] = []
      const member = (): string => {
        const m = cps[i]
        if (m === '[') refuse('a [ inside a set is not supported')
        if (m === '\\') refuse(GLOB_NO_ESCAPE)
        checkCharacter(m)
        i++
        return m
      }
      for (;;) {
        if (i >= cps.length) refuse(`the [ at position ${open} is never closed (Python's fnmatch would match it literally)`)
        if (cps[i] === ']') {
          i++
          break
        }
        const from = member()
        if (cps[i] === '-' && cps[i + 1] !== ']' && i + 1 < cps.length) {
          i++
          const to = member()
          checkRange(from, to)
          items.push({from, to})
          if (cps[i] === '-' && cps[i + 1] !== ']') refuse(`the - after the range ${from}-${to} is ambiguous; put - last in the set`)
        } else {
          items.push({ch: from})
        }
      }
      tokens.push({kind: 'set', negate, items})
    } else if (c === ']') {
      refuse('a ] outside a set is not supported')
    } else if (c === '\\') {
      refuse(GLOB_NO_ESCAPE)
    } else {
      checkCharacter(c)
      tokens.push({kind: 'char', ch: c})
      i++
    }
  }
  return tokens
}

/**
 * Why a worker's `fnmatch` might choke on this pattern or read it differently from wfctl, or
 * undefined when it is in the supported subset (docs/patterns.md).
 */
export function globProblem(pattern: string): string | undefined {
  return guarded(() => {
    parseGlob(pattern)
  })
}

function inSet(items: ClassItem[], ch: string): boolean {
  return items.some((it) => ('ch' in it ? it.ch === ch : ch.length === 1 && ch >= it.from && ch <= it.to))
}

/** fnmatchcase over code points: the whole name, `*` and `?` crossing everything, newlines included. */
function globMatch(tokens: GlobToken[], node: string): boolean {
  const s = Array.from(node)
  let p = 0
  let k = 0
  let starP = -1
  let starK = 0
  const one = (t: GlobToken, ch: string): boolean => {
    if (t.kind === 'one') return true
    if (t.kind === 'char') return t.ch === ch
    if (t.kind === 'set') return inSet(t.items, ch) !== t.negate
    return false
  }
  while (k < s.length) {
    const t = tokens[p]
    if (t !== undefined && t.kind === 'star') {
      starP = p++
      starK = k
    } else if (t !== undefined && one(t, s[k])) {
      p++
      k++
    } else if (starP >= 0) {
      p = starP + 1
      k = ++starK
    } else {
      return false
    }
  }
  while (tokens[p]?.kind === 'star') p++
  return p === tokens.length
}

/**
 * Whether a worker named `node` runs a request with this pattern, as kombu decides it on a POSIX
 * worker: `re.match(pattern, node)` for pcre, `fnmatch.fnmatch(node, pattern)` for glob.
 * Throws on a pattern outside the supported subset (its meaning is not known to wfctl).
 */
export function matchesNode(pattern: string, matcher: PatternMatcher, node: string): boolean {
  if (matcher === 'pcre') return pcreToRegExp(pattern).test(node)
  let tokens: GlobToken[]
  try {
    tokens = parseGlob(pattern)
  } catch (error) {
    if (error instanceof Refusal) throw new Error(`pattern ${JSON.stringify(pattern)}: ${error.reason}`)
    throw error
  }
  return globMatch(tokens, node)
}
