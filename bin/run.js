#!/usr/bin/env node
// The CLI. dist/index.js is the bundle (scripts/build.mjs): oclif and every command in one file,
// compiled from V8's code cache. `wfctl --version` is answered here without loading even that.
// This file is CommonJS (bin/package.json says so), like dist/: an ES module entry point would
// start Node's ES module loader (its resolver, fs/promises, a facade of every builtin it imports),
// several milliseconds of every start for nothing wfctl uses.
'use strict'
const {readFileSync, writeSync} = require('node:fs')
const {join} = require('node:path')

const ROOT = join(__dirname, '..')
const argv = process.argv.slice(2)

/**
 * `--version` as the first argument prints oclif's user agent and nothing else: the same line
 * oclif's run() prints (name/version platform-arch node-version), where the platform is "wsl" on
 * WSL as oclif decides it. Left to oclif whenever something could change that line or add output:
 * hooks, plugins, extra version flags, oclif's DEBUG logging.
 */
function version() {
  if (argv[0] !== '--version' || process.env.DEBUG) return false
  const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const {hooks, plugins, additionalVersionFlags} = pjson.oclif ?? {}
  if (hooks || plugins || additionalVersionFlags || !pjson.name || !pjson.version) return false
  const {isWsl} = require('../dist/version.js')
  const arch = process.arch === 'ia32' ? 'x86' : process.arch
  const line = Buffer.from(`${pjson.name}/${pjson.version} ${isWsl ? 'wsl' : process.platform}-${arch} node-${process.version}\n`)
  // Straight to file descriptor 1: process.stdout (a stream, and on a pipe all of node:net) costs
  // more than the line. What that did not write (a non-blocking pipe that is full, a closed one)
  // goes through process.stdout as before.
  let written = 0
  try {
    written = writeSync(1, line)
  } catch {}
  if (written === line.length) process.exit()
  process.stdout.write(line.subarray(written))
  return true
}

async function main() {
  if (!version()) {
    // oclif reads "control a=b" as the control topic with an argument, and shows the topic's help
    // (exit 0); no command name holds "=", so it is an unknown command.
    if (argv[0] === 'control' && argv[1] !== undefined && !argv[1].startsWith('-') && argv[1].includes('=')) {
      throw Object.assign(new Error(`command control ${argv[1]} not found`), {oclif: {exit: 2}})
    }
    const {flush, run, settings} = require('../dist/index.js')
    // The bundle is the compiled CLI: never look for src/ and a TypeScript loader (NODE_ENV=development
    // or test would make oclif try); bin/dev.js is the way to run the sources.
    settings.enableAutoTranspile = false
    // The package's root, not this file: oclif would take bin/package.json for the root's.
    await run(argv, ROOT)
    await flush()
    // Done, and stdout and stderr wrote everything (no write left, none failed): exit now, rather
    // than wait for Node to tear a finished process's heap and handles down (a few milliseconds).
    const written = (stream) => stream.writableLength === 0 && !stream.destroyed
    if (written(process.stdout) && written(process.stderr)) process.exit()
  }
  // Done: a client library still holding a socket (a broker that trickles bytes past the deadline)
  // must not keep the process alive. The timer does not itself keep it alive.
  setTimeout(() => process.exit(), 200).unref()
}

main().catch((error) => {
  const {reportFatal} = require('../dist/fatal.js')
  reportFatal(error)
})
