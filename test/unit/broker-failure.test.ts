// brokerFailure() (src/broker/common.ts) and amqpReplyCode() (src/broker/amqp-errors.ts): a broker's
// refusal is told by what the client library says it was (amqplib's reply code, Redis's own error
// words), never by names that happen to stand in the message. Errors shaped as amqplib and ioredis
// make them; the real ones are met in test/e2e and test/interop.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {amqpReplyCode, isNotFound} from '../../src/broker/amqp-errors.ts'
import {brokerFailure} from '../../src/broker/common.ts'
import {parseBrokerUrl} from '../../src/broker/url.ts'

const amqp = parseBrokerUrl('amqp://guest:guest@127.0.0.1:5672/wfctl-it-f404a84f')
const redis = parseBrokerUrl('redis://127.0.0.1:6379/0')

/** A channel error as amqplib rejects with it: the reply code on `code`, the broker's text in the message. */
function channelError(code: number, text: string): Error {
  const names: Record<number, string> = {403: 'ACCESS-REFUSED', 404: 'NOT-FOUND', 405: 'RESOURCE-LOCKED'}
  return Object.assign(new Error(`Operation failed: QueueDeclare; ${code} (${names[code]}) with message "${text}"`), {code})
}

test('the reply code decides, whatever names the message holds', () => {
  const locked = channelError(405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'x-404-NOT_FOUND.reply.celery.pidbox' in vhost 'wfctl-it-f404a84f'")
  assert.equal(amqpReplyCode(locked), 405)
  assert.equal(isNotFound(locked), false)
  assert.equal(isNotFound(channelError(404, "NOT_FOUND - no queue 'q' in vhost 'v'")), true)
  // Not an AMQP error: no reply code (a Node error's code is a string).
  assert.equal(amqpReplyCode(Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'})), undefined)
  assert.equal(amqpReplyCode(undefined), undefined)
})

test('an AMQP error whose names read like another refusal is shown as it is, not as that refusal', () => {
  for (const name of ['jobs-403', 'NOAUTH-jobs', 'WRONGPASS', 'Login was refused', 'q530', 'ConnectionClose']) {
    const line = brokerFailure(amqp, channelError(405, `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${name}' in vhost 'wfctl-it-f404a84f'`), 'cannot read queue depths on').message
    assert.doesNotMatch(line, /authentication refused|access refused|access to virtual host/, `${name}: ${line}`)
    assert.match(line, /RESOURCE-LOCKED/, line)
  }
})

test('each refusal still gets its line', () => {
  const denied = brokerFailure(amqp, channelError(403, "ACCESS_REFUSED - access to exchange 'reply.celery.pidbox' in vhost 'v' refused for user 'u'"), 'cannot open a channel on')
  assert.match(denied.message, /: access refused: access to exchange 'reply\.celery\.pidbox' in vhost 'v' refused for user 'u'$/)
  const login = brokerFailure(amqp, new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."'), 'cannot connect to')
  assert.match(login.message, /: authentication refused$/)
  const vhost = brokerFailure(amqp, new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'), 'cannot connect to')
  assert.match(vhost.message, /: access to virtual host "wfctl-it-f404a84f" refused \(it does not exist, or this user may not use it\)$/)
  const wrongpass = brokerFailure(redis, new Error('WRONGPASS invalid username-password pair or user is disabled.'), 'cannot connect to')
  assert.match(wrongpass.message, /: authentication refused$/)
  assert.ok(!denied.message.includes('guest:guest'), 'the password is masked')
})
