/** The command-line flags that point wfctl at another Redis namespace (database, key prefix, control exchange). */

import type {ListenersElsewhere} from '../wire/transport.js'

/** The broker URL with another Redis database in its path (query string kept). */
export function withDb(masked: string, db: number): string {
  const m = /^(rediss?:\/\/[^/?#]*)(\/[^?#]*)?([?#].*)?$/i.exec(masked)
  if (!m) return masked
  return `${m[1]}/${db}${m[3] ?? ''}`
}

/** Shell-quotes a flag value when it needs it. */
function q(value: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`
}

/** The flags that move wfctl from where it looked to where workers are. */
export function fixFlags(from: {masked: string; db: number; prefix: string; controlExchange: string}, to: {db: number; prefix: string; controlExchange: string}): string {
  const flags: string[] = []
  if (to.db !== from.db) flags.push(`-b ${q(withDb(from.masked, to.db))}`)
  if (to.prefix !== from.prefix) flags.push(`--redis-key-prefix ${to.prefix === '' ? "''" : q(to.prefix)}`)
  if (to.controlExchange !== from.controlExchange) flags.push(`--control-exchange ${q(to.controlExchange)}`)
  return flags.join(' ')
}

/**
 * Where workers listen, the likeliest mistake first: a channel some worker is subscribed to, then
 * the one the fewest flags away from where wfctl looked (the same prefix and exchange in another
 * database before another fleet's namespace), then the one with the most mailboxes.
 */
export function rankElsewhere<T extends ListenersElsewhere>(from: {db: number; prefix: string; controlExchange: string}, found: T[]): T[] {
  const changes = (f: T) => Number(f.db !== from.db) + Number(f.prefix !== from.prefix) + Number(f.controlExchange !== from.controlExchange)
  return [...found].sort((a, b) => Number(b.live === true) - Number(a.live === true) || changes(a) - changes(b) || b.mailboxes - a.mailboxes)
}
