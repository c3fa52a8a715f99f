import assert from 'node:assert/strict'
import {test} from 'node:test'

import {maskArgv, maskSecrets, maskUrl, parseBrokerUrl, parseBrokerUrls, type BrokerUrl} from '../../src/broker/url.ts'
import {UsageError} from '../../src/errors.ts'

/** What a valid shape must parse to (fields left out are not checked, except password/username: undefined when left out). */
interface Parsed {
  kind: 'redis' | 'amqp'
  host: string
  port: number
  db?: number
  vhost?: string
  username?: string
  password?: string
  tls?: boolean
  verifyCertificate?: boolean
}

interface Case {
  raw: string
  /** Every secret of the shape as it appears in `raw` (decoded forms are derived and checked too). */
  secrets: string[]
  /** The exact parse of a valid shape; absent: parseBrokerUrl must refuse it. */
  parse?: Parsed
  /** False when free text cannot show where the secret is (a second word after a space): checked with the secret given. */
  freeText?: boolean
}

const pw = (n: number) => `S3cr3t-${n}`

const CASES: Case[] = [
  // Valid shapes, parsed as kombu does.
  {raw: `redis://:${pw(1)}@h/0`, secrets: [pw(1)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: pw(1)}},
  {raw: `redis://u:${pw(2)}@cache.internal:6380/5`, secrets: [pw(2)], parse: {kind: 'redis', host: 'cache.internal', port: 6380, db: 5, username: 'u', password: pw(2)}},
  {raw: `rediss://u:${pw(3)}@h:6390/1`, secrets: [pw(3)], parse: {kind: 'redis', host: 'h', port: 6390, db: 1, username: 'u', password: pw(3), tls: true}},
  {raw: `amqp://guest:${pw(4)}@rabbit:5672//`, secrets: [pw(4)], parse: {kind: 'amqp', host: 'rabbit', port: 5672, vhost: '/', username: 'guest', password: pw(4)}},
  {raw: `amqps://u:${pw(5)}@rabbit/prod`, secrets: [pw(5)], parse: {kind: 'amqp', host: 'rabbit', port: 5671, vhost: 'prod', username: 'u', password: pw(5), tls: true}},
  {raw: `pyamqp://u:${pw(6)}@rabbit/v`, secrets: [pw(6)], parse: {kind: 'amqp', host: 'rabbit', port: 5672, vhost: 'v', username: 'u', password: pw(6)}},
  {raw: `REDIS://:${pw(7)}@H:1/2`, secrets: [pw(7)], parse: {kind: 'redis', host: 'h', port: 1, db: 2, password: pw(7)}},
  {raw: `AMQP://U:${pw(8)}@Rabbit//`, secrets: [pw(8)], parse: {kind: 'amqp', host: 'rabbit', port: 5672, vhost: '/', username: 'U', password: pw(8)}},
  {raw: `redis://:${pw(9)}@[::1]:6379/0`, secrets: [pw(9)], parse: {kind: 'redis', host: '::1', port: 6379, db: 0, password: pw(9)}},
  {raw: `amqp://u:${pw(10)}@[fe80::1%25eth0]:5673//`, secrets: [pw(10)], parse: {kind: 'amqp', host: 'fe80::1%eth0', port: 5673, vhost: '/', username: 'u', password: pw(10)}},
  // An unencoded `@` or `:` in the password: the userinfo ends at the last `@`, the password starts after the first `:`.
  {raw: 'redis://:S3c@r3t-11@h/0', secrets: ['S3c@r3t-11'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: 'S3c@r3t-11'}},
  {raw: 'amqp://u:S3c:r3t-12@h//', secrets: ['S3c:r3t-12'], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: '/', username: 'u', password: 'S3c:r3t-12'}},
  {raw: 'redis://:S3c@r3t@x-13@h:7000/3', secrets: ['S3c@r3t@x-13'], parse: {kind: 'redis', host: 'h', port: 7000, db: 3, password: 'S3c@r3t@x-13'}},
  {raw: 'amqp://u:S3c:r3t@-14@h/v', secrets: ['S3c:r3t@-14'], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: 'v', username: 'u', password: 'S3c:r3t@-14'}},
  // Percent-encoded passwords: decoded, masked in both forms.
  {raw: 'redis://:S3c%40r3t-15@h/0', secrets: ['S3c%40r3t-15'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: 'S3c@r3t-15'}},
  {raw: 'amqp://u:S3c%2Fr3t-16@h/v', secrets: ['S3c%2Fr3t-16'], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: 'v', username: 'u', password: 'S3c/r3t-16'}},
  {raw: 'amqp://u:S3c%3Br3t-17@h//', secrets: ['S3c%3Br3t-17'], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: '/', username: 'u', password: 'S3c;r3t-17'}},
  {raw: 'redis://:S3c%23r3t-18@h', secrets: ['S3c%23r3t-18'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: 'S3c#r3t-18'}},
  {raw: 'redis://:S3c%3fr3t-19@h', secrets: ['S3c%3fr3t-19'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: 'S3c?r3t-19'}},
  {raw: 'redis://u:S3c%3Ar3t-20@h', secrets: ['S3c%3Ar3t-20'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, username: 'u', password: 'S3c:r3t-20'}},
  {raw: 'redis://:S3cr3t%2521@h', secrets: ['S3cr3t%2521'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: 'S3cr3t%21'}},
  {raw: 'redis://:S3c%C3%A9r3t-22@h', secrets: ['S3c%C3%A9r3t-22'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: 'S3cér3t-22'}},
  {raw: 'redis://:ünïcødé-S3cr3t-23@h', secrets: ['ünïcødé-S3cr3t-23'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: 'ünïcødé-S3cr3t-23'}},
  {raw: 'redis://:100%sure-S3cr3t-24@h', secrets: ['100%sure-S3cr3t-24'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: '100%sure-S3cr3t-24'}},
  // Surrounding white space is trimmed.
  {raw: ` redis://:${pw(25)}@h/0`, secrets: [pw(25)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: pw(25)}},
  {raw: `redis://:${pw(26)}@h/0\t`, secrets: [pw(26)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: pw(26)}},
  {raw: `\n amqp://u:${pw(27)}@h// \r\n`, secrets: [pw(27)], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: '/', username: 'u', password: pw(27)}},
  // A userinfo without a password (a password written where the user goes is masked too), an empty one.
  {raw: `redis://${pw(28)}@h`, secrets: [pw(28)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, username: pw(28)}},
  {raw: `amqp://${pw(29)}@h//`, secrets: [pw(29)], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: '/', username: pw(29)}},
  {raw: `amqp://:${pw(30)}@h//`, secrets: [pw(30)], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: '/', password: pw(30)}},
  {raw: 'redis://u%3AS3cr3t-31@h', secrets: ['u%3AS3cr3t-31'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, username: 'u:S3cr3t-31'}},
  // Secret-looking query keys other than kombu's own are accepted (and ignored) but masked.
  {raw: `redis://h/0?sasl_password=${pw(32)}`, secrets: [pw(32)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0}},
  {raw: `amqps://u:${pw(33)}@h/v?ssl_keyfile_password=${pw(33)}x&ssl_cert_reqs=none`, secrets: [pw(33), `${pw(33)}x`], parse: {kind: 'amqp', host: 'h', port: 5671, vhost: 'v', username: 'u', password: pw(33), verifyCertificate: false}},
  {raw: `redis://h/0?token=${pw(34)}`, secrets: [pw(34)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0}},
  {raw: `redis://h/0?secret=${pw(35)}&x=1`, secrets: [pw(35)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0}},
  {raw: `redis://h/0?passwd=${pw(36)}`, secrets: [pw(36)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0}},
  {raw: `redis://h/0?pass=${pw(37)}&pwd=${pw(37)}y`, secrets: [pw(37), `${pw(37)}y`], parse: {kind: 'redis', host: 'h', port: 6379, db: 0}},
  {raw: 'redis://h/0?sasl_password=S3c&r3t-38&b=2', secrets: ['S3c&r3t-38'], parse: {kind: 'redis', host: 'h', port: 6379, db: 0}},
  // Other valid odds and ends.
  {raw: `redis://:${pw(39)}@h:/0`, secrets: [pw(39)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: pw(39)}},
  {raw: `amqp://ops%40corp:${pw(40)}@h/%2F`, secrets: [pw(40)], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: '/', username: 'ops@corp', password: pw(40)}},
  {raw: `amqp://u:${pw(41)}@h/a%2Fb`, secrets: [pw(41)], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: 'a/b', username: 'u', password: pw(41)}},
  {raw: 'redis://:S3cr3t-42@h@', secrets: ['S3cr3t-42@h'], parse: {kind: 'redis', host: 'localhost', port: 6379, db: 0, password: 'S3cr3t-42@h'}},
  {raw: `REDISS://U:${pw(43)}@[2001:db8::1]:6390/15`, secrets: [pw(43)], parse: {kind: 'redis', host: '2001:db8::1', port: 6390, db: 15, username: 'U', password: pw(43), tls: true}},
  {raw: `rediss://:${pw(44)}@h/0?ssl_cert_reqs=CERT_NONE`, secrets: [pw(44)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: pw(44), verifyCertificate: false}},
  {raw: `redis://:${pw(45)}@h/0\u2028`, secrets: [pw(45)], parse: {kind: 'redis', host: 'h', port: 6379, db: 0, password: pw(45)}},
  {raw: 'amqp://u:S3c r3t-46@h//'.replace(' ', '%20'), secrets: ['S3c%20r3t-46'], parse: {kind: 'amqp', host: 'h', port: 5672, vhost: '/', username: 'u', password: 'S3c r3t-46'}},

  // Refused shapes. Celery failover lists, an unencoded `;` in a password (which Celery reads as a list too).
  {raw: `amqp://a:${pw(50)}@h1//;amqp://b:${pw(50)}b@h2//`, secrets: [pw(50), `${pw(50)}b`]},
  {raw: `redis://:${pw(51)}@h;redis://:${pw(51)}b@h2`, secrets: [pw(51), `${pw(51)}b`]},
  {raw: 'amqp://u:S3c;r3t-52@h//', secrets: ['S3c;r3t-52']},
  {raw: `amqp://u:${pw(53)}@h1//;`, secrets: [pw(53)]},
  {raw: `;amqp://u:${pw(54)}@h//`, secrets: [pw(54)]},
  {raw: `amqp://a:${pw(55)}@h1// ; amqp://b:${pw(55)}b@h2//`, secrets: [pw(55), `${pw(55)}b`]},
  // Malformed schemes.
  {raw: `redis//:${pw(56)}@h`, secrets: [pw(56)]},
  {raw: `redis:/u:${pw(57)}@h`, secrets: [pw(57)]},
  {raw: `redis:u:${pw(58)}@h`, secrets: [pw(58)]},
  {raw: `//u:${pw(59)}@h`, secrets: [pw(59)]},
  {raw: `u:${pw(60)}@h:6379`, secrets: [pw(60)]},
  {raw: `REDIS//:${pw(61)}@H`, secrets: [pw(61)]},
  {raw: `Redis:${pw(62)}@h`, secrets: [pw(62)]},
  {raw: `amqp:/guest:${pw(63)}@h//`, secrets: [pw(63)]},
  {raw: `redis:///:${pw(64)}@h`, secrets: [pw(64)]},
  {raw: `sqs://k:${pw(65)}@x`, secrets: [pw(65)]},
  {raw: `:${pw(66)}@h`, secrets: [pw(66)]},
  // An unencoded `/`, `?` or `#` in the password.
  {raw: 'redis://:S3c/r3t-67@h/0', secrets: ['S3c/r3t-67']},
  {raw: 'amqp://u:S3c/r3t-68@h//', secrets: ['S3c/r3t-68']},
  {raw: 'redis://u:S3c#r3t-69@h', secrets: ['S3c#r3t-69']},
  {raw: 'redis://u:S3c?r3t-70@h', secrets: ['S3c?r3t-70']},
  {raw: 'amqp://u:S3c/r3t/x-71@h/v', secrets: ['S3c/r3t/x-71']},
  {raw: 'redis://u:S3c?r3t#x@-72@h:6379/0', secrets: ['S3c?r3t#x@-72']},
  // A password in the query as kombu's own keyword: Celery fails on it, so does wfctl.
  {raw: `redis://h/0?password=${pw(73)}`, secrets: [pw(73)]},
  {raw: `rediss://:x@h/0?ssl_cert_reqs=none&password=${pw(74)}`, secrets: [pw(74)]},
  {raw: 'redis://h/0?password=S3c@r3t-75', secrets: ['S3c@r3t-75']},
  // A password where the port goes, with no `@` to mark it; a space, control characters.
  {raw: `redis://:${pw(76)}`, secrets: [pw(76)]},
  {raw: `redis://h:${pw(77)}/0`, secrets: [pw(77)]},
  {raw: `redis://h:6379:${pw(78)}`, secrets: [pw(78)]},
  {raw: `redis://[::1]:${pw(79)}`, secrets: [pw(79)]},
  {raw: 'redis://:S3c r3t-80@h', secrets: ['S3c r3t-80']},
  {raw: `redis://:${pw(81)}\n@h`, secrets: [pw(81)]},
  {raw: `redis://:${pw(82)}@h/0\u0000`, secrets: [pw(82)]},
  {raw: `redis://:${pw(83)}@h/0 ${pw(83)}b`, secrets: [pw(83), `${pw(83)}b`], freeText: false},
  // Bad ports, databases, hosts and virtual hosts.
  {raw: `redis://:${pw(84)}@h/notadb`, secrets: [pw(84)]},
  {raw: `redis://:${pw(85)}@h:99999/0`, secrets: [pw(85)]},
  {raw: `redis://:${pw(86)}@h%2Fevil/0`, secrets: [pw(86)]},
  {raw: `amqp://u:${pw(87)}@h/v/x`, secrets: [pw(87)]},
  {raw: `amqp://a:${pw(88)}@h1/amqp://b:${pw(88)}b@h2`, secrets: [pw(88), `${pw(88)}b`]},
  {raw: `redis://:${pw(89)}@h#frag`, secrets: [pw(89)]},
  {raw: `redis://[::1:${pw(90)}@h`, secrets: [pw(90)]},
  {raw: `amqp://u:${pw(91)}@h/x%3Bamqp:%2F%2Fb:y@h2`, secrets: [pw(91)]},
]

function decodedForms(secret: string): string[] {
  const forms = new Set([secret])
  try {
    forms.add(decodeURIComponent(secret))
  } catch {
    // a stray `%` that is not an escape: only the raw form exists
  }
  return [...forms]
}

/** Fails when `out` holds a secret, or a 4-character fragment of one that is not in the non-secret text of `raw`. */
function assertNoLeak(out: string, c: Case, what: string): void {
  let open = c.raw
  for (const s of c.secrets) open = open.split(s).join('\u0001')
  for (const s of c.secrets.flatMap(decodedForms)) {
    assert.ok(!out.includes(s), `${what} of ${JSON.stringify(c.raw)} holds ${JSON.stringify(s)}: ${JSON.stringify(out)}`)
    for (let i = 0; i + 4 <= s.length; i++) {
      const f = s.slice(i, i + 4)
      assert.ok(!out.includes(f) || open.includes(f), `${what} of ${JSON.stringify(c.raw)} holds the fragment ${JSON.stringify(f)}: ${JSON.stringify(out)}`)
    }
  }
}

test('the corpus has at least 60 hostile shapes, each with its own password', () => {
  assert.ok(CASES.length >= 60, String(CASES.length))
  const all = CASES.flatMap((c) => c.secrets)
  assert.equal(new Set(all).size, all.length)
})

for (const c of CASES) {
  test(`hostile shape ${JSON.stringify(c.raw)}`, () => {
    assertNoLeak(maskUrl(c.raw), c, 'maskUrl')
    assert.ok(!/[\n\r\u0000]/.test(maskUrl(c.raw)), 'the masked form is one line')

    let parsed: BrokerUrl | undefined
    try {
      parsed = parseBrokerUrl(c.raw)
    } catch (error) {
      assert.ok(error instanceof UsageError, String(error))
      assert.equal(error.exitCode, 2)
      assert.ok(!error.message.includes('\n'), 'one line')
      assertNoLeak(error.message, c, 'the error')
    }
    if (c.parse) {
      assert.ok(parsed, 'a valid shape parses')
      const {kind, host, port, username, password, db, vhost, tls, verifyCertificate} = parsed
      const want = c.parse
      assert.deepEqual(
        {kind, host, port, username, password, ...(want.db === undefined ? {} : {db}), ...(want.vhost === undefined ? {} : {vhost}), ...(want.tls === undefined ? {} : {tls}), ...(want.verifyCertificate === undefined ? {} : {verifyCertificate})},
        {username: undefined, password: undefined, ...want},
      )
      assertNoLeak(parsed.masked, c, 'url.masked')
      assert.ok(!parsed.masked.includes(parsed.password ?? '\u0001'))
      if (parsed.password) {
        // The decoded password as a client library may echo it, raw and percent-encoded.
        const said = maskSecrets(`auth failed for ${parsed.password} (${encodeURIComponent(parsed.password)}) on ${c.raw}`, parsed.password)
        assertNoLeak(said, c, 'maskSecrets with the secret')
        assert.ok(!said.includes(parsed.password) && !said.includes(encodeURIComponent(parsed.password)), said)
      }
    } else {
      assert.equal(parsed, undefined, 'a hostile shape is refused')
    }
    if (parsed?.kind === 'amqp') {
      for (const s of c.secrets.flatMap(decodedForms)) assert.ok(!parsed.vhost.includes(s))
      assert.ok(!/:\/\/|;|@/.test(parsed.vhost), parsed.vhost)
    }

    for (const argv of [['status', '-b', c.raw], ['status', `--broker=${c.raw}`], [`-b${c.raw}`, 'status'], ['control', '--broker', c.raw, 'ping']]) {
      const out = maskArgv(argv)
      assert.equal(out.length, argv.length)
      assertNoLeak(out.join(' '), c, `maskArgv ${JSON.stringify(argv)}`)
    }

    const trimmed = c.raw.trim()
    if (c.freeText === false) {
      let said = `Error: cannot connect to ${trimmed} (ECONNREFUSED)`
      for (const s of c.secrets) said = maskSecrets(said, s)
      assertNoLeak(said, c, 'maskSecrets with the secrets')
      return
    }
    assertNoLeak(maskSecrets(`Error: cannot connect to ${trimmed} (ECONNREFUSED)`), c, 'maskSecrets')
    assertNoLeak(maskSecrets(`connect "${trimmed}": refused`), c, 'maskSecrets (quoted)')
    assertNoLeak(maskSecrets(`broker_url=${trimmed}`), c, 'maskSecrets (key=value)')
    assertNoLeak(maskSecrets(`Error: ${trimmed}\n    at connect (node:net:1:1)`), c, 'maskSecrets (stack)')
    // Positional (oclif's "command X not found"): only URL-like shapes are recognisable there.
    if (/:\/\/|@/.test(c.raw)) assertNoLeak(maskArgv(['status', trimmed]).join(' '), c, 'maskArgv (positional)')
  })
}

test('parseBrokerUrls parses each URL of a failover list, each masked; parseBrokerUrl refuses the list', () => {
  const list = `amqp://a:${pw(100)}@h1//; amqp://b:${pw(101)}@h2:5673/v`
  const urls = parseBrokerUrls(list)
  assert.deepEqual(urls.map((u) => [u.host, u.port, u.vhost, u.username, u.password, u.masked]), [
    ['h1', 5672, '/', 'a', pw(100), 'amqp://a:****@h1//'],
    ['h2', 5673, 'v', 'b', pw(101), 'amqp://b:****@h2:5673/v'],
  ])
  assert.throws(() => parseBrokerUrl(list), (e: unknown) => {
    assert.ok(e instanceof UsageError)
    assert.equal(e.message, 'broker failover lists ("url;url") are not supported yet: give one URL (got amqp://a:****@h1//;amqp://b:****@h2:5673/v)')
    return true
  })
  assert.equal(parseBrokerUrls('redis://h/1').length, 1)
  assert.throws(() => parseBrokerUrls(`amqp://a:${pw(102)}@h1//;amqp://b@h2/x/y`), (e: unknown) => e instanceof UsageError && !e.message.includes(pw(102)))
})

test('nothing that looks like another URL or a credential is sent as a virtual host', () => {
  for (const raw of ['amqp://h/x%3Bamqp:%2F%2Fb:pw@h2', 'amqp://h/a%40b', 'amqp://h/amqp:%2F%2Fh2', 'amqp://h/a@b', 'amqp://h/a/b', 'amqp://h///', 'amqp://h/%0a', 'amqp://h/a;b']) {
    assert.throws(() => parseBrokerUrl(raw), UsageError, raw)
  }
  assert.equal(parseBrokerUrl('amqp://h/a:b').vhost, 'a:b')
  assert.equal(parseBrokerUrl('amqp://h/%2F%2F').vhost, '//')
})

test('refusals say what is wrong without echoing the raw path, port or host', () => {
  const message = (raw: string) => {
    try {
      parseBrokerUrl(raw)
    } catch (e) {
      return (e as Error).message
    }
    return 'parsed'
  }
  assert.match(message('redis://:pa/Zq9x@h/0'), /has an "@" after its host: percent-encode/)
  assert.ok(!message('redis://:pa/Zq9x@h/0').includes('Zq9x'))
  assert.ok(!message('redis://:pa/Zq9x/0').includes('Zq9x'))
  assert.match(message('redis://u:p#w@h'), /percent-encode it as %23/)
  assert.match(message('redis://h/x'), /the Redis database in redis:\/\/h\/x must be a number/)
  assert.match(message('redis://h:abc'), /^invalid port in broker URL redis:\/\/h:\*\*\*\*:/)
  assert.match(message('amqp://a@h1//;amqp://b@h2//'), /^broker failover lists/)
  assert.match(message(''), /^empty broker URL/)
  assert.match(message('redis://h/0?password=x'), /^query parameter "password" is not supported in redis:\/\/h\/0\?password=\*\*\*\*: /)
  assert.equal(message('redis://h/0?constructor=1'), 'parsed')
})

test('maskUrl keeps what is plainly not secret', () => {
  assert.equal(maskUrl('redis://localhost:6379/0'), 'redis://localhost:6379/0')
  assert.equal(maskUrl('amqp://guest:guest@localhost:5672//'), 'amqp://guest:****@localhost:5672//')
  assert.equal(maskUrl('amqp://guest@localhost//'), 'amqp://****@localhost//')
  assert.equal(maskUrl('redis://:pw@[::1]:6379/0'), 'redis://:****@[::1]:6379/0')
  assert.equal(maskUrl('rediss://h/0?ssl_cert_reqs=none&password=x&db=1'), 'rediss://h/0?ssl_cert_reqs=none&password=****&db=1')
  assert.equal(maskUrl('localhost:6379'), 'localhost:6379')
  assert.equal(maskUrl(' amqp://a:x@h1// ; amqp://b:y@h2// '), 'amqp://a:****@h1//;amqp://b:****@h2//')
})

test('maskSecrets leaves ordinary text alone', () => {
  const text = 'connect ECONNREFUSED 127.0.0.1:6379 — node w1@vm at 12:30:45 on redis://localhost:6379/0 (see https://docs.celeryq.dev/x).'
  assert.equal(maskSecrets(text), text)
  assert.equal(maskSecrets('WRONGPASS invalid username-password pair or user is disabled.'), 'WRONGPASS invalid username-password pair or user is disabled.')
  assert.equal(maskSecrets('bad {"password": "hunter2", "user": "u"}'), 'bad {"password": "****", "user": "u"}')
  assert.equal(maskSecrets('x hunter%32 hunter2 HUNTER2 %68unter2', 'hunter2'), 'x **** **** HUNTER2 ****')
  assert.equal(maskSecrets('a p@ss and p%40ss', 'p%40ss'), 'a **** and ****')
})

test('maskArgv masks the broker flag in every spelling and nothing else', () => {
  assert.deepEqual(maskArgv(['control', 'shutdown', '-d', 'w1@vm', '-b', 'h:pw', '--reason', 'deploy 42']), ['control', 'shutdown', '-d', 'w1@vm', '-b', 'h:****', '--reason', 'deploy 42'])
  assert.deepEqual(maskArgv(['--broker=redis://:pw@h', '-bamqp://u:pw@h//', '-b=redis://:pw@h']), ['--broker=redis://:****@h', '-bamqp://u:****@h//', '-b=redis://:****@h'])
  assert.deepEqual(maskArgv(['stauts', 'redis://:pw@h/0']), ['stauts', 'redis://:****@h/0'])
})

test('seeded fuzz: random passwords with hostile characters never leak from maskUrl, parse errors or maskArgv', () => {
  let seed = 20240611
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]
  const hostile = ['@', ':', '/', '?', '#', ';', '%', '&', '=', ' ', '[', ']', '%40', '%2F', '%3B', '+', '"', "'", '\\', '\t', '\n', '.', '-', '*', '//', '://', 'redis://']
  const plain = 'abcdefghXYZ0123456789'
  // A template, and what its password may not hold (where the URL itself would be ambiguous: an
  // `@` in a password that no `@` follows, an `&` in a query value, a `:` in a user name).
  const templates: Array<[string, string]> = [
    ['redis://:PW@h/0', ''], ['redis://u:PW@h:6379/0', ''], ['amqp://u:PW@h//', ''], ['amqp://u:PW@h/v', ''],
    ['redis//:PW@h', ''], ['redis:/u:PW@h', ''], ['redis:u:PW@h', ''], ['//u:PW@h', ''], ['u:PW@h:6379', ''],
    [' redis://:PW@h ', ''], ['REDIS://:PW@[::1]:1/2', ''], ['amqp://a:PW@h1//;amqp://b:PW@h2//', ''],
    ['amqps://u:PW@h:5671/v?ssl_cert_reqs=none', ''], ['redis:PW@h', ''], ['sqs://k:PW@x', ''],
    ['redis://h/0?password=PW', '@&'], ['redis://h/0?x=1&sasl_password=PW&y=2', '@&'],
    ['redis://PW@h', ':'], ['redis://h:PW', '@'], ['redis://:PW', '@'],
  ]
  const fixed = '-b failed: "" refused invalid broker URL: (expected e.g. redis://localhost:6379/0 or amqp://guest:guest@localhost:5672//) unsupported broker scheme in : use redis, rediss, amqp, amqps or pyamqp redis://:PASSWORD@host or amqp://USER:PASSWORD@host broker failover lists ("url;url") are not supported yet: give one URL (got'
  for (let i = 0; i < 4000; i++) {
    const [template, banned] = pick(templates)
    let secret = 'Zq'
    for (let n = 6 + Math.floor(rnd() * 8); n > 0; n--) {
      const c = rnd() < 0.35 ? pick(hostile) : pick([...plain])
      if (![...banned].some((b) => c.includes(b))) secret += c
    }
    secret += 'Wk'
    const raw = template.split('PW').join(secret)
    const outs = [maskUrl(raw), maskArgv(['-b', raw]).join(' '), maskArgv([`--broker=${raw}`]).join(' '), maskSecrets(`failed: "${raw.trim()}" refused`, secret)]
    if (!/\s/.test(secret)) outs.push(maskSecrets(`failed: "${raw.trim()}" refused`))
    try {
      outs.push(parseBrokerUrl(raw).masked)
    } catch (e) {
      assert.ok(e instanceof UsageError)
      outs.push(e.message)
    }
    const shown = template.trim().split('PW').join('\u0001')
    const open = [shown, `--broker=${shown}`, fixed].join('\u0001')
    for (const out of outs) {
      assert.ok(!out.includes(secret), `${JSON.stringify(raw)} → ${JSON.stringify(out)}`)
      for (let k = 0; k + 4 <= secret.length; k++) {
        const f = secret.slice(k, k + 4)
        if (/^[*\s]+$/.test(f) || open.includes(f) || f.startsWith('"')) continue
        assert.ok(!out.includes(f), `${JSON.stringify(raw)} → ${JSON.stringify(out)} holds ${JSON.stringify(f)}`)
      }
    }
  }
})

test('pathological inputs are masked whole and quickly, and refused', () => {
  const started = performance.now()
  for (const big of [`redis://:${'S3cr3t-200;'.repeat(5000)}@h`, 'redis://h:x;'.repeat(20000), 'password'.repeat(30000), `amqp://u:${'@:'.repeat(50000)}@h//`, 'redis://h/0?password=x;'.repeat(10000)]) {
    const masked = maskUrl(big)
    assert.ok(!masked.includes('S3cr3t-200') && masked.length < 100, masked.slice(0, 200))
    assert.ok(!maskSecrets(`failed: ${big}`).includes('S3cr3t-200'))
    assert.throws(() => parseBrokerUrl(big), (e: unknown) => e instanceof UsageError && e.message.length < 200)
  }
  // A hang guard, not a speed check: catastrophic backtracking on these takes minutes, not seconds.
  assert.ok(performance.now() - started < 30_000, `${Math.round(performance.now() - started)} ms`)
})

test("a colon after a URL in a sentence is the sentence's: the port and the reason stay, a password is still masked", () => {
  assert.equal(maskSecrets('cannot connect to redis://127.0.0.1:1: connection refused'), 'cannot connect to redis://127.0.0.1:1: connection refused')
  assert.equal(maskSecrets('using amqp://h:5672: timed out'), 'using amqp://h:5672: timed out')
  assert.equal(maskSecrets('cannot connect to redis://h:s3cret: refused'), 'cannot connect to redis://h:****: refused')
  assert.equal(maskSecrets('at redis://:pw@h:6379: refused'), 'at redis://:****@h:6379: refused')
})
