/** Exit codes (README.md#exit-codes). */
export const ExitCode = {
  ok: 0,
  partial: 1,
  usage: 2,
  unreachable: 3,
  noReply: 69,
  interrupted: 130,
  /** A bug in wfctl (sysexits' EX_SOFTWARE): never "partial". */
  software: 70,
} as const

/** An error that knows the exit code it ends the process with, and prints as one line. */
export class WfctlError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message)
    this.name = 'WfctlError'
  }
}

/** Bad flag, argument or input: nothing was sent. */
export class UsageError extends WfctlError {
  constructor(message: string) {
    super(message, ExitCode.usage)
    this.name = 'UsageError'
  }
}

/** Broker unreachable, authentication refused, or the broker closed the channel. */
export class BrokerError extends WfctlError {
  constructor(message: string) {
    super(message, ExitCode.unreachable)
    this.name = 'BrokerError'
  }
}

/** SIGINT or SIGTERM arrived; raised after the broker was cleaned up. */
export class InterruptedError extends WfctlError {
  constructor(signal: string) {
    super(`interrupted by ${signal}`, ExitCode.interrupted)
    this.name = 'InterruptedError'
  }
}

/** A message wfctl refuses to publish because it would harm workers (docs/wire-protocol.md#what-wfctl-never-sends). */
export class UnsafeMessageError extends WfctlError {
  constructor(message: string) {
    super(`refusing to publish: ${message}`, ExitCode.usage)
    this.name = 'UnsafeMessageError'
  }
}

/**
 * The connection to the broker ended or stopped answering: raised by the broker clients, turned
 * into a one-line BrokerError (exit 3) by the transport that knows the URL.
 */
export class ConnectionLostError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConnectionLostError'
  }
}
