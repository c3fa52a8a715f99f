#!/usr/bin/env node
// npm run build: type-checks src/ (tsc; a type error fails the build), then bundles the CLI with
// esbuild so that start-up reads a few files instead of resolving and compiling ~200 modules:
//
//   dist/wfctl.cjs        src/ (every command, listed in src/index.ts) and @oclif/core with its
//                         dependencies, in one CommonJS file. The broker client libraries (ioredis,
//                         amqplib) and inquirer stay in node_modules, loaded by import() only by the
//                         commands and URLs that use them.
//   dist/wfctl.cjs.cache  V8's code cache for it, made by one training run at the end of the build:
//                         start-up deserialises compiled code instead of parsing and compiling
//                         (Node 20 has no module.enableCompileCache()).
//   dist/index.js         the ESM module the rest loads: it runs wfctl.cjs with the cache and exports
//                         COMMANDS (oclif's explicit command discovery, "oclif.commands" in
//                         package.json), run, flush and reportFatal.
//   dist/fatal.js         reportFatal, for bin/run.js's last-resort error path.
//   dist/version.js       what `wfctl --version` needs besides package.json (bin/run.js answers it
//                         without loading oclif).
//
// Then writes oclif.manifest.json (scripts/manifest.mjs). Flags: --no-check skips tsc (for a quick
// rebuild while iterating; never in CI).
import {build} from 'esbuild'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const DIST = join(ROOT, 'dist')
const require = createRequire(import.meta.url)

function step(what, argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), {cwd: ROOT, stdio: 'inherit', ...options})
  if (r.status !== 0) {
    process.stderr.write(`build: ${what} failed\n`)
    process.exit(r.status ?? 1)
  }
  return r
}

/** src/index.ts must list every command file under the id oclif's file layout gives it (control/ping.ts: control:ping). */
function checkCommandList() {
  const dir = join(ROOT, 'src', 'commands')
  const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.ts') && !n.endsWith('.d.ts') ? [join(d, n)] : []))
  const expected = new Map(
    walk(dir).map((f) => {
      const rel = relative(dir, f).replace(/\.ts$/, '').split(sep).join('/')
      return [rel, rel.replace(/(^|\/)index$/, '').split('/').join(':')]
    }),
  )
  const index = readFileSync(join(ROOT, 'src', 'index.ts'), 'utf8')
  const imports = new Map([...index.matchAll(/^import\s+(\w+)\s+from\s+'\.\/commands\/([^']+)\.js'/gm)].map((m) => [m[1], m[2]]))
  const entries = [...index.matchAll(/^\s+(?:'([^']+)'|([\w]+)):\s*(\w+),?\s*$/gm)].map((m) => [m[1] ?? m[2], m[3]])
  const problems = []
  const listed = new Set()
  for (const [id, name] of entries) {
    const file = imports.get(name)
    if (!file) problems.push(`${id}: ${name} is not imported from ./commands/`)
    else if (expected.get(file) !== id) problems.push(`${id}: its class comes from commands/${file}.ts, whose id is ${expected.get(file) ?? '(no such file)'}`)
    listed.add(file)
  }
  for (const [file, id] of expected) if (!listed.has(file)) problems.push(`src/commands/${file}.ts (${id}) is not in COMMANDS`)
  if (problems.length > 0) {
    process.stderr.write(`build: src/index.ts does not match src/commands/:\n${problems.map((p) => `  ${p}`).join('\n')}\n`)
    process.exit(1)
  }
  return expected
}

/**
 * The bundle's entry. Its COMMANDS is src/index.ts's, but each command is a getter that evaluates
 * the command's module (and what it imports) when oclif first asks for it: starting one command
 * evaluates that command's code and not the other 35. (esbuild keeps a module that is require()d in
 * its own lazily evaluated wrapper.)
 */
function entry(commands) {
  const lines = ["export {reportFatal} from './src/fatal.ts'", "export {flush, run, settings} from '@oclif/core'", 'export const COMMANDS = {}']
  for (const [file, id] of [...commands].sort((a, b) => a[1].localeCompare(b[1]))) {
    lines.push(`Object.defineProperty(COMMANDS, ${JSON.stringify(id)}, {enumerable: true, get: () => require(${JSON.stringify(`./src/commands/${file}.ts`)}).default})`)
  }
  return lines.join('\n')
}

// The module dist/index.js: runs the bundle through vm.Script with V8's code cache. A cache that is
// missing or that this Node rejects (another V8 version or flags) is written anew at exit,
// atomically; where dist/ is read-only that fails quietly and start-up merely compiles.
// WFCTL_NO_CODE_CACHE=1 ignores the cache (to measure what it saves).
// Node 20 loses a vm.Script's dynamic-import callback when the script comes from a code cache, so
// the bundle has no import() of its own: rewriteDynamicImports() turns each into a call of
// __wfctlImport, which is import() from this module (and resolves as the bundle would, from dist/).
const LOADER = `// Generated by scripts/build.mjs: do not edit.
import {readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Script} from 'node:vm'

const file = fileURLToPath(new URL('./wfctl.cjs', import.meta.url))
const cacheFile = \`\${file}.cache\`

function save(script) {
  const tmp = \`\${cacheFile}.\${process.pid}\`
  try {
    writeFileSync(tmp, script.createCachedData())
    renameSync(tmp, cacheFile)
  } catch {
    rmSync(tmp, {force: true})
  }
}

function load() {
  let cachedData
  if (!process.env.WFCTL_NO_CODE_CACHE) {
    try {
      cachedData = readFileSync(cacheFile)
    } catch {}
  }
  const source = \`(function (exports, require, module, __filename, __dirname, __wfctlImport) {\${readFileSync(file, 'utf8')}\\n})\`
  const script = new Script(source, {filename: file, cachedData})
  if (!process.env.WFCTL_NO_CODE_CACHE && (cachedData === undefined || script.cachedDataRejected)) process.once('exit', () => save(script))
  const module = {exports: {}}
  const dynamicImport = (specifier, options) => (options === undefined ? import(specifier) : import(specifier, options))
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), dynamicImport)
  return module.exports
}

export const {COMMANDS, run, flush, settings, reportFatal} = load()
`

/** Every import() call in the bundle becomes __wfctlImport(), found by TypeScript's parser (not by a pattern: strings may say "import("). */
function rewriteDynamicImports(code) {
  const ts = require('typescript')
  const sf = ts.createSourceFile('wfctl.cjs', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS)
  const at = []
  const visit = (node) => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) at.push(node.expression.getStart(sf))
    ts.forEachChild(node, visit)
  }
  visit(sf)
  let out = code
  for (const pos of at.sort((a, b) => b - a)) {
    if (out.slice(pos, pos + 6) !== 'import') throw new Error(`build: no import() at ${pos}`)
    out = `${out.slice(0, pos)}__wfctlImport${out.slice(pos + 6)}`
  }
  return {code: out, count: at.length}
}

async function main() {
  const check = !process.argv.includes('--no-check')
  rmSync(DIST, {recursive: true, force: true})
  const commands = checkCommandList()
  if (check) step('type check (tsc --noEmit)', [process.execPath, require.resolve('typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json'])

  const common = {bundle: true, platform: 'node', target: 'node20', minify: true, keepNames: true, legalComments: 'none', logLevel: 'warning', absWorkingDir: ROOT}
  const bundle = await build({
    ...common,
    write: false,
    stdin: {
      contents: entry(commands),
      resolveDir: ROOT,
      sourcefile: 'wfctl-entry.ts',
      loader: 'ts',
    },
    outfile: join(DIST, 'wfctl.cjs'),
    format: 'cjs',
    // import() of what stays outside stays import() (ESM-only packages load as they do today), for
    // rewriteDynamicImports(); the bundle's own modules are inlined, each evaluated when first needed.
    supported: {'dynamic-import': true},
    external: [
      // loaded on demand, by the commands and URLs that need them (test/e2e checks which)
      'amqplib',
      'ioredis',
      'inquirer',
      '@inquirer/*',
      // oclif's development-only paths (tsconfig lookup, ts-node, Yarn PnP): never taken from dist
      'typescript',
      'ts-node',
      'tsx',
      'pnpapi',
    ],
  })
  const {code, count} = rewriteDynamicImports(bundle.outputFiles[0].text)
  mkdirSync(DIST, {recursive: true})
  writeFileSync(join(DIST, 'wfctl.cjs'), code)
  await build({
    ...common,
    stdin: {contents: "export {default as isWsl} from 'is-wsl'", resolveDir: dirname(require.resolve('wsl-utils')), sourcefile: 'version-entry.js'},
    outfile: join(DIST, 'version.js'),
    format: 'esm',
  })
  writeFileSync(join(DIST, 'index.js'), LOADER)
  writeFileSync(join(DIST, 'fatal.js'), "// Generated by scripts/build.mjs: do not edit.\nexport {reportFatal} from './index.js'\n")

  step('oclif.manifest.json', [process.execPath, join(ROOT, 'scripts', 'manifest.mjs')])
  // The code cache: one representative start-up (parse flags, build a request, print it) with
  // nothing on the network; whatever it did not compile is compiled on demand as usual.
  rmSync(join(DIST, 'wfctl.cjs.cache'), {force: true})
  step('code cache training run', [process.execPath, join(ROOT, 'bin', 'run.js'), 'inspect', 'ping', '-d', 'build@localhost', '--dry-run', '-b', 'redis://127.0.0.1:1/0'], {stdio: 'ignore', env: {...process.env, NO_COLOR: '1'}})
  if (!existsSync(join(DIST, 'wfctl.cjs.cache'))) {
    process.stderr.write('build: the training run wrote no code cache\n')
    process.exit(1)
  }
  const size = (f) => `${(statSync(join(DIST, f)).size / 1024).toFixed(0)} KiB`
  process.stdout.write(`built dist/wfctl.cjs (${commands.size} commands, ${size('wfctl.cjs')}, ${count} import() routed through dist/index.js; code cache ${size('wfctl.cjs.cache')})\n`)
}

await main()
