/** "1 node", "2 nodes", "2 replies": a count and its noun, for summaries and status lines. */
export function plural(n: number, word: string): string {
  if (n === 1) return `${n} ${word}`
  return `${n} ${/[^aeiou]y$/.test(word) ? `${word.slice(0, -1)}ies` : `${word}s`}`
}
