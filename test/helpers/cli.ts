import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = `${ROOT}bin/run.js`

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  /** Sends this signal once `signalWhen()` is true (polled every 20 ms), or after `signalAfterMs`. */
  signal?: NodeJS.Signals
  signalWhen?: () => boolean
  signalAfterMs?: number
  timeoutMs?: number
}

/** Runs the built wfctl (bin/run.js) as a user would, without a terminal. */
export function runWfctl(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = {...process.env, NO_COLOR: '1', ...opts.env}
    for (const key of ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL']) if (!(opts.env && key in opts.env)) delete env[key]
    const started = performance.now()
    const child = spawn(process.execPath, [BIN, ...args], {env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    // Decoded as a stream: a character split across two chunks stays one character.
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (d: string) => (stdout += d))
    child.stderr.on('data', (d: string) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
    let signaller: NodeJS.Timeout | undefined
    if (opts.signal && opts.signalWhen) {
      const when = opts.signalWhen
      signaller = setInterval(() => {
        if (!when()) return
        clearInterval(signaller)
        child.kill(opts.signal)
      }, 20)
    } else if (opts.signal) {
      signaller = setTimeout(() => child.kill(opts.signal), opts.signalAfterMs ?? 500)
    }
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      clearTimeout(signaller)
      clearInterval(signaller)
      resolve({code, signal, stdout, stderr, ms: performance.now() - started})
    })
  })
}

/** Parses stdout as the one JSON object --json promises. */
export function json(run: CliRun): any {
  try {
    return JSON.parse(run.stdout)
  } catch {
    throw new Error(`stdout is not one JSON object:\n${run.stdout}\nstderr:\n${run.stderr}`)
  }
}
