import {debugTrace, errorReport} from './base-command.js'
import {ExitCode} from './errors.js'

/**
 * What escaped every command's own error handling (an unknown command, a failure in oclif itself,
 * a bug): one line on stderr with its exit code, passwords masked, never a raw stack trace.
 */
export function reportFatal(error: unknown): never {
  const e = (error instanceof Error ? error : new Error(String(error))) as Error & {oclif?: {exit?: number}; code?: string}
  // oclif's own exit (this.exit()): not an error.
  if (e.code === 'EEXIT' && typeof e.oclif?.exit === 'number') process.exit(e.oclif.exit)
  const {code, message} = errorReport(e)
  if (process.env.DEBUG?.includes('wfctl')) process.stderr.write(`${debugTrace(e)}\n`)
  if (code !== ExitCode.ok) process.stderr.write(`Error: ${message}\n`)
  process.exit(code)
}
