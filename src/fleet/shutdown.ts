import type {Mailbox} from '../protocol/mailbox.js'
import type {Target} from '../protocol/request.js'

export interface ShutdownOptions extends Target {
  /** Logged by each worker as the reason (`msg`). */
  reason: string
  /** How long to verify that the nodes stopped, or undefined for --no-wait. */
  waitMs?: number
  /** Deadline of each verification ping. */
  pingTimeoutMs: number
  /** Nodes known to be running before the shutdown (from discovery); destinations otherwise. */
  targets: string[]
  signal?: AbortSignal
}

export interface ShutdownResult {
  method: 'shutdown'
  replies: Record<string, never>
  /** Targeted nodes that were not running (did not answer before the shutdown was sent). */
  missing: string[]
  errors: Record<string, never>
  duplicates: string[]
  elapsedMs: number
  /** Targeted nodes that stopped answering within --wait. */
  stopped: string[]
  /** Targeted nodes that still answered when --wait ran out. */
  running: string[]
  /** False with --no-wait: nothing was verified. */
  verified: boolean
}

const ROUND_PAUSE_MS = 250

/**
 * Sends `shutdown` (a cast: workers never reply to it, docs/wire-protocol.md#calls-and-casts), then pings the targeted
 * nodes until they stop answering or the wait runs out. A node is stopped once it misses a ping.
 */
export async function shutdownNodes(mailbox: Mailbox, opts: ShutdownOptions, notRunning: string[]): Promise<ShutdownResult> {
  const started = performance.now()
  await mailbox.cast({method: 'shutdown', args: {msg: opts.reason}, destination: opts.destination, pattern: opts.pattern, matcher: opts.matcher, signal: opts.signal})
  let running = [...opts.targets]
  const stopped: string[] = []
  if (opts.waitMs !== undefined) {
    const deadline = started + opts.waitMs
    while (running.length > 0 && performance.now() < deadline) {
      const awaited = running
      const timeoutMs = Math.max(1, Math.min(opts.pingTimeoutMs, deadline - performance.now()))
      const round = await mailbox.call({
        method: 'ping',
        destination: awaited,
        timeoutMs,
        isComplete: (c) => awaited.every((n) => c.nodes.has(n)),
        signal: opts.signal,
      })
      const answered = new Set(round.replies.map((r) => r.node))
      stopped.push(...awaited.filter((n) => !answered.has(n)))
      running = awaited.filter((n) => answered.has(n))
      if (running.length > 0 && round.complete) await pause(Math.min(ROUND_PAUSE_MS, deadline - performance.now()), opts.signal)
    }
  }
  return {
    method: 'shutdown',
    replies: {},
    missing: notRunning,
    errors: {},
    duplicates: [],
    elapsedMs: Math.round(performance.now() - started),
    stopped,
    running: opts.waitMs === undefined ? [] : running,
    verified: opts.waitMs !== undefined,
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}
