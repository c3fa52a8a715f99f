import {Command, Flags, type Interfaces} from '@oclif/core'
import {hostname, userInfo} from 'node:os'

import type {Transport} from './wire/transport.js'
import {CleanupError} from './wire/transport.js'
import {maskArgv, maskSecrets, parseBrokerUrl} from './broker/url.js'
import {BrokerError, ExitCode, InterruptedError, UsageError, WfctlError} from './errors.js'
import {safeJson, safeLine} from './render/safe.js'
import {durationMs} from './fleet/arguments.js'
import {exitCodeOf, summarize, type FleetResult} from './fleet/outcome.js'
import {isDestructive, whom} from './fleet/methods.js'
import {completionOf, parseDestinations, parseExpect, type Roster} from './fleet/roster.js'
import {FleetSession, requestAddress, type SessionOptions} from './fleet/session.js'
import {buildRequest, encodeRequest, type Matcher, type Target} from './protocol/request.js'
import type {View} from './render/text.js'

type TargetFlags = {destination?: string[]; pattern?: string; matcher?: string; expect?: string; timeout: string} & {
  broker?: string; 'control-exchange': string; 'redis-key-prefix': string; 'connect-timeout': string
}
type OutputFlags = {'no-color'?: boolean}
/** How a reply is shown: the generic reply table, the status table, or a method's own view. */
export type Show = 'replies' | 'status' | ((result: FleetResult, view: View) => string | Promise<string>)

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof FleetCommand)['baseFlags'] & T['flags']>

const DEFAULT_BROKER = 'redis://localhost:6379/0'
const BROKER_ENV = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL']
const NAME = /^[A-Za-z0-9_.:-]+$/

/** Where the broker URL comes from when -b is not given, in order (contract §3). */
export function defaultBroker(env: NodeJS.ProcessEnv = process.env): string {
  return env.WFCTL_BROKER_URL || env.CELERY_BROKER_URL || env.AIRFLOW__CELERY__BROKER_URL || DEFAULT_BROKER
}

/**
 * Hides every broker password in a text that may echo what the operator typed (oclif's parse
 * errors quote arguments) or what a client library said: each broker URL given on the command line
 * or in the environment is replaced by its masked form, and anything URL-like is masked too.
 */
export function redact(text: string, argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): string {
  let out = text
  const given = [...argv, ...BROKER_ENV.map((k) => env[k]).filter((v): v is string => Boolean(v))]
  const masked = maskArgv(given)
  given.forEach((raw, i) => {
    if (masked[i] !== raw && raw.length > 0) out = out.split(raw).join(masked[i])
  })
  return maskSecrets(out)
}

/** An error as the contract reports it: one line, and its exit code. Never a password, never an escape sequence. */
export function errorReport(error: Error & {oclif?: {exit?: number}}): {code: number; message: string} {
  const clean = (text: string) => safeLine(redact(text))
  if (error instanceof WfctlError) return {code: error.exitCode, message: clean(error.message)}
  if (error.name === 'ExitPromptError') return {code: ExitCode.interrupted, message: 'interrupted'}
  if (error.oclif?.exit !== undefined) {
    // oclif's own errors (flag and argument parsing): usage
    const message = error.message.split('\n').filter((l) => l.trim() !== '').slice(0, 2).join(' ').replace(/\s+/g, ' ')
    return {code: error.oclif.exit === 0 ? 0 : ExitCode.usage, message: clean(message)}
  }
  return {code: ExitCode.software, message: clean(`internal error: ${error.message} (a bug in wfctl; run with DEBUG=wfctl* for details)`)}
}

/** A stack trace for DEBUG=wfctl*, passwords masked like every other output. */
export function debugTrace(error: Error): string {
  return redact(error.stack ?? String(error))
}

/**
 * Owns what every command that talks to the broker shares: the broker, namespace and output flags,
 * the one connection and its cleanup on every exit path, interrupts, and the exit-code contract.
 */
export abstract class FleetCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    broker: Flags.string({
      char: 'b',
      summary: 'Broker URL: redis://, rediss://, amqp://, amqps:// or pyamqp://.',
      description: 'Defaults to $WFCTL_BROKER_URL, else $CELERY_BROKER_URL, else $AIRFLOW__CELERY__BROKER_URL, else redis://localhost:6379/0.',
      helpGroup: 'BROKER',
    }),
    'control-exchange': Flags.string({summary: "Celery's control_exchange setting.", default: 'celery', helpGroup: 'BROKER'}),
    'redis-key-prefix': Flags.string({summary: "kombu's global_keyprefix transport option (Redis).", default: '', helpGroup: 'BROKER'}),
    'connect-timeout': Flags.string({summary: 'Seconds to wait for the broker before giving up (exit 3).', default: '3', helpGroup: 'BROKER'}),
    'no-color': Flags.boolean({summary: 'Never colour the output (also: NO_COLOR).', helpGroup: 'OUTPUT'}),
  }

  /** Target flags, for the commands that address workers (contract §4). */
  static targetFlags = {
    destination: Flags.string({char: 'd', summary: 'Node name to address; repeatable, comma-separated lists too.', multiple: true, helpGroup: 'TARGET'}),
    pattern: Flags.string({summary: 'Address the nodes whose name matches, filtered by the workers (Celery 4.4+).', helpGroup: 'TARGET'}),
    matcher: Flags.string({summary: 'How --pattern matches node names.', options: ['glob', 'pcre'], default: 'glob', helpGroup: 'TARGET'}),
    expect: Flags.string({summary: 'The roster expected to answer: a count, names (a@h,b@h) or @FILE.', helpGroup: 'TARGET'}),
    timeout: Flags.string({char: 't', summary: 'Seconds to wait for replies after publishing (a deadline).', default: '1', helpGroup: 'TARGET'}),
  }

  /** For every command that sends: print the request instead. */
  static dryRunFlags = {
    'dry-run': Flags.boolean({summary: 'Print the exact request and send nothing.'}),
  }

  /** For the commands that can be destructive (contract §6). */
  static confirmFlags = {
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation of a destructive action.'}),
  }

  protected readonly interrupt = new AbortController()
  private session?: FleetSession
  private transport?: Transport
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.interrupt.signal.aborted) process.exit(ExitCode.interrupted)
    this.interrupt.abort(signal)
  }

  override async init(): Promise<void> {
    await super.init()
    // Kept until finally(): a second signal exits at once; and a listener that stays keeps
    // signal-exit (used by the prompt) from re-raising the signal to kill the process mid-cleanup.
    process.on('SIGINT', this.onSignal)
    process.on('SIGTERM', this.onSignal)
    // A closed terminal (the explorer's, or a shutdown prompt's) must clean up too.
    process.on('SIGHUP', this.onSignal)
  }

  protected sessionOptions(flags: {broker?: string; 'control-exchange': string; 'redis-key-prefix': string; 'connect-timeout': string}): SessionOptions {
    const url = parseBrokerUrl(flags.broker ?? defaultBroker())
    if (!NAME.test(flags['control-exchange'])) throw new UsageError(`invalid --control-exchange "${flags['control-exchange']}"`)
    if (flags['redis-key-prefix'] && url.kind !== 'redis') throw new UsageError('--redis-key-prefix applies to Redis brokers only')
    return {
      url,
      namespace: {controlExchange: flags['control-exchange'], redisKeyPrefix: flags['redis-key-prefix']},
      connectTimeoutMs: durationMs(flags['connect-timeout'], '--connect-timeout'),
    }
  }

  protected target(flags: {destination?: string[]; pattern?: string; matcher?: string}): Target & {destination: string[]} {
    const destination = parseDestinations(flags.destination)
    if (flags.pattern !== undefined && destination.length > 0) throw new UsageError('use either --destination or --pattern, not both')
    if (flags.pattern === '') throw new UsageError('--pattern must not be empty')
    const target = {destination, pattern: flags.pattern, matcher: flags.pattern ? (flags.matcher as Matcher) : undefined}
    // Validates the pattern the way the request builder will, before anything connects.
    buildRequest({method: 'ping', controlExchange: 'celery', ...target})
    return target
  }

  protected roster(flags: {expect?: string}): Roster | undefined {
    return parseExpect(flags.expect)
  }

  protected timeoutMs(flags: {timeout: string}): number {
    return durationMs(flags.timeout, '--timeout')
  }

  /** Connects, bounded by --connect-timeout and by interrupts. */
  protected async connect(opts: SessionOptions): Promise<FleetSession> {
    const opening = FleetSession.open(opts, (transport) => {
      this.transport = transport
    })
    this.session = await this.abortable(opening)
    return this.session
  }

  protected async abortable<T>(work: Promise<T>): Promise<T> {
    const signal = this.interrupt.signal
    if (signal.aborted) throw new InterruptedError(String(signal.reason))
    let onAbort: () => void = () => {}
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new InterruptedError(String(signal.reason)))
      signal.addEventListener('abort', onAbort, {once: true})
    })
    work.catch(() => {})
    try {
      return await Promise.race([work, aborted])
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** Sends one request to the targeted nodes and collects the replies (contract §5). */
  protected async collect(
    opts: SessionOptions,
    flags: {destination?: string[]; pattern?: string; matcher?: string; expect?: string; timeout: string},
    method: string,
    args: Record<string, unknown> = {},
  ): Promise<{result: FleetResult; address: string}> {
    const target = this.target(flags)
    const roster = this.roster(flags)
    const timeoutMs = this.timeoutMs(flags)
    // The request is checked (protocol §10) before connecting: a refused one leaves no trace at all.
    buildRequest({method, args, ...target, controlExchange: opts.namespace.controlExchange})
    const session = await this.connect(opts)
    const result = await this.request(session, method, args, target, roster, timeoutMs)
    const address = session.transport.requestAddress
    // The broker is cleaned up before anything is printed: a long table or an interrupt while it
    // prints leaves nothing behind, and what could not be removed is known to the report.
    const problem = await this.closeSession()
    if (problem) {
      const heard = Object.keys(result.replies).length + result.undecodable.length
      // Silence from a broker that then cannot be reached is the broker's failure, not the fleet's.
      if (problem.unreachable && heard === 0) throw new BrokerError(`the broker stopped answering: ${problem.message}`)
      this.notice(`warning: ${problem.message}`)
    }
    return {result, address}
  }

  /** Ends the session now, removing what it created; returns what could not be removed. */
  protected async closeSession(): Promise<CleanupError | undefined> {
    const session = this.session
    this.session = undefined
    this.transport = undefined
    try {
      await session?.close()
    } catch (error) {
      if (error instanceof CleanupError) return error
      throw error
    }
    return undefined
  }

  /** A line on stderr, also under --json (stdout carries only the result), made safe for a terminal. */
  protected notice(line: string): void {
    process.stderr.write(`${safeLine(redact(line))}\n`)
  }

  /** The one JSON object on stdout, with every character a terminal could act on escaped. */
  override logJson(json: unknown): void {
    process.stdout.write(`${safeJson(json, 2)}\n`)
  }

  /** One request on an open session, collected until complete (contract §5), as a FleetResult. */
  protected async request(
    session: FleetSession,
    method: string,
    args: Record<string, unknown>,
    target: Target & {destination: string[]},
    roster: Roster | undefined,
    timeoutMs: number,
  ): Promise<FleetResult> {
    const call = await session.mailbox.call({
      method,
      args,
      ...target,
      timeoutMs,
      isComplete: completionOf(target.destination, roster),
      signal: this.interrupt.signal,
    })
    return summarize(method, call, target.destination, roster)
  }

  /** The exact request, printed instead of sent (contract §6). */
  protected async dryRun(opts: SessionOptions, method: string, args: Record<string, unknown>, target: Target, wantsReply: boolean, timeoutMs = 1000) {
    const address = await requestAddress(opts)
    const body = buildRequest({method, args, ...target, controlExchange: opts.namespace.controlExchange, replyRoutingKey: wantsReply ? '<reply routing key>' : undefined})
    const message = encodeRequest(body, timeoutMs / 1000)
    const dry = {dryRun: true, broker: opts.url.masked, address, headers: message.headers, properties: {contentType: message.contentType, contentEncoding: message.contentEncoding, deliveryMode: message.deliveryMode}, body}
    if (!this.jsonEnabled()) {
      this.log('dry run: nothing was sent')
      this.log(`broker:  ${dry.broker}`)
      this.log(`to:      ${address}`)
      this.log(`headers: ${JSON.stringify(message.headers)}`)
      this.log(`body:    ${JSON.stringify(body, null, 2).replace(/\n/g, '\n         ')}`)
    }
    return dry
  }

  /**
   * The whole life of a request command: validate the target, then print the request (--dry-run),
   * or confirm if destructive (contract §6), send, collect and report. Arguments are validated by
   * the caller before this, so a bad one has published nothing.
   */
  protected async perform(
    flags: TargetFlags & OutputFlags & {'dry-run'?: boolean; yes?: boolean},
    method: string,
    args: Record<string, unknown>,
    show?: Show,
    question?: (target: Target) => string,
  ): Promise<FleetResult | object> {
    const opts = this.sessionOptions(flags)
    const target = this.target(flags)
    if (flags['dry-run']) return this.dryRun(opts, method, args, target, true, this.timeoutMs(flags))
    if (isDestructive(method, args, target)) {
      const ask = question ? question(target) : `Send "${method}" to ${whom(target)}`
      await this.confirm(`${ask} on ${opts.url.masked}?`, flags.yes ?? false)
    }
    const {result, address} = await this.collect(opts, flags, method, args)
    return this.report(result, address, flags, show)
  }

  /** Asks before a destructive action; refuses without a terminal unless --yes (contract §6). */
  protected async confirm(question: string, yes: boolean): Promise<void> {
    if (yes) return
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new UsageError(`${question.replace(/\?$/, '')}: refused without a terminal to confirm on; pass --yes to proceed`)
    }
    const {default: inquirer} = await import('inquirer')
    const prompt = inquirer.createPromptModule({output: process.stderr, signal: this.interrupt.signal})
    let ok = false
    try {
      ;({ok} = await prompt<{ok: boolean}>([{type: 'confirm', name: 'ok', message: question, default: false}]))
    } catch (error) {
      // Ctrl-C at the prompt (ExitPromptError), or SIGINT/SIGTERM from outside (AbortPromptError).
      if ((error as Error).name === 'ExitPromptError') throw new InterruptedError('SIGINT')
      if ((error as Error).name === 'AbortPromptError') throw new InterruptedError(String(this.interrupt.signal.reason))
      throw error
    }
    if (!ok) throw new UsageError('not confirmed: nothing was sent')
  }

  protected view(flags: OutputFlags): View {
    const color = Boolean(process.stdout.isTTY) && !flags['no-color'] && !('NO_COLOR' in process.env)
    return {color, columns: process.stdout.columns || Number(process.env.COLUMNS) || 120}
  }

  /** The table of an inspect method (render/inspect.ts), loaded only when a table is printed. */
  protected inspectTable(ids?: string[]): Show {
    return async (result, view) => (await import('./render/inspect.js')).inspectView(result, view, {now: Date.now(), ids})
  }

  protected async render(): Promise<typeof import('./render/text.js')> {
    return import('./render/text.js')
  }

  /** Prints the reply table and summary (or nothing under --json) and sets the exit code. */
  protected async report(result: FleetResult, address: string, flags: OutputFlags, show: Show = 'replies'): Promise<FleetResult> {
    process.exitCode = exitCodeOf(result)
    if (this.jsonEnabled()) return result
    const r = await this.render()
    const view = this.view(flags)
    const body = show === 'status' ? r.statusTable(result, view) : show === 'replies' ? r.repliesTable(result, view) : await show(result, view)
    // An interrupt while the table was being built is honoured before it is printed.
    if (this.interrupt.signal.aborted) throw new InterruptedError(String(this.interrupt.signal.reason))
    if (body) this.log(body)
    this.log(show === 'status' ? r.statusLine(result) : r.summaryLine(result))
    for (const u of result.undecodable) this.notice(`warning: ${u.node === undefined ? '' : `${u.node}: `}${u.reason}`)
    const hint = r.silenceHint(result, address)
    if (hint) this.notice(`hint: ${hint}`)
    return result
  }

  /** Who asked, for the reason workers log with a shutdown. */
  protected operator(): string {
    let user = 'unknown'
    try {
      user = userInfo().username
    } catch {
      // No passwd entry for this uid (a container): the host still says where it came from.
    }
    return `${user}@${hostname()}`
  }

  override async finally(error: Error | undefined): Promise<void> {
    try {
      if (this.session) await this.session.close()
      else if (this.transport) await this.transport.close()
    } catch (cleanupError) {
      if (process.env.DEBUG?.includes('wfctl')) process.stderr.write(`cleanup: ${debugTrace(cleanupError as Error)}\n`)
      this.notice(`warning: cleanup failed: ${(cleanupError as Error).message}`)
      // Nobody answered, and then the broker could not be reached to clean up: the broker failed.
      if (cleanupError instanceof CleanupError && cleanupError.unreachable && process.exitCode === ExitCode.noReply) {
        process.exitCode = ExitCode.unreachable
      }
    } finally {
      process.off('SIGINT', this.onSignal)
      process.off('SIGTERM', this.onSignal)
      process.off('SIGHUP', this.onSignal)
    }
    await super.finally(error)
    // Interrupted: what wfctl created is gone now; a client library still handshaking (amqplib
    // waits out its socket timeout) must not hold the exit back.
    if (this.interrupt.signal.aborted) process.exit(ExitCode.interrupted)
  }

  /** One or two lines on stderr (or the JSON error object), with the exit code of the contract. */
  override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    const {code, message} = errorReport(error)
    if (process.env.DEBUG?.includes('wfctl')) process.stderr.write(`${debugTrace(error)}\n`)
    process.exitCode = code
    if (this.jsonEnabled()) {
      this.logJson({error: {message, code}})
    } else if (code !== 0) {
      this.logToStderr(`Error: ${message}`)
    }
  }
}
