import {existsSync} from 'node:fs'
import {pathToFileURL} from 'node:url'
import type {Command} from '@oclif/core'

import {ISOLATED, NO_CONFIG, ROOT} from './cli.js'

// Commands run here write their audit log only where a test moves it: never to ~/.local/state.
process.env.WFCTL_AUDIT_LOG = 'off'
// Nor read the developer's broker settings: no broker variable, config file or airflow.cfg.
for (const key of ISOLATED) delete process.env[key]
process.env.XDG_CONFIG_HOME = NO_CONFIG
process.env.AIRFLOW_HOME = NO_CONFIG

export interface InProcessRun<T> {
  result: T | undefined
  stdout: string
  stderr: string
  exitCode: number | undefined
}

/**
 * Runs a command class in this process and returns what its run() returned, with its output kept in
 * memory. (@oclif/test's runCommand captures process.stdout, which is the channel node's test runner
 * uses to report from each test file, so its captures swallow test reports.)
 */
export async function runInProcess<T>(command: typeof Command, argv: string[]): Promise<InProcessRun<T>> {
  let stdout = ''
  let stderr = ''
  // A concrete command class; its run() is inherited, only the output goes to memory.
  const Concrete = command as unknown as new (argv: string[], config: never) => Command & {run(): Promise<unknown>}
  class Captured extends Concrete {
    override log(message = '') {
      if (!this.jsonEnabled()) stdout += `${message}\n`
    }
    override logJson(json: unknown) {
      stdout += `${JSON.stringify(json)}\n`
    }
    override logToStderr(message = '') {
      if (!this.jsonEnabled()) stderr += `${message}\n`
    }
  }
  Object.defineProperty(Captured, 'name', {value: command.name})
  const previous = process.exitCode
  process.exitCode = undefined
  try {
    const result = (await (Captured as unknown as {run(argv: string[], root: string): Promise<unknown>}).run(argv, ROOT)) as T | undefined
    return {result, stdout, stderr, exitCode: process.exitCode as number | undefined}
  } finally {
    process.exitCode = previous
  }
}

/**
 * Runs a command line (`control ping -d a@h ...`) in this process, as bin/run.js would dispatch it:
 * the command class is found under src/commands by the longest leading words that name one.
 */
export async function runArgvInProcess<T = unknown>(argv: string[]): Promise<InProcessRun<T>> {
  for (let words = Math.min(2, argv.length); words >= 1; words--) {
    const parts = argv.slice(0, words)
    if (parts.some((p) => !/^[a-z][a-z-]*$/.test(p))) continue
    for (const file of [`${ROOT}src/commands/${parts.join('/')}.ts`, `${ROOT}src/commands/${parts.join('/')}/index.ts`]) {
      if (!existsSync(file)) continue
      const command = ((await import(pathToFileURL(file).href)) as {default: typeof Command}).default
      return runInProcess<T>(command, argv.slice(words))
    }
  }
  throw new Error(`no command for ${argv.slice(0, 2).join(' ')} under src/commands`)
}
