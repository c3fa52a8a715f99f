import {UsageError} from '../errors.js'

export type BrokerKind = 'redis' | 'amqp'

export interface BrokerUrl {
  kind: BrokerKind
  /** The scheme as given (`pyamqp` is kept here but spoken as `amqp`). */
  scheme: string
  tls: boolean
  host: string
  port: number
  username?: string
  password?: string
  /** Redis database number from the path (0 when absent). */
  db: number
  /** AMQP virtual host from the path (`/` when absent or `//`). */
  vhost: string
  /** The URL with its password replaced by `****`: the only form that may be printed. */
  masked: string
  /** Whether TLS certificates are checked: `?ssl_cert_reqs=none` turns it off, as in kombu. */
  verifyCertificate: boolean
}

const SCHEMES: Record<string, {kind: BrokerKind; tls: boolean; port: number}> = {
  redis: {kind: 'redis', tls: false, port: 6379},
  rediss: {kind: 'redis', tls: true, port: 6379},
  amqp: {kind: 'amqp', tls: false, port: 5672},
  pyamqp: {kind: 'amqp', tls: false, port: 5672},
  amqps: {kind: 'amqp', tls: true, port: 5671},
}

/** Masks the password of anything that looks like a URL, even one that does not parse. */
export function maskUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1****@')
}

/** Masks every broker URL's password inside a free text (error messages of client libraries). */
export function maskSecrets(text: string, secret?: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1****@')
  if (secret) out = out.split(secret).join('****')
  return out
}

function decode(part: string, what: string, masked: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new UsageError(`invalid ${what} encoding in broker URL ${masked}`)
  }
}

export function parseBrokerUrl(raw: string): BrokerUrl {
  const masked = maskUrl(raw)
  const m = /^([a-z][a-z0-9+.-]*):\/\/(?:([^:@/]*)(?::([^@]*))?@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(raw)
  if (!m) throw new UsageError(`invalid broker URL: ${masked} (expected e.g. redis://localhost:6379/0 or amqp://guest:guest@localhost:5672//)`)
  const [, schemeRaw, user, pass, hostRaw, portRaw, path = '', query = ''] = m
  const scheme = schemeRaw.toLowerCase()
  const spec = SCHEMES[scheme]
  if (!spec) {
    throw new UsageError(`unsupported broker scheme "${scheme}" in ${masked}: use redis, rediss, amqp, amqps or pyamqp`)
  }
  const host = (hostRaw.startsWith('[') ? hostRaw.slice(1, -1) : hostRaw) || 'localhost'
  const port = portRaw ? Number(portRaw) : spec.port
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`invalid port in broker URL ${masked}`)
  const username = user ? decode(user, 'user name', masked) : undefined
  const password = pass !== undefined && pass !== '' ? decode(pass, 'password', masked) : undefined

  let db = 0
  let vhost = '/'
  const rest = path.slice(1)
  if (spec.kind === 'redis') {
    if (rest !== '') {
      if (!/^\d+$/.test(rest)) throw new UsageError(`invalid Redis database "${rest}" in ${masked}: the path must be a number`)
      db = Number(rest)
    }
  } else if (rest !== '' && rest !== '/') {
    vhost = decode(rest, 'virtual host', masked)
  }
  const certReqs = (new URLSearchParams(query).get('ssl_cert_reqs') ?? '').toLowerCase()
  const verifyCertificate = certReqs !== 'none' && certReqs !== 'cert_none'
  return {kind: spec.kind, scheme, tls: spec.tls, host, port, username, password, db, vhost, masked, verifyCertificate}
}
