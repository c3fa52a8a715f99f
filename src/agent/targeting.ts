import {globToRegExp, pcreToRegExp, truthy} from './python.js'

/**
 * Which nodes a request addresses, decided once per request for a whole fleet (docs/wire-protocol.md#how-a-worker-handles-a-request).
 * `all` and `nodes` let a host skip testing every node; `test` is the general case.
 */
export type Addressees =
  | {kind: 'all'}
  | {kind: 'nodes'; nodes: Set<string>}
  | {kind: 'test'; test: (node: string) => boolean}
  /** A request a real worker would choke on (unknown matcher, uncompilable pattern): nobody runs it. */
  | {kind: 'none'; why: string}

/**
 * kombu's `Node.handle_message` filter: a truthy `destination` wins (Python `in`: element equality
 * for a list, substring for a string, key for an object); else `pattern` AND `matcher` both truthy
 * select by glob or pcre; else everybody.
 */
export function addressees(body: Record<string, unknown>): Addressees {
  const {destination, pattern, matcher} = body
  if (truthy(destination)) {
    if (Array.isArray(destination)) return {kind: 'nodes', nodes: new Set(destination.filter((d): d is string => typeof d === 'string'))}
    if (typeof destination === 'string') return {kind: 'test', test: (node) => destination.includes(node)}
    if (typeof destination === 'object') return {kind: 'nodes', nodes: new Set(Object.keys(destination as object))}
    return {kind: 'none', why: `destination ${JSON.stringify(destination)} is not a list`}
  }
  if (truthy(pattern) && truthy(matcher)) {
    if (typeof pattern !== 'string') return {kind: 'none', why: 'pattern is not a string'}
    if (matcher === 'glob') {
      const re = globToRegExp(pattern)
      return {kind: 'test', test: (node) => re.test(node)}
    }
    if (matcher === 'pcre') {
      const re = pcreToRegExp(pattern)
      if (!re) return {kind: 'none', why: `pattern ${JSON.stringify(pattern)} does not compile`}
      return {
        kind: 'test',
        test: (node) => {
          re.lastIndex = 0
          return re.test(node)
        },
      }
    }
    return {kind: 'none', why: `no matcher installed for ${JSON.stringify(matcher)}`}
  }
  return {kind: 'all'}
}

export function isAddressed(target: Addressees, node: string): boolean {
  switch (target.kind) {
    case 'all':
      return true
    case 'nodes':
      return target.nodes.has(node)
    case 'test':
      return target.test(node)
    case 'none':
      return false
  }
}
