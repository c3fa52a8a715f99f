#!/usr/bin/env node
// npm run build: type-checks src/ (tsc; a type error fails the build), then bundles the CLI with
// esbuild so that start-up reads a few files instead of resolving and compiling ~200 modules:
//
//   dist/wfctl.cjs        src/ (every command, listed in src/index.ts) and @oclif/core with its
//                         dependencies, in one CommonJS file. The broker client libraries (ioredis,
//                         amqplib) and inquirer stay in node_modules, loaded by import() only by the
//                         commands and URLs that use them.
//   dist/wfctl.cjs.cache  V8's code cache for it, made by one training run at the end of the build
//                         (a real `control ping` against trainingBroker(), a stand-in for Redis and a
//                         worker): start-up deserialises compiled code instead of parsing and
//                         compiling (Node 20 has no module.enableCompileCache()).
//   dist/index.js         the CommonJS module the rest loads: it runs wfctl.cjs with the cache and
//                         exports COMMANDS (oclif's explicit command discovery, "oclif.commands" in
//                         package.json), run, flush and reportFatal.
//   dist/manifest-index.json  the few fields of oclif.manifest.json that a run without help reads
//                         (writeManifestIndex()); oclif reads the rest of the manifest when needed.
//   dist/fatal.js         reportFatal, for bin/run.js's last-resort error path.
//   dist/version.js       what `wfctl --version` needs besides package.json (bin/run.js answers it
//                         without loading oclif).
//
// Then writes oclif.manifest.json (scripts/manifest.mjs). Flags: --no-check skips tsc (for a quick
// rebuild while iterating, and in `npm test`, whose lint step type-checks src/ and test/ together
// right after the build: src/ is checked once, not twice); --no-minify keeps names and lines readable, to profile
// start-up (node --cpu-prof bin/run.js ...) and see which functions and modules cost what.
//
// What start-up loads is what the command uses: oclifPlugin() makes oclif's own requires lazy and
// patches the few places where oclif loads or computes what a command does not need (see there);
// lazyBuiltins() defers node:crypto to its first use; builtinDefaultImports() spares the interop
// copies of builtins; performance.now() needs no perf_hooks (see `define`). Measure with
// `node scripts/bench.mjs --startup`, and with callgrind (instruction counts, repeatable on a busy
// machine): README, Benchmark.
import {build} from 'esbuild'
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
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

// The module dist/index.js, CommonJS (dist/package.json says so): bin/run.js require()s it, and
// oclif's explicit command discovery require()s it again (the same module, from require's cache),
// with no ES module loading on the way. It runs the bundle through vm.Script with V8's code cache. A
// cache that is missing or that this Node rejects (another V8 version or flags) is written anew at
// exit, atomically; where dist/ is read-only that fails quietly and start-up merely compiles.
// WFCTL_NO_CODE_CACHE=1 ignores the cache (to measure what it saves).
// wfctl.cjs is already the function expression the loader calls (WRAPPER), so that the source is
// read once into one string, not copied into a wrapped one.
// Node 20 loses a vm.Script's dynamic-import callback when the script comes from a code cache, so
// the bundle has no import() of its own: rewriteDynamicImports() turns each into a call of
// __wfctlImport, which is import() from this module (and resolves as the bundle would, from dist/).
const WRAPPER = ['(function (exports, require, module, __filename, __dirname, __wfctlImport) {', '\n})']
const LOADER = `// Generated by scripts/build.mjs: do not edit.
'use strict'
const {readFileSync, renameSync, rmSync, writeFileSync} = require('node:fs')
const {join} = require('node:path')
const {Script} = require('node:vm')

const file = join(__dirname, 'wfctl.cjs')
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
  // latin1: the bundle is ASCII (asciiOnly()), so this is the same string, read in one call and copied
  // rather than decoded ('utf8' reads 8 KiB at a time and validates every byte).
  const script = new Script(readFileSync(file, 'latin1'), {filename: file, cachedData})
  if (!process.env.WFCTL_NO_CODE_CACHE && (cachedData === undefined || script.cachedDataRejected)) process.once('exit', () => save(script))
  const bundle = {exports: {}}
  const dynamicImport = (specifier, options) => (options === undefined ? import(specifier) : import(specifier, options))
  // This module's require() resolves as one made for wfctl.cjs would (the same directory), and
  // needs no node:module to make.
  script.runInThisContext()(bundle.exports, require, bundle, file, __dirname, dynamicImport)
  return bundle.exports
}

const {COMMANDS, run, flush, settings, reportFatal} = load()
module.exports = {COMMANDS, run, flush, settings, reportFatal}
`

/**
 * The bundle's few characters outside ASCII (raw in a regular expression of ansis) as escapes: an
 * ASCII file is read into a string without UTF-8 decoding. Only inside string and regular
 * expression literals, where the escape means the same character; anywhere else the build fails.
 */
function asciiOnly(code) {
  if (!/[^\x00-\x7f]/.test(code)) return code
  const ts = require('typescript')
  const sf = ts.createSourceFile('wfctl.cjs', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS)
  const spans = []
  // Comments (kept by --no-minify) only: their characters outside ASCII become "?".
  const comments = new Map()
  const commentsAt = (ranges) => {
    for (const r of ranges ?? []) if (/[^\x00-\x7f]/.test(code.slice(r.pos, r.end))) comments.set(r.pos, r.end)
  }
  const visit = (node) => {
    if (ts.isStringLiteral(node) || ts.isRegularExpressionLiteral(node)) {
      const start = node.getStart(sf)
      if (/[^\x00-\x7f]/.test(code.slice(start, node.end))) spans.push([start, node.end, 'escape'])
    }
    commentsAt(ts.getLeadingCommentRanges(code, node.pos))
    commentsAt(ts.getTrailingCommentRanges(code, node.end))
    ts.forEachChild(node, visit)
  }
  visit(sf)
  for (const [start, end] of comments) spans.push([start, end, 'comment'])
  let out = code
  for (const [start, end, kind] of spans.sort((a, b) => b[0] - a[0])) {
    const escaped = out.slice(start, end).replace(/[^\x00-\x7f]/g, (c) => (kind === 'comment' ? '?' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
    out = `${out.slice(0, start)}${escaped}${out.slice(end)}`
  }
  const left = /[^\x00-\x7f]/.exec(out)
  if (left) throw new Error(`build: a character outside ASCII outside a string or regular expression, at ${left.index}: ${JSON.stringify(out.slice(left.index - 40, left.index + 40))}`)
  return out
}

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


/**
 * oclif's modules (tsc's CommonJS output) require everything they might use at their top, so that
 * starting any command evaluated help rendering, spinners, globbing, templating and their
 * dependencies. This esbuild plugin makes each such top-level `const x_1 = require("m")` (and
 * `exports.X = __importStar(require("m"))`) lazy: the module is evaluated when the binding is
 * first used, which is when the original would have used it, so nothing changes but what is
 * loaded. A binding declared or assigned anywhere else in its file is left as it was.
 */
function lazyRequires() {
  const ts = require('typescript')
  const K = ts.SyntaxKind
  const requireOf = (e) => {
    // require("m"), __importDefault(require("m")), __importStar(require("m"))
    if (!e || !ts.isCallExpression(e) || e.arguments.length !== 1) return undefined
    if (ts.isIdentifier(e.expression) && e.expression.text === 'require' && ts.isStringLiteral(e.arguments[0])) return e
    if (ts.isIdentifier(e.expression) && ['__importDefault', '__importStar'].includes(e.expression.text)) return requireOf(e.arguments[0]) && e
    return undefined
  }
  function transform(code, file) {
    const sf = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS)
    const lazy = new Map() // name -> statement
    const edits = []
    for (const st of sf.statements) {
      if (ts.isVariableStatement(st) && st.declarationList.declarations.length === 1) {
        const d = st.declarationList.declarations[0]
        if (ts.isIdentifier(d.name) && requireOf(d.initializer)) lazy.set(d.name.text, {st, d})
      } else if (ts.isExpressionStatement(st) && ts.isBinaryExpression(st.expression) && st.expression.operatorToken.kind === K.EqualsToken) {
        const {left, right} = st.expression
        if (ts.isPropertyAccessExpression(left) && ts.isIdentifier(left.expression) && left.expression.text === 'exports' && requireOf(right)) {
          const name = JSON.stringify(left.name.text)
          edits.push([st.getStart(sf), st.getEnd(), `{ let v; Object.defineProperty(exports, ${name}, {enumerable: true, configurable: true, get: () => v === undefined ? (v = ${right.getText(sf)}) : v}); }`])
        }
      }
    }
    const unsafe = new Set()
    const refs = []
    const visit = (node) => {
      if (ts.isIdentifier(node) && lazy.has(node.text)) {
        const p = node.parent
        const own = lazy.get(node.text).d
        if (p === own && own.name === node) {
          // the declaration itself
        } else if ((ts.isPropertyAccessExpression(p) && p.name === node) || ((ts.isPropertyAssignment(p) || ts.isMethodDeclaration(p) || ts.isPropertyDeclaration(p) || ts.isGetAccessor(p) || ts.isSetAccessor(p)) && p.name === node)) {
          // a property name, not the binding
        } else if (ts.isShorthandPropertyAssignment(p)) {
          refs.push([node, `${node.text}: (${node.text}())`])
        } else if (ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isFunctionDeclaration(p) || ts.isFunctionExpression(p) || ts.isClassDeclaration(p) || ts.isClassExpression(p) || ts.isBindingElement(p) || ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) {
          unsafe.add(node.text)
        } else if (ts.isBinaryExpression(p) && p.left === node && p.operatorToken.kind >= K.FirstAssignment && p.operatorToken.kind <= K.LastAssignment) {
          unsafe.add(node.text)
        } else if ((ts.isPrefixUnaryExpression(p) || ts.isPostfixUnaryExpression(p)) && [K.PlusPlusToken, K.MinusMinusToken].includes(p.operator)) {
          unsafe.add(node.text)
        } else {
          refs.push([node, `(${node.text}())`])
        }
      }
      ts.forEachChild(node, visit)
    }
    visit(sf)
    for (const [name, {st, d}] of lazy) {
      if (unsafe.has(name)) continue
      edits.push([st.getStart(sf), st.getEnd(), `var ${name}$lazy; function ${name}() { return ${name}$lazy === undefined ? (${name}$lazy = ${d.initializer.getText(sf)}) : ${name}$lazy; }`])
    }
    for (const [node, text] of refs) if (!unsafe.has(node.text)) edits.push([node.getStart(sf), node.getEnd(), text])
    let out = code
    for (const [start, end, text] of edits.sort((a, b) => b[0] - a[0])) out = `${out.slice(0, start)}${text}${out.slice(end)}`
    return out
  }
  return transform
}

/**
 * The fields of a command in oclif.manifest.json that oclif reads when it shows no help: finding,
 * loading and running the command (id, aliases, plugin, strict, args for the topic separator), and
 * the summary that names a topic made of a command. dist/manifest-index.json holds these; every
 * other field (flags, description, examples, ...) is read from the manifest when first needed.
 */
const MANIFEST_INDEX_FIELDS = ['id', 'aliases', 'hiddenAliases', 'deprecateAliases', 'aliasPermutations', 'permutations', 'hidden', 'state', 'deprecationOptions', 'pluginAlias', 'pluginName', 'pluginType', 'isESM', 'relativePath', 'strict', 'args', 'summary', 'hasDynamicHelp', 'enableJsonFlag']

/** dist/manifest-index.json, from the oclif.manifest.json just written (see OCLIF_PATCHES, lib/config/plugin.js). */
function writeManifestIndex() {
  const file = join(ROOT, 'oclif.manifest.json')
  const full = JSON.parse(readFileSync(file, 'utf8'))
  const commands = {}
  const fields = {}
  for (const [id, command] of Object.entries(full.commands)) {
    commands[id] = Object.fromEntries(Object.entries(command).filter(([k]) => MANIFEST_INDEX_FIELDS.includes(k)))
    fields[id] = Object.keys(command)
  }
  const index = JSON.stringify({manifest: {size: statSync(file).size}, fields, index: {...full, commands}})
  writeFileSync(join(DIST, 'manifest-index.json'), index.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
}

/** Inserted into oclif's lib/config/plugin.js: reads dist/manifest-index.json, and the rest of the manifest on demand. */
const MANIFEST_INDEX_RUNTIME = `const __wfctlManifest = {
    /** The index in place of the manifest at p, when p is the root's oclif.manifest.json the build indexed. */
    index(p) {
        try {
            if (this.read || p !== (0, node_path_1.join)(__dirname, '..', 'oclif.manifest.json')) return undefined;
            const fs = require('node:fs');
            const index = JSON.parse(fs.readFileSync((0, node_path_1.join)(__dirname, 'manifest-index.json'), 'latin1'));
            const stat = fs.statSync(p);
            if (stat.size !== index.manifest.size) return undefined;
            this.read = {path: p, fields: index.fields, index: index.index};
            return index.index;
        } catch {
            return undefined;
        }
    },
    full() {
        this.manifest ??= JSON.parse(require('node:fs').readFileSync(this.read.path).toString('utf8'));
        return this.manifest;
    },
    /** A command of the index: its fields in the manifest's order, those not in the index read from the manifest when first used. */
    command(manifest, id, command) {
        if (!this.read || manifest !== this.read.index) return command;
        const out = {};
        this.ids.set(out, id);
        for (const key of this.read.fields[id]) {
            if (key in command) out[key] = command[key];
            else Object.defineProperty(out, key, this.accessor(key));
        }
        for (const key in command) if (!(key in out)) out[key] = command[key];
        return out;
    },
    ids: new WeakMap(),
    accessors: new Map(),
    /** One getter and setter per field, shared by every command: a field read or written becomes a plain one. */
    accessor(key) {
        let accessor = this.accessors.get(key);
        if (!accessor) {
            const manifest = this;
            const own = (target, value) => Object.defineProperty(target, key, {value, writable: true, enumerable: true, configurable: true});
            accessor = {
                enumerable: true,
                configurable: true,
                get() { const value = manifest.full().commands[manifest.ids.get(this)][key]; own(this, value); return value; },
                set(value) { own(this, value); },
            };
            this.accessors.set(key, accessor);
        }
        return accessor;
    },
};`

/**
 * Exact edits of oclif's code, each keeping what a user sees and cutting what start-up loads; the
 * build fails when one no longer matches (a new @oclif/core: look again).
 */
const OCLIF_PATCHES = {
  // The engines check needs semver's satisfies(), not all of semver (its index loads ~50 modules),
  // and for a release version against ">=MAJOR" (wfctl's "engines") not even that: the answer is
  // semver's, compared without loading and compiling its ~40 regular expressions. Any other
  // version or range goes to semver.
  'lib/index.js': [
    // The engines check reads the package.json next to the bundle (wfctl's): as data, not as a module.
    ["        const pjson = require(path.join(root, 'package.json'));", "        const pjson = JSON.parse(require('node:fs').readFileSync(path.join(root, 'package.json'), 'utf8'));"],
    [
      "const semver = require('semver');",
      'const semver = {satisfies: (version, range) => { const v = /^(0|[1-9]\\d{0,14})\\.(0|[1-9]\\d{0,14})\\.(0|[1-9]\\d{0,14})$/.exec(version), r = /^>=(0|[1-9]\\d{0,14})$/.exec(range); return v && r ? Number(v[1]) >= Number(r[1]) : require(\'semver/functions/satisfies\')(version, range); }};',
    ],
  ],
  // The commands' order in the root plugin: oclif sorts them with localeCompare(), whose first
  // call builds ICU's collator (about 10 ms and 2.6 MiB of ICU data touched, on every start).
  // Ids compare by UTF-16 code units instead. The order is not shown anywhere: help sorts commands
  // and topics again (util.sortBy, by code units), ids are unique, and topics come from
  // package.json ("control", "inspect") or from one command each.
  //
  // And the manifest: oclif reads and parses all of oclif.manifest.json at every start (a third of
  // a megabyte: every command's flags, descriptions and examples), where a run that shows no help
  // reads a few small fields of each command. The build writes those fields to dist/manifest-index.json
  // (writeManifestIndex()); the root plugin's commands are made of them, and each other field is
  // read from oclif.manifest.json the first time anything reads it (help, a topic without a
  // summary), in the manifest's order of fields. Used only while oclif.manifest.json is the size
  // it was when indexed (both come from the same dist/, which a rebuild writes anew), else oclif
  // reads the manifest as ever.
  'lib/config/plugin.js': [
    ['const cachedCommandCanBeUsed = ', `${MANIFEST_INDEX_RUNTIME}\nconst cachedCommandCanBeUsed = `],
    ['                const manifest = await (0, fs_1.readJson)(p);', '                const manifest = __wfctlManifest.index(p) ?? await (0, fs_1.readJson)(p);'],
    [
      `            .map(([id, c]) => ({
            ...c,
            load: async () => this.findCommand(id, { must: true }),
            pluginAlias: this.alias,
            pluginType: c.pluginType === 'jit' ? 'jit' : this.type,
        }))
            .sort((a, b) => a.id.localeCompare(b.id));`,
      `            .map(([id, c]) => __wfctlManifest.command(this.manifest, id, {
            ...c,
            load: async () => this.findCommand(id, { must: true }),
            pluginAlias: this.alias,
            pluginType: c.pluginType === 'jit' ? 'jit' : this.type,
        }))
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));`,
    ],
  ],
  // Command.run() loads its Config again from the one runCommand() hands it: a new Config of the
  // same options and plugins, loaded anew (platform, shell, theme file, every command and topic
  // indexed again), for the case where that Config comes from another copy of oclif. From this
  // very oclif, loaded, it is the Config the reload would rebuild: used as it is.
  'lib/config/config.js': [
    [
      '        if (isConfig(opts)) {\n            debug(`reloading config from ${opts._base} to ${BASE}`);',
      '        if (isConfig(opts) && opts._base === BASE && opts.rootPlugin !== undefined && opts.plugins.size > 0)\n            return opts;\n        if (isConfig(opts)) {\n            debug(`reloading config from ${opts._base} to ${BASE}`);',
    ],
  ],
  // oclif reads package.json, the manifest and the theme through fs/promises: loading that module
  // and a FileHandle round trip through the thread pool for each, on every start. The same bytes,
  // read at once (a failure still rejects readJson's promise, with the same error).
  'lib/util/fs.js': [
    ["const contents = await (0, promises_1.readFile)(path, 'utf8');", "const contents = (0, node_fs_1.readFileSync)(path).toString('utf8');"],
    // A file that is not there (the theme file, mostly) is undefined without an ENOENT error made
    // and thrown for it (an exception with its stack, for every missing file).
    ['async function safeReadJson(path, useCache = true) {\n    try {', 'async function safeReadJson(path, useCache = true) {\n    if (!(0, node_fs_1.existsSync)(path))\n        return;\n    try {'],
  ],
  // oclif's debug logging goes through the debug package, which reads $DEBUG once, when loaded
  // (with tty, supports-color and a logger object per namespace). Unset or empty, it enables no
  // namespace, ever: every logger is a no-op, and the package is not loaded at all.
  // The user's plugins file (~/.local/share/<bin>/package.json, for `plugins install`): wfctl has
  // no plugins command, so it is rarely there; when it is not, no ENOENT error is made to say so.
  'lib/config/plugin-loader.js': [
    [
      '                const pjson = await (0, fs_1.readJson)(userPJSONPath, false);',
      "                if (!require('node:fs').existsSync(userPJSONPath))\n                    return;\n                const pjson = await (0, fs_1.readJson)(userPJSONPath, false);",
    ],
  ],
  'lib/logger.js': [
    [
      'function makeLogger(namespace = OCLIF_NS) {\n    const debug = (0, debug_1.default)(namespace);',
      'let debugWanted;\nfunction makeLogger(namespace = OCLIF_NS) {\n    debugWanted ??= Boolean(process.env.DEBUG);\n    const debug = debugWanted ? (0, debug_1.default)(namespace) : () => {};',
    ],
  ],
}

/** esbuild plugin: oclif's modules patched (OCLIF_PATCHES) and their requires made lazy (lazyRequires). */
function oclifPlugin() {
  const lazy = lazyRequires()
  const lib = dirname(require.resolve('@oclif/core/package.json'))
  const wslUtils = dirname(createRequire(join(lib, 'lib', 'util', 'os.js')).resolve('wsl-utils'))
  const used = new Set()
  return {
    name: 'oclif',
    setup(b) {
      b.onLoad({filter: /[\\/]node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/].*\.js$/}, (args) => {
        let code = readFileSync(args.path, 'utf8')
        const rel = relative(lib, args.path).split(sep).join('/')
        for (const [from, to] of OCLIF_PATCHES[rel] ?? []) {
          if (code.split(from).length !== 2) throw new Error(`build: @oclif/core/${rel} no longer holds ${JSON.stringify(from)}`)
          code = code.replace(from, to)
          used.add(`${rel}\0${from}`)
        }
        return {contents: lazy(code, args.path), loader: 'js'}
      })
      // oclif's package.json is read for its version only (lib/cache.js).
      b.onLoad({filter: /[\\/]node_modules[\\/]@oclif[\\/]core[\\/]package\.json$/}, (args) => {
        const {name, version} = JSON.parse(readFileSync(args.path, 'utf8'))
        return {contents: JSON.stringify({name, version}), loader: 'json'}
      })
      // oclif's getPlatform() imports wsl-utils for isWsl (and, on Windows only, powerShellPath);
      // wsl-utils itself loads child_process and fs/promises. The same isWsl, the rest on demand.
      b.onResolve({filter: /^wsl-utils$/}, (args) => (/[\\/]node_modules[\\/]@oclif[\\/]core[\\/]/.test(args.importer) ? {path: 'wsl-utils', namespace: 'wfctl-wsl'} : undefined))
      b.onLoad({filter: /.*/, namespace: 'wfctl-wsl'}, () => ({
        contents: "export {default as isWsl} from 'is-wsl'\nexport const powerShellPath = async () => (await import('./index.js')).powerShellPath()\n",
        resolveDir: wslUtils,
        loader: 'js',
      }))
      b.onEnd(() => {
        const missing = Object.entries(OCLIF_PATCHES).flatMap(([rel, list]) => list.filter(([from]) => !used.has(`${rel}\0${from}`)).map(([from]) => `${rel}: ${from}`))
        if (missing.length > 0) throw new Error(`build: oclif patches not applied: ${missing.join('; ')}`)
      })
    },
  }
}

/**
 * Node's builtins that src/ imports for what a start seldom does, loaded when first used instead of
 * with the module that imports them: node:crypto (OpenSSL's bindings, ciphers, streams: a few
 * milliseconds) serves only the checks of TLS files. Each becomes a CommonJS module with a getter
 * for each name src/ imports from it, which loads the builtin when read; esbuild reads an imported
 * name where it is used. Only `import {a, b} from '...'` statements: the build refuses a default or
 * namespace import (it would read every getter at once) and leaves import() as it is.
 */
const LAZY_BUILTINS = ['node:crypto']

function lazyBuiltins() {
  const src = join(ROOT, 'src')
  const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.ts') ? [join(d, n)] : []))
  const imported = new Map(LAZY_BUILTINS.map((m) => [m, new Set()]))
  for (const file of walk(src)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^import\s+(?!type\s)([^'"]*?)\s+from\s+'([^']+)'/gm)) {
      if (!imported.has(m[2])) continue
      const names = /^\{([^}]*)\}$/.exec(m[1].trim())
      if (!names) throw new Error(`build: ${relative(ROOT, file)}: import only named bindings from ${m[2]} (it is loaded lazily): ${m[0]}`)
      for (const part of names[1].split(',').map((p) => p.trim())) if (part && !part.startsWith('type ')) imported.get(m[2]).add(part.split(/\s+as\s+/)[0])
    }
  }
  return {
    name: 'lazy-builtins',
    setup(b) {
      const filter = new RegExp(`^(${LAZY_BUILTINS.join('|')})$`)
      b.onResolve({filter}, (args) => (args.kind === 'import-statement' && args.importer.startsWith(src + sep) ? {path: args.path, namespace: 'wfctl-lazy-builtin'} : undefined))
      b.onLoad({filter: /.*/, namespace: 'wfctl-lazy-builtin'}, (args) => {
        const names = [...imported.get(args.path)].sort()
        const missing = names.filter((n) => !(n in require(args.path)))
        if (missing.length > 0) throw new Error(`build: ${args.path} has no ${missing.join(', ')}`)
        const getters = names.map((n) => `${JSON.stringify(n)}: {enumerable: true, get: () => load()[${JSON.stringify(n)}]}`).join(',\n')
        return {contents: `let m\nconst load = () => (m ??= require(${JSON.stringify(args.path)}))\nmodule.exports = Object.defineProperties({}, {__esModule: {value: true},\n${getters}})\n`, loader: 'js'}
      })
    },
  }
}

/**
 * ES module packages' default imports of Node's builtins (`import fs from 'node:fs'`: is-wsl,
 * chalk's supports-color, ...) as require(): esbuild wraps each such import in __toESM(), which
 * copies every property of the builtin (a hundred of fs, of process) at every start, for a default
 * export that is the builtin's module.exports anyway. Only whole-line default imports.
 */
function builtinDefaultImports() {
  const {builtinModules} = require('node:module')
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)])
  const line = /^import\s+([A-Za-z_$][\w$]*)\s+from\s+(['"])([^'"]+)\2;?[ \t]*$/gm
  return {
    name: 'builtin-default-imports',
    setup(b) {
      b.onLoad({filter: /[\\/]node_modules[\\/].*\.js$/}, (args) => {
        const code = readFileSync(args.path, 'utf8')
        let changed = false
        const out = code.replace(line, (all, name, _q, spec) => {
          if (!builtins.has(spec)) return all
          changed = true
          return `const ${name} = require(${JSON.stringify(spec)});`
        })
        return changed ? {contents: out, loader: 'js', resolveDir: dirname(args.path)} : undefined
      })
    },
  }
}

/**
 * For the code cache's training run: a stand-in for Redis with one Celery worker behind it, in this
 * process, on a port of its own. It answers the commands a ping sends (docs/wire-protocol.md: the
 * connection's SELECT and CLIENT SETNAME, the reply route's SADD, BRPOP and RPOP, the PUBLISH, the
 * cleanup's SREM and DEL, QUIT) and, to a ping, replies as a worker named in -d does; anything else
 * is an error reply. Nothing is kept but the lists the replies wait in.
 */
async function trainingBroker() {
  const {createServer} = await import('node:net')
  const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`
  const lists = new Map() // key -> entries (LPUSH order: newest first)
  const blocked = [] // {socket, keys}
  const serve = (key) => {
    const i = blocked.findIndex((b) => b.keys.includes(key))
    if (i < 0) return
    const [{socket}] = blocked.splice(i, 1)
    socket.write(`*2\r\n${bulk(key)}${bulk(lists.get(key).pop())}`)
  }
  const reply = (request, node) => {
    const body = Buffer.from(JSON.stringify({[node]: {ok: 'pong'}})).toString('base64')
    const {exchange, routing_key: routingKey} = request.reply_to
    const envelope = {body, 'content-encoding': 'utf-8', 'content-type': 'application/json', headers: {ticket: request.ticket, clock: 1}, properties: {delivery_mode: 1, delivery_info: {exchange, routing_key: routingKey}, priority: 0, body_encoding: 'base64', delivery_tag: `training-${node}`}}
    return {key: `${routingKey}.${exchange}`, entry: JSON.stringify(envelope)}
  }
  const answer = (socket, [name, ...args]) => {
    switch (name.toUpperCase()) {
      case 'SELECT':
      case 'CLIENT':
      case 'AUTH':
        return socket.write('+OK\r\n')
      case 'SADD':
      case 'SREM':
        return socket.write(':1\r\n')
      case 'DEL':
      case 'EXISTS':
        return socket.write(':0\r\n')
      case 'RPOP':
        return socket.write('*-1\r\n')
      case 'QUIT':
        return socket.end('+OK\r\n')
      case 'BRPOP': {
        const keys = args.slice(0, -1)
        blocked.push({socket, keys})
        for (const key of keys) if (lists.get(key)?.length) return serve(key)
        return
      }
      case 'PUBLISH': {
        socket.write(':1\r\n')
        const request = JSON.parse(Buffer.from(JSON.parse(args[1]).body, 'base64').toString('utf8'))
        if (request.method !== 'ping' || !request.reply_to) return
        for (const node of request.destination ?? []) {
          const {key, entry} = reply(request, node)
          lists.set(key, [entry, ...(lists.get(key) ?? [])])
          serve(key)
        }
        return
      }
      default:
        return socket.write(`-ERR the training broker does not know ${name}\r\n`)
    }
  }
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0)
    socket.on('error', () => {})
    socket.on('close', () => blocked.splice(0, blocked.length, ...blocked.filter((b) => b.socket !== socket)))
    socket.on('data', (data) => {
      buffer = Buffer.concat([buffer, data])
      for (;;) {
        // One command: *N, then N bulk strings.
        const text = buffer.toString('latin1')
        const head = /^\*(\d+)\r\n/.exec(text)
        if (!head) return
        let at = head[0].length
        const args = []
        for (let i = 0; i < Number(head[1]); i++) {
          const len = /^\$(\d+)\r\n/.exec(text.slice(at))
          if (!len || text.length < at + len[0].length + Number(len[1]) + 2) return
          at += len[0].length
          args.push(buffer.subarray(at, at + Number(len[1])).toString('utf8'))
          at += Number(len[1]) + 2
        }
        buffer = buffer.subarray(at)
        answer(socket, args)
      }
    })
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  return {port: server.address().port, close: () => new Promise((resolve) => server.close(resolve))}
}

/**
 * The training run: `wfctl control ping -d build@localhost` against trainingBroker(). Should that
 * not succeed (the wire changed and the stand-in no longer answers as a worker would), a warning,
 * and a dry run trains the cache instead: a slower start, not a failed build.
 */
async function trainingRun() {
  const broker = await trainingBroker()
  let code
  let output = ''
  try {
    const argv = [join(ROOT, 'bin', 'run.js'), 'control', 'ping', '-d', 'build@localhost', '-t', '5', '-b', `redis://127.0.0.1:${broker.port}/0`]
    const child = spawn(process.execPath, argv, {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1', WFCTL_AUDIT_LOG: 'off'}})
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    code = await new Promise((resolve) => child.on('close', resolve))
  } finally {
    await broker.close()
  }
  if (code === 0) return
  process.stderr.write(`build: warning: the code cache training run (wfctl control ping against scripts/build.mjs's training broker) exited ${code}; trained on a dry run instead (look at trainingBroker()):\n${output}`)
  rmSync(join(DIST, 'wfctl.cjs.cache'), {force: true})
  step('code cache training run', [process.execPath, join(ROOT, 'bin', 'run.js'), 'control', 'ping', '-d', 'build@localhost', '--dry-run', '-b', 'redis://127.0.0.1:1/0'], {stdio: 'ignore', env: {...process.env, NO_COLOR: '1'}})
}

async function main() {
  const check = !process.argv.includes('--no-check')
  const commands = checkCommandList()
  if (check) step('type check (tsc --noEmit)', [process.execPath, require.resolve('typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json'])
  // dist/ is written next to itself and then swapped in: a build that fails leaves the previous
  // dist/ in place, and a wfctl started meanwhile (tests running beside a rebuild) finds one.
  const out = `${DIST}.tmp-${process.pid}`
  rmSync(out, {recursive: true, force: true})

  // No keepNames: it gives every function and class back its name with Object.defineProperty at
  // start-up, a thousand calls and half a megabyte of heap for names nothing reads (oclif names a
  // command by its id, errors by their own name; only stack traces show minified names).
  const common = {bundle: true, platform: 'node', target: 'node20', minify: !process.argv.includes('--no-minify'), keepNames: false, legalComments: 'none', logLevel: 'warning', absWorkingDir: ROOT}
  let count
  try {
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
      plugins: [oclifPlugin(), lazyBuiltins(), builtinDefaultImports()],
      // import() of what stays outside stays import() (ESM-only packages load as they do today), for
      // rewriteDynamicImports(); the bundle's own modules are inlined, each evaluated when first needed.
      supported: {'dynamic-import': true},
      // performance.now() is the clock of every deadline, latency and age in src/; the global
      // `performance` would load perf_hooks (and its observers, histograms, timerify) to read it.
      // The same monotonic clock in milliseconds, counted from the bundle's start instead of the
      // process's: only differences of it are used, all within this bundle.
      define: {'performance.now': '__wfctlNow'},
      banner: {js: 'var __wfctlOrigin = process.hrtime(), __wfctlNow = () => { const t = process.hrtime(__wfctlOrigin); return t[0] * 1e3 + t[1] / 1e6; };'},
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
    const rewritten = rewriteDynamicImports(bundle.outputFiles[0].text)
    const code = rewritten.code
    count = rewritten.count
    mkdirSync(out, {recursive: true})
    writeFileSync(join(out, 'wfctl.cjs'), `${WRAPPER[0]}${asciiOnly(code)}${WRAPPER[1]}`)
    writeFileSync(join(out, 'package.json'), '{"type": "commonjs"}\n')
    await build({
      ...common,
      stdin: {contents: "export {default as isWsl} from 'is-wsl'", resolveDir: dirname(require.resolve('wsl-utils')), sourcefile: 'version-entry.js'},
      outfile: join(out, 'version.js'),
      format: 'cjs',
      plugins: [builtinDefaultImports()],
    })
    writeFileSync(join(out, 'index.js'), LOADER)
    writeFileSync(join(out, 'fatal.js'), "// Generated by scripts/build.mjs: do not edit.\n'use strict'\nmodule.exports = {reportFatal: require('./index.js').reportFatal}\n")
    const old = `${DIST}.old-${process.pid}`
    if (existsSync(DIST)) renameSync(DIST, old)
    renameSync(out, DIST)
    rmSync(old, {recursive: true, force: true})
  } finally {
    rmSync(out, {recursive: true, force: true})
  }

  step('oclif.manifest.json', [process.execPath, join(ROOT, 'scripts', 'manifest.mjs')])
  writeManifestIndex()
  // The code cache: one representative probe (parse flags, connect, open the reply route, publish,
  // read the reply, clean up, print the table) against trainingBroker(); whatever it did not
  // compile is compiled on demand as usual.
  rmSync(join(DIST, 'wfctl.cjs.cache'), {force: true})
  await trainingRun()
  if (!existsSync(join(DIST, 'wfctl.cjs.cache'))) {
    process.stderr.write('build: the training run wrote no code cache\n')
    process.exit(1)
  }
  const size = (f) => `${(statSync(join(DIST, f)).size / 1024).toFixed(0)} KiB`
  process.stdout.write(`built dist/wfctl.cjs (${commands.size} commands, ${size('wfctl.cjs')}, ${count} import() routed through dist/index.js; code cache ${size('wfctl.cjs.cache')})\n`)
}

await main()
