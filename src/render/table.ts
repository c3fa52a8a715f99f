import {isPlain, safe, unsafeChar} from './safe.js'
import {naturalCompare} from '../fleet/live.js'

/*
 * The tables: columns padded to their display width, two spaces between them, the heading in bold
 * when colour is on, no trailing spaces. Every cell goes through safe() here, so that no table can
 * forget it; colour is painted on after that, so only our own SGR codes reach the terminal.
 *
 * Linear in the number of rows and in the size of the values: a value is read only as far as the
 * terminal can show it (a 50 MB payload string costs what its first few hundred characters do).
 */

/** A cell: its text, or its text and how to colour it once it has been made safe and shortened. */
export type Cell = string | {text: string; paint: (s: string) => string}

/** How a table gives way on a narrow terminal. */
export interface Fit {
  /** Columns that may be shortened to fit the terminal, the first one first. */
  shrink: number[]
  /** Narrowest a shrinkable column may become (default 8, never narrower than its heading). */
  min?: Record<number, number>
  /**
   * Where a column loses characters: 'end' (default), 'start' for dotted task names whose last
   * part says the most, 'middle' for node names that share a prefix (celery@airflow-worker-…).
   */
  cut?: Record<number, 'start' | 'middle'>
}

export interface Layout extends Fit {
  head: string[]
  rows: Cell[][]
}

export interface TableView {
  color: boolean
  /** Terminal width; long values are shortened to fit. */
  columns: number
}

const GAP = '  '

// ─── display width ─────────────────────────────────────────────────────────────────────────────

/** Columns a character takes on a terminal: 2 for East Asian wide and emoji, 0 for combining marks. */
function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2
  return 1
}

/** The code point at i (a surrogate pair read as one), as codePointAt does. */
function codePoint(text: string, i: number): number {
  return text.codePointAt(i)!
}

/**
 * Display width of the text, read only until it exceeds `cap`: the exact width when it is at most
 * `cap`, else some number greater than `cap`.
 */
export function widthUpTo(text: string, cap: number): number {
  let width = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x300) {
      width += 1
    } else {
      const cp = codePoint(text, i)
      if (cp > 0xffff) i += 1
      width += charWidth(cp)
    }
    if (width > cap) return width
  }
  return width
}

/** Columns a string takes on a terminal (no escape sequences expected: see safe()). */
export function displayWidth(text: string): number {
  return widthUpTo(text, Number.POSITIVE_INFINITY)
}

/** The longest run of characters from the start (or from the end) that fits `max` columns. */
export function take(text: string, max: number, fromEnd = false): string {
  let width = 0
  if (!fromEnd) {
    let i = 0
    while (i < text.length) {
      const cp = codePoint(text, i)
      const w = charWidth(cp)
      if (width + w > max) break
      width += w
      i += cp > 0xffff ? 2 : 1
    }
    return text.slice(0, i)
  }
  let i = text.length
  while (i > 0) {
    let start = i - 1
    const unit = text.charCodeAt(start)
    if (unit >= 0xdc00 && unit <= 0xdfff && start > 0) {
      const high = text.charCodeAt(start - 1)
      if (high >= 0xd800 && high <= 0xdbff) start -= 1
    }
    const w = charWidth(codePoint(text, start))
    if (width + w > max) break
    width += w
    i = start
  }
  return text.slice(i)
}

/** Shortens to `max` terminal columns with an ellipsis. Reads the text only as far as it shows. */
export function shorten(text: string, max: number): string {
  if (widthUpTo(text, max) <= max) return text
  if (max < 2) return take(text, Math.max(0, max))
  return `${take(text, max - 1)}…`
}

/** Shortens with the ellipsis where the text says least: the end, the start, or the middle. */
export function shortenAt(text: string, max: number, where?: 'start' | 'middle'): string {
  if (max < 2 || where === undefined || widthUpTo(text, max) <= max) return shorten(text, max)
  if (where === 'start') return `…${take(text, max - 1, true)}`
  const head = take(text, Math.ceil((max - 1) / 2))
  return `${head}…${take(text, max - 1 - displayWidth(head), true)}`
}

// ─── safe text of long values, read from either end ───────────────────────────────────────────

/** White space as the regular expression \s has it, by UTF-16 code unit. */
export function isSpace(unit: number): boolean {
  if (unit <= 0x20) return unit === 0x20 || (unit >= 0x09 && unit <= 0x0d)
  if (unit < 0xa0) return false
  return unit === 0xa0 || unit === 0x1680 || (unit >= 0x2000 && unit <= 0x200a) || unit === 0x2028 || unit === 0x2029 ||
    unit === 0x202f || unit === 0x205f || unit === 0x3000 || unit === 0xfeff
}

/** Values this long (UTF-16 units) are read from their ends only; shorter ones whole. */
function longAt(cap: number): number {
  return 2048 + 4 * cap
}

/** The most UTF-16 units read from an end of a long value: zero-width floods stop here too. */
function unitsFor(cols: number): number {
  return 256 + 4 * Math.max(0, cols)
}

/** From lastIndex, white space that is not a line break or a tab: where it stops tells. */
const NO_BREAK = /[^\S\r\n\t]*/y
/** A whole run of white space from lastIndex. */
const RUN = /\s+/y

/** Whether the run of white space raw[from, to) holds a line break or a tab (safe() folds it). */
function breaks(raw: string, from: number, to: number): boolean {
  NO_BREAK.lastIndex = from
  NO_BREAK.test(raw)
  return NO_BREAK.lastIndex < to
}

/** One character (a code point, or a lone surrogate) as safe() shows it outside folded runs. */
function shownChar(ch: string): string {
  return unsafeChar(ch) ? '\uFFFD' : ch
}

/**
 * The start of safe(raw), read from the start of raw only until it is wider than `cols` columns
 * or `units` long; `whole` when all of raw was read. Exactly what safe() makes of that start.
 */
function safeHead(raw: string, cols: number, units: number): {text: string; whole: boolean} {
  let out = ''
  let width = 0
  let i = 0
  while (i < raw.length) {
    if (width > cols || out.length > units) return {text: out, whole: false}
    const unit = raw.charCodeAt(i)
    if (unit > 0x20 && unit < 0x7f) {
      out += raw[i]
      width += 1
      i += 1
    } else if (isSpace(unit)) {
      RUN.lastIndex = i
      RUN.test(raw)
      const end = RUN.lastIndex
      if (breaks(raw, i, end)) {
        out += ' '
        width += 1
        i = end
      } else {
        for (; i < end && width <= cols && out.length <= units; i++) {
          const shown = shownChar(raw[i])
          out += shown
          width += shown === raw[i] ? charWidth(raw.charCodeAt(i)) : 1
        }
      }
    } else {
      const cp = raw.codePointAt(i)!
      const ch = cp > 0xffff ? raw.slice(i, i + 2) : raw[i]
      const shown = shownChar(ch)
      out += shown
      width += shown === ch ? charWidth(cp) : 1
      i += ch.length
    }
  }
  return {text: out, whole: true}
}

/** The end of safe(raw), read from the end of raw until it is wider than `cols` or `units` long. */
function safeTail(raw: string, cols: number, units: number): string {
  const parts: string[] = []
  let length = 0
  let width = 0
  let i = raw.length
  while (i > 0 && width <= cols && length <= units) {
    const unit = raw.charCodeAt(i - 1)
    if (isSpace(unit)) {
      let start = i - 1
      while (start > 0 && isSpace(raw.charCodeAt(start - 1))) start -= 1
      if (breaks(raw, start, i)) {
        parts.push(' ')
        length += 1
        width += 1
        i = start
      } else {
        for (; i > start && width <= cols && length <= units; i--) {
          const shown = shownChar(raw[i - 1])
          parts.push(shown)
          length += 1
          width += shown === raw[i - 1] ? charWidth(raw.charCodeAt(i - 1)) : 1
        }
      }
    } else {
      let from = i - 1
      if (unit >= 0xdc00 && unit <= 0xdfff && from > 0) {
        const high = raw.charCodeAt(from - 1)
        if (high >= 0xd800 && high <= 0xdbff) from -= 1
      }
      const ch = raw.slice(from, i)
      const shown = shownChar(ch)
      parts.push(shown)
      length += shown.length
      width += shown === ch ? charWidth(ch.codePointAt(0)!) : 1
      i = from
    }
  }
  return parts.reverse().join('')
}

/** shortenAt(safe(raw), max, where), reading of `raw` only what can show. */
export function clip(raw: string, max: number, where?: 'start' | 'middle'): string {
  return shown(prepare(raw, Math.max(0, max)), max, where)
}

/** A cell's safe text (the whole of it, or a start wider than the column can ever be) and width. */
interface Prepared {
  text: string
  /** The width of `text`, or a number greater than the column's cap when it is only a start. */
  width: number
  /** The value, when `text` is only its start. */
  raw?: string
}

function prepare(raw: string, cap: number): Prepared {
  if (raw.length <= longAt(cap)) {
    const text = safe(raw)
    return {text, width: widthUpTo(text, cap)}
  }
  const head = safeHead(raw, cap, unitsFor(cap))
  return head.whole ? {text: head.text, width: widthUpTo(head.text, cap)} : {text: head.text, width: cap + 1, raw}
}

/** The cell as it shows in `max` columns (max is at most the cap it was prepared for). */
function shown(p: Prepared, max: number, where?: 'start' | 'middle'): string {
  if (p.width <= max) return p.text
  if (p.raw === undefined) return shortenAt(p.text, max, where)
  // p.text is a start of the safe text, and there is more: it loses characters, as shortenAt has it.
  if (max < 2) return take(p.text, Math.max(0, max))
  if (where === undefined) return `${take(p.text, max - 1)}…`
  if (where === 'start') return `…${take(safeTail(p.raw, max - 1, unitsFor(max)), max - 1, true)}`
  const head = take(p.text, Math.ceil((max - 1) / 2))
  const rest = max - 1 - displayWidth(head)
  return `${head}…${take(safeTail(p.raw, rest, unitsFor(max)), rest, true)}`
}

// ─── order ─────────────────────────────────────────────────────────────────────────────────────

/** Node names in natural order (pod-2 before pod-10 before pod-100), as top and the explorer list them. */
export function sorted(names: string[]): string[] {
  return names.sort(naturalCompare)
}

let collator: Intl.Collator | undefined

/** a.localeCompare(b), with one collator for every comparison instead of one a call. */
export function collate(a: string, b: string): number {
  return (collator ??= new Intl.Collator()).compare(a, b)
}

// ─── the table ────────────────────────────────────────────────────────────────────────────────

const BOLD = (s: string) => `\u001B[1m${s}\u001B[22m`
const SPACES = ' '.repeat(256)

function pad(n: number): string {
  return n <= 0 ? '' : n <= SPACES.length ? SPACES.slice(0, n) : ' '.repeat(n)
}

/** Padding of n spaces then the gap between two columns. */
const GAPS = Array.from({length: 128}, (_, n) => ' '.repeat(n + GAP.length))

function gap(n: number): string {
  return n < GAPS.length ? GAPS[Math.max(0, n)] : pad(n) + GAP
}

/**
 * Lays out a table within the terminal width, shortening the shrinkable columns in order, each
 * down to its floor; no rows, no table. A column that may not shrink is still never wider than
 * the terminal. One column is left spare: some terminals wrap a line that reaches the last one.
 */
export function renderTable(layout: Layout, view: TableView): string {
  const {head, rows} = layout
  if (rows.length === 0) return ''
  const n = head.length
  const heads = head.map((h) => safe(h))
  const floors = heads.map((h, i) => Math.max(layout.min?.[i] ?? 8, displayWidth(h)))
  // No cell is measured beyond its cap: a wider one is shortened to the same text either way.
  const caps = floors.map((f) => Math.max(view.columns, f))
  const widths = heads.map((h) => displayWidth(h))
  // Flat, row by row: each cell's safe text and its width (see Prepared); the raw value of the
  // few cells that are only read from their ends.
  const texts: string[] = new Array(rows.length * n)
  const cellWidths = new Float64Array(rows.length * n)
  let long: Map<number, string> | undefined
  for (let r = 0, k = 0; r < rows.length; r++) {
    const row = rows[r]
    for (let i = 0; i < n; i++, k++) {
      const cell = row[i] ?? ''
      const raw = typeof cell === 'string' ? cell : cell.text
      const cap = caps[i]
      let text: string
      let width: number
      if (raw.length <= longAt(cap)) {
        // Printable ASCII (most cells) is safe as it is, one column a character.
        text = raw
        width = raw.length
        if (!isPlain(raw)) {
          text = safe(raw)
          width = widthUpTo(text, cap)
        }
      } else {
        const p = prepare(raw, cap)
        text = p.text
        width = p.width
        if (p.raw !== undefined) (long ??= new Map()).set(k, p.raw)
      }
      texts[k] = text
      cellWidths[k] = width
      if (width > widths[i]) widths[i] = Math.min(width, cap)
    }
  }
  let excess = widths.reduce((a, b) => a + b, 0) + GAP.length * (n - 1) - (view.columns - 1)
  for (const i of layout.shrink) {
    if (excess <= 0) break
    const cut = Math.min(excess, Math.max(0, widths[i] - floors[i]))
    widths[i] -= cut
    excess -= cut
  }
  // What each cell shows; the columns as wide as what they show (a wide character that does not
  // fit leaves a column narrower than it may be).
  const used = heads.map((h) => displayWidth(h))
  for (let k = 0; k < texts.length; k++) {
    const i = k % n
    if (cellWidths[k] > widths[i]) {
      const text = shown({text: texts[k], width: cellWidths[k], raw: long?.get(k)}, widths[i], layout.cut?.[i])
      texts[k] = text
      cellWidths[k] = displayWidth(text)
    }
    if (cellWidths[k] > used[i]) used[i] = cellWidths[k]
  }
  const bold = view.color ? BOLD : (s: string) => s
  const lines: string[] = new Array(rows.length + 1)
  let line = ''
  for (let i = 0; i < n; i++) line += i < n - 1 ? `${bold(heads[i])}${pad(used[i] - displayWidth(heads[i]))}${GAP}` : bold(heads[i])
  lines[0] = line.trimEnd()
  for (let r = 0, k = 0; r < rows.length; r++) {
    const row = rows[r]
    line = ''
    for (let i = 0; i < n; i++, k++) {
      const cell = row[i]
      line += typeof cell === 'object' && cell !== null ? cell.paint(texts[k]) : texts[k]
      if (i < n - 1) line += gap(used[i] - cellWidths[k])
    }
    const last = line.charCodeAt(line.length - 1)
    lines[r + 1] = last === 0x20 || isSpace(last) ? line.trimEnd() : line
  }
  return lines.join('\n')
}

/** A table built row by row, laid out by renderTable. */
export class Table {
  readonly rows: Cell[][] = []

  constructor(
    readonly head: string[],
    private readonly view: TableView,
    private readonly fit: Fit = {shrink: []},
  ) {}

  get length(): number {
    return this.rows.length
  }

  push(row: Cell[]): number {
    return this.rows.push(row)
  }

  toString(): string {
    return renderTable({...this.fit, head: this.head, rows: this.rows}, this.view)
  }
}
