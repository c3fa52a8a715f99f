// Waiting in tests: every wait has a deadline, and there is one way to poll.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Calls `probe` until `ok` accepts its value or `deadlineMs` has passed, pausing `pauseMs` between
 * calls; returns the last value either way (the caller asserts on it, with a message that shows it).
 */
export async function poll<T>(probe: () => Promise<T> | T, ok: (value: T) => boolean, deadlineMs: number, pauseMs = 100): Promise<T> {
  const end = performance.now() + deadlineMs
  for (;;) {
    const value = await probe()
    if (ok(value) || performance.now() >= end) return value
    await sleep(pauseMs)
  }
}

/** poll() for a condition: whether `probe` became true before the deadline. */
export async function waitFor(probe: () => boolean | Promise<boolean>, deadlineMs: number, pauseMs = 20): Promise<boolean> {
  return poll(probe, Boolean, deadlineMs, pauseMs)
}
