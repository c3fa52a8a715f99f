import {readFileSync} from 'node:fs'

import {UsageError} from '../errors.js'
import type {Collected} from '../protocol/collector.js'

/** The nodes the caller expects to answer (`--expect`): a count or names. */
export type Roster = {count: number} | {names: string[]}

const NODE_NAME = /^[^\s,]+$/

function checkNames(names: string[], source: string): string[] {
  const bad = names.find((n) => !NODE_NAME.test(n))
  if (bad !== undefined) throw new UsageError(`invalid node name ${JSON.stringify(bad)} in ${source}`)
  return [...new Set(names)]
}

/** `-d a@h -d b@h,c@h` → the destination list, in order, without duplicates. */
export function parseDestinations(values: string[] | undefined): string[] {
  if (!values || values.length === 0) return []
  const names = values.flatMap((v) => v.split(',')).map((n) => n.trim())
  if (names.some((n) => n === '')) throw new UsageError('empty node name in --destination')
  return checkNames(names, '--destination')
}

/** `--expect 3`, `--expect a@h,b@h` or `--expect @roster.txt` (one name per line, `#` comments). */
export function parseExpect(value: string | undefined): Roster | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) {
    const count = Number(text)
    if (count < 1) throw new UsageError('--expect must be at least 1')
    return {count}
  }
  if (text.startsWith('@')) {
    const file = text.slice(1)
    let content: string
    try {
      content = readFileSync(file, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read roster file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
    const names = content.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)
    if (names.length === 0) throw new UsageError(`roster file ${file} names no node`)
    return {names: checkNames(names, file)}
  }
  const names = text.split(',').map((n) => n.trim())
  if (names.some((n) => n === '')) throw new UsageError('empty node name in --expect')
  return {names: checkNames(names, '--expect')}
}

/** The nodes that must answer: every destination, plus every expected name (contract §5). */
export function awaitedNodes(destination: string[], roster: Roster | undefined): string[] {
  return [...new Set([...destination, ...(roster && 'names' in roster ? roster.names : [])])]
}

/**
 * When the answer is complete (contract §5): the expected count is reached, or every awaited node
 * replied; a plain broadcast is never complete before its timeout.
 */
export function completionOf(destination: string[], roster: Roster | undefined): ((c: Collected) => boolean) | undefined {
  if (roster && 'count' in roster) {
    return (c) => new Set(c.replies.map((r) => r.node)).size >= roster.count
  }
  const awaited = awaitedNodes(destination, roster)
  if (awaited.length === 0) return undefined
  return (c) => {
    const seen = new Set(c.replies.map((r) => r.node))
    return awaited.every((n) => seen.has(n))
  }
}
