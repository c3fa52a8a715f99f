#!/usr/bin/env node
// The CLI. dist/index.js is the bundle (scripts/build.mjs): oclif and every command in one file,
// compiled from V8's code cache. `wfctl --version` is answered here without loading even that.
// dist/ is CommonJS (scripts/build.mjs): require()d, with no ES module loading on the way.
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'

const require = createRequire(import.meta.url)

const argv = process.argv.slice(2)

/**
 * `--version` as the first argument prints oclif's user agent and nothing else: the same line
 * oclif's run() prints (name/version platform-arch node-version), where the platform is "wsl" on
 * WSL as oclif decides it. Left to oclif whenever something could change that line or add output:
 * hooks, plugins, extra version flags, oclif's DEBUG logging.
 */
async function version() {
  if (argv[0] !== '--version' || process.env.DEBUG) return false
  const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  const {hooks, plugins, additionalVersionFlags} = pjson.oclif ?? {}
  if (hooks || plugins || additionalVersionFlags || !pjson.name || !pjson.version) return false
  const {isWsl} = require('../dist/version.js')
  const arch = process.arch === 'ia32' ? 'x86' : process.arch
  process.stdout.write(`${pjson.name}/${pjson.version} ${isWsl ? 'wsl' : process.platform}-${arch} node-${process.version}\n`)
  return true
}

try {
  if (!(await version())) {
    // oclif reads "control a=b" as the control topic with an argument, and shows the topic's help
    // (exit 0); no command name holds "=", so it is an unknown command.
    if (argv[0] === 'control' && argv[1] !== undefined && !argv[1].startsWith('-') && argv[1].includes('=')) {
      throw Object.assign(new Error(`command control ${argv[1]} not found`), {oclif: {exit: 2}})
    }
    const {flush, run, settings} = require('../dist/index.js')
    // The bundle is the compiled CLI: never look for src/ and a TypeScript loader (NODE_ENV=development
    // or test would make oclif try); bin/dev.js is the way to run the sources.
    settings.enableAutoTranspile = false
    await run(argv, import.meta.url)
    await flush()
  }
  // Done: a client library still holding a socket (a broker that trickles bytes past the deadline)
  // must not keep the process alive. The timer does not itself keep it alive.
  setTimeout(() => process.exit(), 200).unref()
} catch (error) {
  const {reportFatal} = require('../dist/fatal.js')
  reportFatal(error)
}
