import {closeSync, fstatSync, openSync, readSync} from 'node:fs'

import {UsageError} from '../errors.js'
import type {Collected} from '../protocol/collector.js'
import {matchesNode} from '../protocol/pattern.js'
import type {Target} from '../protocol/request.js'

/** The nodes the caller expects to answer (`--expect`): a count or names. */
export type Roster = {count: number} | {names: string[]}

/**
 * What a Celery node name is made of (`name@host`, the host a DNS name): letters, digits and
 * `_ . - @ : + = ~ %`. Never whitespace, commas or control characters, which no worker's name
 * holds and which would reach the worker's log.
 */
const NODE_NAME = {
  /** ASCII first: it decides every usual name, and the Unicode class costs a compile of its own. */
  test: (name: string): boolean => ASCII_NODE_NAME.test(name) || (unicodeNodeName ??= /^[\p{L}\p{N}_.@:+=~%-]{1,255}$/u).test(name),
}
const ASCII_NODE_NAME = /^[A-Za-z0-9_.@:+=~%-]{1,255}$/
let unicodeNodeName: RegExp | undefined
/** A roster file is a list of names: a few hundred kilobytes at most. */
const MAX_ROSTER_BYTES = 1024 * 1024

function checkNames(names: string[], source: string): string[] {
  const bad = names.find((n) => !NODE_NAME.test(n) || n.startsWith('-'))
  if (bad !== undefined) throw new UsageError(`invalid node name ${JSON.stringify(bad)} in ${source} (node names look like worker1@host)`)
  return [...new Set(names)]
}

/** A roster file: a regular file of a sane size, read whole; its content is never echoed. */
function readRoster(file: string): string {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (error) {
    throw new UsageError(`cannot read roster file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new UsageError(`roster file ${file} is not a regular file`)
    if (stat.size > MAX_ROSTER_BYTES) throw new UsageError(`roster file ${file} is larger than ${MAX_ROSTER_BYTES / 1024} KiB`)
    const buffer = Buffer.alloc(stat.size)
    const read = readSync(fd, buffer, 0, stat.size, 0)
    return buffer.toString('utf8', 0, read)
  } finally {
    closeSync(fd)
  }
}

/**
 * A name given without `@`, and the node it was taken as. Celery names a worker started with
 * `-n NAME` (and Airflow's workers, `celery@HOST`) `celery@NAME`: `-d airhost` means `celery@airhost`.
 */
export interface Assumed {
  given: string
  node: string
}

/** The node a name means: itself when it holds `@`, else `celery@NAME`. */
export function nodeNameOf(name: string): string {
  return name.includes('@') ? name : `celery@${name}`
}

/** Names (already checked) as node names, and which of them were given without `@`. */
function withDefaults(names: string[]): {names: string[]; assumed: Assumed[]} {
  const assumed: Assumed[] = []
  const seen = new Set<string>()
  const nodes = names.map((given) => {
    const node = nodeNameOf(given)
    if (node !== given && !seen.has(given)) {
      seen.add(given)
      assumed.push({given, node})
    }
    return node
  })
  return {names: [...new Set(nodes)], assumed}
}

/**
 * `-d a@h -d b@h,c@h` → the destination list, in order, without duplicates; a name without `@`
 * is `celery@NAME`, and `assumed` says which were.
 */
export function readDestinations(values: string[] | undefined): {names: string[]; assumed: Assumed[]} {
  if (!values || values.length === 0) return {names: [], assumed: []}
  const names = values.flatMap((v) => v.split(',')).map((n) => n.trim())
  if (names.some((n) => n === '')) throw new UsageError('empty node name in --destination')
  return withDefaults(checkNames(names, '--destination'))
}

/** The destination list of readDestinations(), without what was assumed. */
export function parseDestinations(values: string[] | undefined): string[] {
  return readDestinations(values).names
}

/**
 * `--expect 3`, `--expect a@h,b@h` or `--expect @roster.txt` (one name per line, `#` comments); a
 * name without `@` is `celery@NAME`, and `assumed` says which were (`source`: where they were given).
 */
export function readExpect(value: string | undefined): {roster: Roster | undefined; assumed: Assumed[]; source: string} {
  if (value === undefined) return {roster: undefined, assumed: [], source: '--expect'}
  const text = value.trim()
  if (/^[+-]?\d+(?:\.\d*)?$/.test(text)) {
    const count = Number(text)
    if (!Number.isSafeInteger(count) || count < 1 || text.includes('.')) throw new UsageError(`--expect must be a positive count, node names or @FILE, got ${JSON.stringify(value)}`)
    return {roster: {count}, assumed: [], source: '--expect'}
  }
  if (text.startsWith('@')) {
    const file = text.slice(1)
    if (file === '') throw new UsageError('--expect @FILE needs a file name')
    const lines = readRoster(file).split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim())
    const names: string[] = []
    for (const [i, line] of lines.entries()) {
      if (line === '') continue
      // The file could be anything (a typo of the path): say where, never what.
      if (!NODE_NAME.test(line) || line.startsWith('-')) throw new UsageError(`roster file ${file}, line ${i + 1}: not a node name (node names look like worker1@host)`)
      names.push(line)
    }
    if (names.length === 0) throw new UsageError(`roster file ${file} names no node`)
    const read = withDefaults(names)
    return {roster: {names: read.names}, assumed: read.assumed, source: `roster file ${file}`}
  }
  const names = text.split(',').map((n) => n.trim())
  if (names.some((n) => n === '')) throw new UsageError('empty node name in --expect')
  const read = withDefaults(checkNames(names, '--expect'))
  return {roster: {names: read.names}, assumed: read.assumed, source: '--expect'}
}

/** The roster of readExpect(), without what was assumed. */
export function parseExpect(value: string | undefined): Roster | undefined {
  return readExpect(value).roster
}

/**
 * The one line that says which names were taken as `celery@NAME` (`-d airhost: taken as
 * celery@airhost`), or undefined when none was; a long list is summed up after three names.
 */
export function assumedNotice(source: string, assumed: Assumed[]): string | undefined {
  if (assumed.length === 0) return undefined
  if (assumed.length <= 3) return `${source} ${assumed.map((a) => a.given).join(', ')}: taken as ${assumed.map((a) => a.node).join(', ')}`
  const [first] = assumed
  return `${source}: ${assumed.length} names without @ taken as celery@NAME (${first.given}: ${first.node}, ...)`
}

/** The nodes that must answer: every destination, plus every expected name (docs/wire-protocol.md#collecting-replies). */
export function awaitedNodes(destination: string[], roster: Roster | undefined): string[] {
  return [...new Set([...destination, ...(roster && 'names' in roster ? roster.names : [])])]
}

/**
 * When the answer is complete (docs/wire-protocol.md#collecting-replies): the expected count is reached, or every awaited node
 * replied; a plain broadcast is never complete before its timeout.
 */
export function completionOf(destination: string[], roster: Roster | undefined): ((c: Collected) => boolean) | undefined {
  if (roster && 'count' in roster) return (c) => c.nodes.size >= roster.count
  const awaited = awaitedNodes(destination, roster)
  if (awaited.length === 0) return undefined
  // Checked after every delivery: cost proportional to what is still awaited, not to all replies.
  let waiting = awaited
  return (c) => {
    waiting = waiting.filter((n) => !c.nodes.has(n))
    return waiting.length === 0
  }
}

/**
 * Refuses a roster the request can never satisfy, before anything is sent: an `--expect` count other
 * than the number of `-d` nodes (fewer would end the wait early and report the rest missing; more can
 * never reply, since only the named nodes answer), an `--expect` name that `-d` does not address, or
 * one the `--pattern` does not match (the workers filter by the same rules).
 */
export function checkRoster(target: Target, roster: Roster | undefined): void {
  if (!roster) return
  const destination = target.destination ?? []
  if ('count' in roster) {
    if (destination.length > 0 && roster.count !== destination.length) {
      throw new UsageError(`--expect ${roster.count} cannot be met by ${destination.length} -d ${destination.length === 1 ? 'node' : 'nodes'}: only the nodes named by -d answer (drop --expect, or give the same count)`)
    }
    return
  }
  if (destination.length > 0) {
    const addressed = new Set(destination)
    const outside = roster.names.filter((n) => !addressed.has(n))
    if (outside.length > 0) throw new UsageError(`--expect names ${outside.slice(0, 5).join(', ')}${outside.length > 5 ? ', ...' : ''}, which -d does not address: only the nodes named by -d answer`)
  }
  if (target.pattern !== undefined) {
    const pattern = target.pattern
    const matcher = target.matcher ?? 'glob'
    const outside = roster.names.filter((n) => !matchesNode(pattern, matcher, n))
    if (outside.length > 0) throw new UsageError(`--expect names ${outside.slice(0, 5).join(', ')}${outside.length > 5 ? ', ...' : ''}, which --pattern ${JSON.stringify(pattern)} (${matcher}) does not match: those nodes would never answer`)
  }
}
