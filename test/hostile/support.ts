// Shared pieces of the hostile tier (not a test file: the runner only picks *.test.ts).
import assert from 'node:assert/strict'
import type {CliRun} from '../helpers/cli.js'

export {spawnWfctl, type LiveRun} from '../helpers/cli.js'
export {sleep, waitFor} from '../helpers/poll.js'

/** The Redis DB of this tier; every test still owns its key prefix and control exchange. */
export const HOSTILE_DB = 9

export function show(run: CliRun): string {
  const cut = (s: string) => (s.length > 4000 ? `${s.slice(0, 2000)}\n[... ${s.length - 4000} chars ...]\n${s.slice(-2000)}` : s)
  return `exit ${run.code} (signal ${run.signal}) after ${Math.round(run.ms)} ms\nstdout:\n${cut(run.stdout)}\nstderr:\n${cut(run.stderr)}`
}

/** Errors are one or two lines on stderr, no stack trace. */
export function assertShortError(run: CliRun, maxLines = 2): void {
  const lines = run.stderr.trim().split('\n').filter((l) => l.trim() !== '')
  assert.ok(lines.length >= 1 && lines.length <= maxLines, `stderr should be 1-${maxLines} lines, got ${lines.length}:\n${show(run)}`)
  assert.doesNotMatch(run.stderr, /^\s+at /m, `no stack trace:\n${show(run)}`)
  assert.doesNotMatch(run.stderr, /internal error/i, `no internal error:\n${show(run)}`)
}

/** Characters that must never reach a terminal raw: ESC, BEL, a C1 control (CSI) and a bidi override. */
export const HOSTILE_CHARS: [string, string][] = [
  ['ESC', '\x1b'],
  ['BEL', '\x07'],
  ['C1 CSI (U+009B)', '\u009b'],
  ['bidi RLO (U+202E)', '\u202e'],
]

export function assertNoHostileChars(text: string, where: string): void {
  for (const [name, ch] of HOSTILE_CHARS) {
    const at = text.indexOf(ch)
    assert.ok(at < 0, `${where} holds a raw ${name} at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}`)
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await work(items[i])
    }
  }))
  return results
}
