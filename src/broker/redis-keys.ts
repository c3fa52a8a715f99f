/** kombu's names inside Redis that more than one broker module spells (docs/wire-protocol.md#keys-and-channels). */

/** kombu's field separator inside binding members and priority queue names. */
export const SEP = '\x06\x16'

/** A literal inside a Redis glob pattern (PSUBSCRIBE): its special characters backslash-escaped. */
export function globEscape(text: string): string {
  return text.replace(/[\\*?[\]]/g, (c) => `\\${c}`)
}
