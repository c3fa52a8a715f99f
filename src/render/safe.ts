/*
 * Text from the wire made safe for a terminal. A worker controls every string of its replies (node
 * names, payloads, queue and task names, content types): none of them may act on the operator's
 * terminal or disguise a line.
 *
 * One rule, everywhere: a character that is not text a terminal shows as itself becomes U+FFFD:
 *   - control characters, C0, DEL and C1 (ESC, BEL, CSI as U+009B: escape sequences could set the
 *     title, write the clipboard with OSC 52, move the cursor or clear the screen);
 *   - format characters (Unicode category Cf): the bidi embeddings, overrides and isolates
 *     U+202A–U+202E and U+2066–U+2069, the marks U+200E, U+200F and U+061C, zero-width characters,
 *     U+FEFF, the tags block, ... (they reorder or hide what a line shows);
 *   - the line and paragraph separators U+2028 and U+2029, and lone surrogates.
 * Layout whitespace (a run of white space holding a line break or a tab) becomes one space, so
 * that a value always stays on its line. safeJson writes the same characters as \u escapes.
 */

/** Anything but printable ASCII: text without it is safe as it is (the common, fast case). */
const NOT_PRINTABLE_ASCII = /[^\u0020-\u007e]/
/** A run of white space; it is one space when it holds a line break or a tab. */
const WHITE_RUN = /\s+/g
const BREAK = /[\r\n\t]/
/**
 * What a terminal must never be sent from the wire (see above). Made when first needed, for text
 * that is not plain ASCII: a Unicode class costs every start a compile of its own.
 */
let unsafe: RegExp | undefined
let unsafeOne: RegExp | undefined
const UNSAFE = () => (unsafe ??= /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu)
const UNSAFE_CHAR = () => (unsafeOne ??= /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]$/u)

/** Whether safe() shows this one character (a code point or a lone surrogate) as U+FFFD. */
export function unsafeChar(ch: string): boolean {
  return UNSAFE_CHAR().test(ch)
}

/** Printable ASCII only: safe as it is, one column per character. */
export function isPlain(value: string): boolean {
  return !NOT_PRINTABLE_ASCII.test(value)
}

function layout(run: string): string {
  return BREAK.test(run) ? ' ' : run
}

/**
 * Neutralised text, on one line: control and format characters (bidi included), line and
 * paragraph separators as U+FFFD; a run of white space with a line break or a tab as one space.
 * Linear in the length of the text.
 */
export function safe(value: string): string {
  if (!NOT_PRINTABLE_ASCII.test(value)) return value
  return value.replace(WHITE_RUN, layout).replace(UNSAFE(), '\uFFFD')
}

/** A line for stderr (a warning or a hint built from wire strings): the same rule, one line. */
export function safeLine(text: string): string {
  return safe(text)
}

/**
 * JSON text holds these only inside strings, where an escape means the same. Not C0: JSON.stringify
 * escapes it in strings, and its raw newlines and spaces are the indentation.
 */
let jsonUnsafe: RegExp | undefined
const JSON_UNSAFE = () => (jsonUnsafe ??= /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu)

function escape(ch: string): string {
  let out = ''
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`
  return out
}

/**
 * JSON.stringify's text, with every character safe() neutralises written as a \u escape: C1,
 * DEL, U+2028, U+2029, the bidi characters, U+FEFF and the other format characters (JSON.stringify
 * escapes C0 and lone surrogates itself). It parses back to the same value. One pass over the text;
 * whatever JSON.stringify throws (a RangeError for a value nested too deep) is thrown as it is.
 * A value JSON has no text for (undefined, a function) is `null`.
 */
export function safeJson(value: unknown, indent?: number): string {
  const json = JSON.stringify(value, null, indent) as string | undefined
  if (json === undefined) return 'null'
  return NOT_PRINTABLE_ASCII.test(json) ? json.replace(JSON_UNSAFE(), escape) : json
}
