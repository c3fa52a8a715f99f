#!/usr/bin/env node
import {flush, run} from '@oclif/core'

const argv = process.argv.slice(2)
try {
  // oclif reads "control a=b" as the control topic with an argument, and shows the topic's help
  // (exit 0); no command name holds "=", so it is an unknown command.
  if (argv[0] === 'control' && argv[1] !== undefined && !argv[1].startsWith('-') && argv[1].includes('=')) {
    throw Object.assign(new Error(`command control ${argv[1]} not found`), {oclif: {exit: 2}})
  }
  await run(argv, import.meta.url)
  await flush()
  // Done: a client library still holding a socket (a broker that trickles bytes past the deadline)
  // must not keep the process alive. The timer does not itself keep it alive.
  setTimeout(() => process.exit(), 200).unref()
} catch (error) {
  const {reportFatal} = await import('../dist/fatal.js')
  reportFatal(error)
}
