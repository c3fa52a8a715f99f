// Every control and inspect command, and call, against real Celery workers on Redis: DB 4, under a
// random global_keyprefix of this file's own, whose keys are deleted at the end (never FLUSHDB).
import {keysWithPrefix, redisClient, redisLeftovers, redisUrl, token} from '../helpers/brokers.js'
import {redisSpy} from '../helpers/spy.js'
import {commandsSuite, type CeleryEvent} from './commands-suite.js'
import {deleteKeysWithPrefix} from './support.js'

const DB = 4
const prefix = `wfctl-cmd-${token()}:`

commandsSuite('Redis', async () => {
  const redis = redisClient(DB)
  return {
    worker: {broker: redisUrl(DB), keyPrefix: prefix},
    main: {label: `Redis DB ${DB}, prefix ${prefix}`, flags: ['-b', redisUrl(DB), '--redis-key-prefix', prefix], leftovers: () => redisLeftovers(redis, prefix)},
    spy: async () => {
      const spy = await redisSpy(DB, prefix)
      // The spy hears every channel under the prefix (worker events too): keep the control requests.
      const channel = `${prefix}/${DB}.celery.pidbox`
      return {requests: () => spy.messages.filter((m) => m.startsWith(`${channel} `)), close: spy.close}
    },
    events: async () => {
      // kombu publishes events on `<prefix>/<db>.celeryev/<routing key>`, the body base64-encoded JSON.
      const sub = redisClient(DB)
      const events: CeleryEvent[] = []
      sub.on('pmessage', (_pattern: string, _channel: string, message: string) => {
        try {
          const envelope = JSON.parse(message) as {body: string; properties?: {body_encoding?: string}}
          const body = envelope.properties?.body_encoding === 'base64' ? Buffer.from(envelope.body, 'base64').toString() : envelope.body
          events.push(...[JSON.parse(body) as CeleryEvent | CeleryEvent[]].flat())
        } catch {}
      })
      await sub.psubscribe(`${prefix}/${DB}.celeryev/*`)
      return {events, close: async () => void sub.disconnect()}
    },
    close: async () => {
      // The workers are stopped by now: delete what they (and the tasks sent to them) left under the prefix.
      await deleteKeysWithPrefix(redis, prefix)
      const left = await keysWithPrefix(redis, prefix)
      redis.disconnect()
      if (left.length > 0) throw new Error(`keys left under ${prefix} in DB ${DB}: ${left.join(', ')}`)
    },
  }
})
