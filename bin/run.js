#!/usr/bin/env node
import {flush, run} from '@oclif/core'

try {
  await run(process.argv.slice(2), import.meta.url)
  await flush()
  // Done: a client library still holding a socket (a broker that trickles bytes past the deadline)
  // must not keep the process alive. The timer does not itself keep it alive.
  setTimeout(() => process.exit(), 200).unref()
} catch (error) {
  const {reportFatal} = await import('../dist/fatal.js')
  reportFatal(error)
}
