import {UsageError} from '../errors.js'

export type BrokerKind = 'redis' | 'amqp'

export interface BrokerUrl {
  kind: BrokerKind
  /** The scheme as given, lower-cased (`pyamqp` is kept here but spoken as `amqp`). */
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
  /** kombu's TLS query options (`ssl_cert_reqs`, `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`), when any is given. */
  ssl?: SslQuery
  /**
   * Redis Sentinel (`sentinel://h1:26379;sentinel://h2:26379`): the sentinels to ask for the master,
   * in order. `host` and `port` are the first one's; the password, user and database are the first
   * URL's, as kombu reads them, and are the master's.
   */
  sentinels?: {host: string; port: number}[]
}

const SCHEMES: Record<string, {kind: BrokerKind; tls: boolean; port: number}> = {
  redis: {kind: 'redis', tls: false, port: 6379},
  rediss: {kind: 'redis', tls: true, port: 6379},
  amqp: {kind: 'amqp', tls: false, port: 5672},
  pyamqp: {kind: 'amqp', tls: false, port: 5672},
  amqps: {kind: 'amqp', tls: true, port: 5671},
  sentinel: {kind: 'redis', tls: false, port: 26379},
}

const EXAMPLE = '(expected e.g. redis://localhost:6379/0 or amqp://guest:guest@localhost:5672//)'

// ---------------------------------------------------------------------------------------------
// Masking. Every rule here errs on the side of masking too much: a masked form that is a little
// less readable is fine, a masked form that holds a fragment of a password is not.
// ---------------------------------------------------------------------------------------------

const MASK = '****'
/** Longer than this, a string is no broker URL: it is masked whole, and refused (this bounds the work). */
const MAX_URL = 2048
/** Control characters, C1 controls and Unicode line breaks: never printed, never accepted. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/
const CONTROL_ALL = new RegExp(CONTROL.source, 'g')
/** Scheme names that are recognised even without `//` after their colon (`redis:u:pw@h`). */
const KNOWN_SCHEME_AT_END = /(?:^|[^A-Za-z0-9+.-])(?:rediss?|amqps?|pyamqp|sentinel|sqs|memory|librabbitmq|qpid|mongodb|filesystem)$/i
const SCHEME_AT_END = /(?:^|[^A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*$/
const KNOWN_SCHEME_SEP = /(?:rediss?|amqps?|pyamqp|sentinel)(?::|\/\/)/i
/** A query key (percent-decoded, lower-cased) whose value is a secret. */
const SECRET_KEY = /pass|pwd|secret|token|credential|auth|(?:api|access|private)[_.-]?key/
const PARAM = /(?<![\w.%+-])([\w.%+-]+)=/g

/** Masks the value of every secret-looking `key=value` (`password=****`), up to the next `&key=`. */
function maskSecretParams(s: string): string {
  let out = ''
  let last = 0
  PARAM.lastIndex = 0
  for (let m = PARAM.exec(s); m; m = PARAM.exec(s)) {
    if (!SECRET_KEY.test(unquote(m[1].replace(/\+/g, ' ')).toLowerCase())) continue
    const start = m.index + m[0].length
    const next = /&(?=[\w.%+-]+=)/.exec(s.slice(start))
    const end = next ? start + next.index : s.length
    out += s.slice(last, start) + MASK
    last = end
    PARAM.lastIndex = end
  }
  return out + s.slice(last)
}

/**
 * Masks what follows the host: a non-numeric "port" (a password typed where no `@` marks it) masks
 * the rest of the string; secret query values are masked already.
 */
function maskHostPart(tail: string): string {
  const end = tail.search(/[/?#]/)
  const authority = end < 0 ? tail : tail.slice(0, end)
  let host = authority
  let after = ''
  const close = authority.indexOf(']')
  if (authority.startsWith('[') && close > 0) {
    host = authority.slice(0, close + 1)
    after = authority.slice(close + 1)
    if (after === '' || /^:\d*$/.test(after)) return tail
    return `${host}:${MASK}`
  }
  const colon = authority.indexOf(':')
  if (colon < 0) return tail
  host = authority.slice(0, colon)
  after = authority.slice(colon + 1)
  if (/^\d*$/.test(after)) return tail
  return `${host}:${MASK}`
}

/**
 * Masks one URL-like string (one URL of a list): everything between the scheme prefix and the LAST `@` is
 * the userinfo and becomes `****` (the user name before its first `:` is kept when it is plainly
 * one: after `scheme://`, without `/ ? # @ ;` or spaces in it).
 */
function maskCredential(piece: string): string {
  const s = maskSecretParams(piece)
  const m = /^([^:@/]*)(:\/\/|:\/|\/\/|:)?/.exec(s)!
  const head = m[1]
  const sep = m[2] ?? ''
  let prefix = ''
  let keepUser = true
  if (sep === '://' || (sep === '//' && head === '')) prefix = head + sep
  else if ((sep === ':/' || sep === '//') && SCHEME_AT_END.test(head)) {
    prefix = head + sep
    keepUser = false
  } else if (sep === ':' && KNOWN_SCHEME_AT_END.test(head)) {
    prefix = head + sep
    keepUser = false
  }
  const rest = s.slice(prefix.length)
  const at = rest.lastIndexOf('@')
  if (at < 0) return prefix + maskHostPart(rest)
  const userinfo = rest.slice(0, at)
  let maskedInfo = ''
  if (userinfo !== '') {
    const colon = userinfo.indexOf(':')
    const user = colon < 0 ? '' : userinfo.slice(0, colon)
    maskedInfo = keepUser && colon >= 0 && !/[/?#@;\s]/.test(user) && !CONTROL.test(user) ? `${user}:${MASK}` : MASK
  }
  return `${prefix}${maskedInfo}@${maskHostPart(rest.slice(at + 1))}`
}

function maskPart(part: string): string {
  let out = maskCredential(part.trim())
  // Words after a space are not part of any URL: a password pasted after one is masked too.
  const space = out.search(/\s/)
  if (space >= 0) out = `${out.slice(0, space)} ${MASK}`
  return out.replace(CONTROL_ALL, '?')
}

/**
 * Masks the password of any string handed in as a broker URL, parseable or not: the userinfo of
 * each URL (of a `;` failover list) up to its last `@`, a non-numeric port, secret query values
 * (`password=****`) and anything after a space. Control characters become `?`: one line.
 */
export function maskUrl(raw: string): string {
  const s = raw.trim()
  if (s.length > MAX_URL) return `${/^[A-Za-z][A-Za-z0-9+.-]{0,20}:\/\//.exec(s)?.[0] ?? ''}${MASK} (${s.length} characters)`
  return splitForMasking(s).map(maskPart).join(';')
}

const URL_START = /^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//

/**
 * Splits at the `;` of a failover list, but only between two `scheme://` URLs of which the first is
 * complete (its masked form does not end in `****`): any other `;` may be inside a password or a
 * query value, so the text around it is masked as one URL.
 */
function splitForMasking(s: string): string[] {
  const parts: string[] = []
  for (const p of s.split(';')) {
    const prev = parts.at(-1)
    // A URL whose masked form ends in `****` may go on after the `;` (`redis://h:pa;ss`, `?password=pa;ss`).
    const complete = prev !== undefined && URL_START.test(prev) && !maskCredential(prev.trim()).endsWith(MASK)
    if (prev !== undefined && !(complete && URL_START.test(p))) parts[parts.length - 1] += `;${p}`
    else parts.push(p)
  }
  return parts
}

/**
 * One free-text token (no white space) that may be or hold URLs with credentials. `open` is true
 * when the URL before it (in an earlier token, or before a `;`) was cut short before its `@` with
 * something masked already: the password may go on here (`redis://:pa ss@h`, `amqp://u:pa;ss@h`).
 */
function maskToken(token: string, openBefore: boolean): {text: string; open: boolean} {
  const lead = /^[("'<[{`]*/.exec(token)![0]
  // A colon after the URL is the sentence's (`URL: reason`), never its port: a password typed there stays masked by the core.
  const trail = /[)"'>}`.,!:]*$/.exec(token.slice(lead.length))![0]
  const core = token.slice(lead.length, token.length - trail.length)
  if (core.length > MAX_URL) return /[@:;=]/.test(core) ? {text: MASK, open: false} : {text: token, open: false}
  let open = openBefore
  const pieces = splitForMasking(core).map((piece) => {
    const at = piece.lastIndexOf('@')
    const urlish = piece.includes('://') || KNOWN_SCHEME_SEP.test(piece)
    if (open && at >= 0 && !urlish) {
      open = false
      return `${MASK}@${maskHostPart(maskSecretParams(piece.slice(at + 1)))}`
    }
    if (urlish || (at >= 0 && /[:/]/.test(piece.slice(0, at)))) {
      const masked = maskCredential(piece)
      open = urlish && at < 0 && masked !== piece
      return masked
    }
    if (piece !== '') open = false
    return maskSecretParams(piece)
  })
  return {text: lead + pieces.join(';') + trail, open}
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

/** A pattern matching `secret` with any of its characters percent-encoded (either hex case) or JSON-escaped. */
function secretPattern(secret: string): string {
  let p = ''
  for (const ch of secret) {
    const alts = new Set([escapeRegExp(ch)])
    alts.add([...Buffer.from(ch, 'utf8')].map((b) => '%' + [...b.toString(16).padStart(2, '0')].map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d)).join('')).join(''))
    const json = JSON.stringify(ch).slice(1, -1)
    if (json !== ch) alts.add(escapeRegExp(json))
    if (ch === ' ') alts.add('\\+')
    p += `(?:${[...alts].join('|')})`
  }
  return p
}

/**
 * Masks every URL-like credential inside a free text (error messages of client libraries, stack
 * traces, oclif's messages) and every occurrence of `secret`: as given, decoded, percent-encoded.
 */
export function maskSecrets(text: string, secret?: string): string {
  let out = text
  if (secret) {
    const forms = [...new Set([secret, unquote(secret)])].filter((f) => f !== '').sort((a, b) => b.length - a.length)
    out = out.replace(new RegExp(forms.map(secretPattern).join('|'), 'g'), MASK)
  }
  // `password: x`, `"password": "x"` as a library may print them.
  out = out.replace(/((?<![\w-])[\w-]{0,40}(?:password|passwd|passphrase|pwd|secret|token)[\w-]{0,40}["']?\s{0,20}[:=]\s{0,20})(?:"[^"]*"|'[^']*'|[^\s,;&]+)/gi, (all, key: string) => {
    const q = all[key.length]
    return key + (q === '"' || q === "'" ? q + MASK + q : MASK)
  })
  let open = false
  return out
    .split(/(\s+)/)
    .map((t) => {
      if (t === '' || /^\s+$/.test(t)) return t
      const r = maskToken(t, open)
      open = r.open
      return r.text
    })
    .join('')
    .replace(CONTROL_ALL, (c) => (/\s/.test(c) ? c : '?'))
}

/**
 * Masks every element of an argv that is, or holds, a broker URL: the value of `-b`/`--broker`
 * (separate, `--broker=URL` or `-bURL`) as a broker URL, and any other element as free text.
 */
export function maskArgv(argv: string[]): string[] {
  let brokerNext = false
  return argv.map((arg) => {
    if (brokerNext) {
      brokerNext = false
      return maskUrl(arg)
    }
    if (arg === '-b' || arg === '--broker') {
      brokerNext = true
      return arg
    }
    const m = /^(--broker=|-b=?)([^]*)$/.exec(arg)
    if (m) return m[1] + maskUrl(m[2])
    return maskSecrets(arg)
  })
}

// ---------------------------------------------------------------------------------------------
// Parsing, as kombu does it (urllib.parse + unquote) for the valid shapes; everything else is
// refused with a message that shows only the masked URL.
// ---------------------------------------------------------------------------------------------

/** Python's urllib.parse.unquote: valid `%XX` runs decode as UTF-8 (invalid bytes → U+FFFD), a stray `%` stays. */
export function unquote(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'))
}

/** Query keys kombu passes next to its own keyword arguments: Celery fails on them, so does wfctl. */
const RESERVED_QUERY: Record<string, string> = {
  password: 'the password goes before the host: redis://:PASSWORD@host or amqp://USER:PASSWORD@host',
  userid: 'the user name goes before the host: amqp://USER:PASSWORD@host',
  hostname: 'the host goes after the scheme',
  port: 'the port goes after the host',
  virtual_host: 'the virtual host (or Redis database) is the path',
  transport: 'the transport is the scheme',
}

function refuse(message: string): never {
  throw new UsageError(message)
}

/** Splits a (trimmed) broker string into its `;`-separated URLs; checks what applies to the whole. */
function splitBrokerList(raw: string): string[] {
  const s = raw.trim()
  const masked = maskUrl(s)
  if (s === '') refuse(`empty broker URL ${EXAMPLE}`)
  if (s.length > MAX_URL) refuse(`the broker URL ${masked} is too long`)
  if (CONTROL.test(s)) refuse(`the broker URL ${masked} contains a control character`)
  const parts = s.split(';').map((p) => p.trim())
  if (parts.length > 1 && parts.some((p) => p === '')) refuse(`empty URL in the broker failover list ${masked}`)
  return parts
}

function parseOne(s: string): BrokerUrl {
  const masked = maskUrl(s)
  if (/\s/.test(s)) refuse(`the broker URL ${masked} contains a space: percent-encode it as %20`)
  const sm = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s)
  if (!sm) refuse(`invalid broker URL: ${masked} ${EXAMPLE}`)
  const scheme = sm[1].toLowerCase()
  const spec = SCHEMES[scheme]
  if (!spec) refuse(`unsupported broker scheme in ${masked}: use redis, rediss, sentinel, amqp, amqps or pyamqp`)
  const after = s.slice(sm[0].length)
  if (after.includes('#')) {
    refuse(`the broker URL ${masked} contains a "#": percent-encode it as %23 (a password may hold one, a broker URL has no fragment)`)
  }
  // urllib: the netloc ends at the first `/` or `?`; the userinfo is split off at its last `@`.
  const netEnd = after.search(/[/?]/)
  const netloc = netEnd < 0 ? after : after.slice(0, netEnd)
  const afterNet = netEnd < 0 ? '' : after.slice(netEnd)
  if (afterNet.includes('@')) {
    refuse(`the broker URL ${masked} has an "@" after its host: percent-encode "/", "?", "#" and "@" in a user name or password (%2F, %3F, %23, %40)`)
  }
  const qi = afterNet.indexOf('?')
  const path = qi < 0 ? afterNet : afterNet.slice(0, qi)
  const query = qi < 0 ? '' : afterNet.slice(qi + 1)

  // urllib refuses a netloc with only one of "[" and "]".
  if (netloc.includes('[') !== netloc.includes(']')) refuse(`invalid IPv6 host in broker URL ${masked}`)
  const at = netloc.lastIndexOf('@')
  const userinfo = at < 0 ? undefined : netloc.slice(0, at)
  const hostinfo = netloc.slice(at + 1)
  let username: string | undefined
  let password: string | undefined
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':')
    username = unquote(colon < 0 ? userinfo : userinfo.slice(0, colon)) || undefined
    password = colon < 0 ? undefined : unquote(userinfo.slice(colon + 1)) || undefined
  }

  let hostRaw: string
  let portRaw: string
  if (hostinfo.startsWith('[')) {
    const hm = /^\[([0-9A-Fa-f:.]+(?:%25[\w.~-]+)?)\](?::(.*))?$/.exec(hostinfo)
    if (!hm) refuse(`invalid host in broker URL ${masked}`)
    hostRaw = hm[1]
    portRaw = hm[2] ?? ''
  } else {
    const colon = hostinfo.indexOf(':')
    hostRaw = colon < 0 ? hostinfo : hostinfo.slice(0, colon)
    portRaw = colon < 0 ? '' : hostinfo.slice(colon + 1)
    // ASCII first: it decides every usual host, and the Unicode classes cost a compile of their own.
    const ascii = /^[A-Za-z0-9._~%-]*$/.test(hostRaw) && /^[A-Za-z0-9._~-]*$/.test(unquote(hostRaw))
    if (!ascii && (!/^[\p{L}\p{N}._~%-]*$/u.test(hostRaw) || !/^[\p{L}\p{N}._~-]*$/u.test(unquote(hostRaw)))) refuse(`invalid host in broker URL ${masked}`)
  }
  const host = unquote(hostRaw).toLowerCase() || 'localhost'
  if (!/^\d*$/.test(portRaw)) {
    refuse(`invalid port in broker URL ${masked}: a port is a number (percent-encode "/", "?", "#" and "@" in a password)`)
  }
  const port = portRaw ? Number(portRaw) : spec.port
  if (!Number.isInteger(port) || port < 1 || port > 65535) refuse(`invalid port in broker URL ${masked}: use 1 to 65535`)

  // kombu: the virtual host (Redis: the database) is path[1:], unquoted; `//` is `/`.
  const rest = path.slice(1)
  let db = 0
  let vhost = '/'
  if (spec.kind === 'redis') {
    const dbText = unquote(rest)
    if (dbText !== '') {
      if (!/^\d+$/.test(dbText) || !Number.isSafeInteger(Number(dbText))) refuse(`the Redis database in ${masked} must be a number: the path, e.g. /0`)
      db = Number(dbText)
    }
  } else if (rest !== '' && rest !== '/') {
    if (rest.includes('/')) refuse(`the virtual host in ${masked} must be one path segment: percent-encode a "/" in it as %2F`)
    vhost = unquote(rest)
    if (/[@;]|:\/\//.test(vhost) || CONTROL.test(vhost)) {
      refuse(`the virtual host in ${masked} looks like part of a URL or a credential ("@", ";", "://" or a control character): refusing to send it`)
    }
    if (Buffer.byteLength(vhost, 'utf8') > 255) refuse(`the virtual host in ${masked} is longer than 255 bytes`)
  }

  const params = new URLSearchParams(query)
  for (const key of params.keys()) {
    const why = Object.hasOwn(RESERVED_QUERY, key) ? RESERVED_QUERY[key] : undefined
    if (why) refuse(`query parameter "${key}" is not supported in ${masked}: ${why}`)
  }
  const ssl = sslQuery(params, masked)
  const verifyCertificate = ssl?.certReqs !== 'none'
  // kombu: TLS options make any URL a TLS one, and an AMQP URL without a port then means 5671.
  const tls = spec.tls || ssl !== undefined
  const tlsPort = tls && !spec.tls && !portRaw && spec.kind === 'amqp' ? 5671 : port
  return {kind: spec.kind, scheme, tls, host, port: tlsPort, username, password, db, vhost, masked, verifyCertificate, ...(ssl ? {ssl} : {})}
}

/** kombu's TLS options in a broker URL's query, spelt as redis-py and Celery spell them; the files are paths, read when connecting. */
export interface SslQuery {
  /** `ssl_cert_reqs`: `none` turns certificate checks off; `optional` checks as `required` does (a broker always shows a certificate). */
  certReqs?: 'required' | 'optional' | 'none'
  caCerts?: string
  certfile?: string
  keyfile?: string
}

const CERT_REQS: Record<string, SslQuery['certReqs']> = {
  required: 'required', cert_required: 'required', optional: 'optional', cert_optional: 'optional', none: 'none', cert_none: 'none',
}
const SSL_FILES = {ssl_ca_certs: 'caCerts', ssl_certfile: 'certfile', ssl_keyfile: 'keyfile'} as const

/**
 * The `ssl_*` query options (the last of a repeated key, as kombu keeps it). Any `ssl_*` key makes the
 * URL a TLS one, as in kombu; other keys than these four are ignored, which never weakens a check
 * (`ssl_check_hostname`: wfctl checks host names anyway, unless `ssl_cert_reqs=none`).
 */
function sslQuery(params: URLSearchParams, masked: string): SslQuery | undefined {
  const keys = [...new Set([...params.keys()].filter((k) => k.startsWith('ssl_')))]
  if (keys.length === 0) return undefined
  const ssl: SslQuery = {}
  for (const key of keys) {
    const value = params.getAll(key).at(-1)!
    if (key === 'ssl_cert_reqs') {
      ssl.certReqs = Object.hasOwn(CERT_REQS, value.toLowerCase()) ? CERT_REQS[value.toLowerCase()] : undefined
      if (!ssl.certReqs) refuse(`invalid ssl_cert_reqs in ${masked}: use required, optional or none (or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE)`)
    } else if (Object.hasOwn(SSL_FILES, key)) {
      if (value === '') refuse(`${key} in ${masked} is empty: give the path of a PEM file`)
      ssl[SSL_FILES[key as keyof typeof SSL_FILES]] = value
    }
  }
  return ssl
}

/** A usage error before anything connects: a sentinel:// URL without the master's name, or with a name that cannot be one. */
export function sentinelMasterProblem(url: BrokerUrl, master: string | undefined): string | undefined {
  if (!url.sentinels) return undefined
  if (master === undefined || master === '') {
    return `${url.masked} is a Redis Sentinel URL: name the master with --sentinel-master NAME (Celery's broker_transport_options master_name)`
  }
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\s\u0000-\u001f\u007f]/.test(master) || master.length > 256) return 'invalid --sentinel-master: a master name has no spaces or control characters, and at most 256 characters'
  return undefined
}

/** A `;` list of sentinel:// URLs is one broker: the sentinels, asked in order; the rest is the first URL's, as in kombu. */
function sentinelSet(urls: BrokerUrl[]): BrokerUrl {
  const masked = urls.map((u) => u.masked).join(';')
  if (urls.some((u) => u.scheme !== 'sentinel')) {
    refuse(`a Sentinel broker is a list of sentinel:// URLs only (sentinel://h1:26379;sentinel://h2:26379/0): got ${masked}`)
  }
  return {...urls[0], masked, sentinels: urls.map((u) => ({host: u.host, port: u.port}))}
}

/**
 * Parses a broker string that may be a Celery failover list (`url;url`): one BrokerUrl per URL,
 * each with its own masked form, tried in order. Any URL that does not parse refuses the whole
 * list. A list of sentinel:// URLs is one broker (its `sentinels`), not a failover list.
 */
export function parseBrokerUrls(raw: string): BrokerUrl[] {
  const urls = splitBrokerList(raw).map(parseOne)
  if (urls.some((u) => u.scheme === 'sentinel')) return [sentinelSet(urls)]
  if (new Set(urls.map((u) => u.kind)).size > 1) {
    refuse(`a broker failover list is all Redis or all RabbitMQ URLs: got ${urls.map((u) => u.masked).join(';')}`)
  }
  return urls
}

/** Parses one broker URL (a list of sentinels is one); a failover list is refused (not supported yet). */
export function parseBrokerUrl(raw: string): BrokerUrl {
  const parts = splitBrokerList(raw)
  if (parts.length > 1 && !/^sentinel:\/\//i.test(parts[0])) refuse(`broker failover lists ("url;url") are not supported yet: give one URL (got ${maskUrl(raw)})`)
  const urls = parts.map(parseOne)
  return urls[0].scheme === 'sentinel' ? sentinelSet(urls) : urls[0]
}
