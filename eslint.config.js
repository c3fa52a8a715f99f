// The layers of src/ (docs/architecture.md), enforced: each folder lists what it must not import,
// so an arrow that runs back up, or a broker library outside src/broker, fails `npm run lint`.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Folders under src/, as import specifiers relative to a file one level down (src/<folder>/x.ts). */
const FOLDERS = ['wire', 'protocol', 'broker', 'fleet', 'render', 'agent', 'explorer', 'commands']
const ROOT_MODULES = ['base-command', 'fatal']

/** Only src/broker talks to a broker: its client libraries and raw sockets stay there. */
const BROKER_LIBRARIES = ['ioredis', 'amqplib', 'node:net', 'node:tls', 'net', 'tls']
const brokerLibraries = {
  paths: BROKER_LIBRARIES.map((name) => ({name, message: 'broker libraries are imported only under src/broker'})),
}

function forbid(folders, why) {
  const regex = `^(\\.\\./|\\./)*(\\.\\./)(${folders.join('|')})(/|\\.js$)`
  return {regex, message: why}
}

/** What each layer may not import: the arrows run commands → fleet → protocol → wire ← broker. */
const LAYERS = {
  wire: {forbidden: [...FOLDERS.filter((f) => f !== 'wire'), ...ROOT_MODULES], why: 'src/wire is the bottom layer: it imports only src/errors.ts'},
  protocol: {forbidden: ['broker', 'fleet', 'render', 'agent', 'explorer', 'commands', ...ROOT_MODULES], why: 'src/protocol stands on src/wire only; the broker is reached through the Transport interface'},
  broker: {forbidden: ['protocol', 'fleet', 'render', 'agent', 'explorer', 'commands', ...ROOT_MODULES], why: 'src/broker implements src/wire interfaces and knows nothing above them'},
  fleet: {forbidden: ['render', 'agent', 'explorer', 'commands', ...ROOT_MODULES], why: 'src/fleet (the operation layer) is called by commands and the explorer, never the reverse'},
  render: {forbidden: ['broker', 'agent', 'explorer', 'commands', ...ROOT_MODULES], why: 'src/render turns results into text and has no broker knowledge'},
  agent: {forbidden: ['fleet', 'render', 'explorer', 'commands', ...ROOT_MODULES], why: 'src/agent (the simulated worker) stands on src/wire and src/broker only'},
  explorer: {forbidden: ['broker', 'protocol', 'wire', 'agent', 'commands', ...ROOT_MODULES], why: 'the explorer reaches the fleet only through the operations it is given'},
  commands: {forbidden: ['broker', 'protocol', 'wire'], why: 'a command reaches the fleet through the base command and src/fleet (simulate: src/agent), never a broker, the protocol or the wire directly'},
}

function restricted(patterns, libraries = true) {
  return {
    '@typescript-eslint/no-restricted-imports': ['error', {...(libraries ? brokerLibraries : {}), patterns}],
    // import() too: no-restricted-imports reads only static imports.
    'no-restricted-syntax': [
      'error',
      ...(libraries ? [{selector: `ImportExpression[source.value=/^(${BROKER_LIBRARIES.join('|').replace(/:/g, '\\:')})$/]`, message: 'broker libraries are imported only under src/broker'}] : []),
      ...patterns.map((p) => ({selector: `ImportExpression[source.value=/${p.regex.replace(/\//g, '\\/')}/]`, message: p.message})),
    ],
  }
}

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'test/**', 'scripts/**', 'bin/**', '*.config.js']},
  {
    files: ['src/**/*.ts'],
    languageOptions: {parser: tseslint.parser},
    plugins: {'@typescript-eslint': tseslint.plugin},
    rules: {
      ...js.configs.recommended.rules,
      // The type checker (npm run lint runs tsc first) owns names and unused code.
      'no-undef': 'off',
      'no-unused-vars': 'off',
      // TypeScript's overloads are declarations of one function.
      'no-redeclare': 'off',
      '@typescript-eslint/no-redeclare': 'error',
      'no-console': 'error',
      ...restricted([]),
    },
  },
  ...Object.entries(LAYERS).map(([folder, {forbidden, why}]) => ({
    files: [`src/${folder}/**/*.ts`],
    // src/broker is where the broker libraries belong.
    rules: restricted([forbid(forbidden, why)], folder !== 'broker'),
  })),
)
