import {Command, Flags, type Interfaces} from '@oclif/core'
import {hostname, userInfo} from 'node:os'
import {format} from 'node:util'

import type {Transport} from './wire/transport.js'
import type {TlsFiles} from './broker/tls.js'
import {CleanupError} from './wire/transport.js'
import {maskArgv, maskSecrets, maskUrl, parseBrokerUrls, sentinelMasterProblem} from './broker/url.js'
import {ExitCode, InterruptedError, UsageError, WfctlError} from './errors.js'
import {safeJson, safeLine} from './render/safe.js'
import {durationMs} from './fleet/arguments.js'
import {appendAudit, auditNodes, isChange, maskStrings, type AuditNode, type AuditRecord} from './fleet/audit.js'
import type {DrainResult} from './fleet/drain.js'
import {exitCodeOf, type FleetResult} from './fleet/outcome.js'
import {isDestructive, whom} from './fleet/methods.js'
import {dryRun, FleetOperation, perform, planRequest, type Addressed, type DryRun, type Plan, type RequestPlan, type ShutdownPlan} from './fleet/operation.js'
import {assumedNotice, checkRoster, readDestinations, readExpect, type Assumed, type Roster} from './fleet/roster.js'
import {brokerName, type Answered, type SessionOptions} from './fleet/session.js'
import {contextList, fromSetting, givenByOperator, namesSeveral, resolvedSecrets, resolveSettings, settingName, type SettingFlags, type Settings} from './fleet/settings.js'
import type {ShutdownResult} from './fleet/shutdown.js'
import type {Target} from './protocol/request.js'
import type {View} from './render/text.js'

type BrokerFlags = {broker?: string; context?: string; 'control-exchange'?: string; 'redis-key-prefix'?: string; 'connect-timeout'?: string; 'tls-ca'?: string; 'tls-cert'?: string; 'tls-key'?: string; 'sentinel-master'?: string}
type TargetFlags = {destination?: string[]; pattern?: string; matcher: 'glob' | 'pcre'; expect?: string; timeout: string}
type OutputFlags = {'no-color'?: boolean}
/** What the audit log records of a change, known once it is about to be sent. */
export type AuditStart = {method: string; args: Record<string, unknown>; target: Addressed; broker: string}
/** How a reply is shown: the generic reply table, the status table, or a method's own view. */
export type Show = 'replies' | 'status' | ((result: FleetResult, view: View) => string | Promise<string>)

const BROKER_ENV = ['WFCTL_BROKER_URL', 'CELERY_BROKER_URL', 'AIRFLOW__CELERY__BROKER_URL']
const NAME = /^[A-Za-z0-9_.:-]+$/
/** The read-only commands that `--context a,b` (or `all`) runs against each context in turn. */
const SEVERAL_CONTEXTS = /^(?:status|check|queues|control:ping|inspect:.+)$/
/** Exit codes from the least to the most severe: a run across contexts exits with the worst. */
const SEVERITY = [ExitCode.ok, ExitCode.partial, ExitCode.noReply, ExitCode.unreachable, ExitCode.usage, ExitCode.software, ExitCode.interrupted] as number[]

/** The worse of two exit codes (an unknown code counts as the worst). */
function worseExit(a: number, b: number): number {
  const rank = (c: number) => (SEVERITY.includes(c) ? SEVERITY.indexOf(c) : SEVERITY.length)
  return rank(b) > rank(a) ? b : a
}

/** The value of --context in an argv (before `--`), and the argv without it. */
function splitContextArg(argv: string[]): {value?: string; rest: string[]} {
  const rest: string[] = []
  let value: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      rest.push(...argv.slice(i))
      break
    }
    if (arg === '--context') {
      value = argv[++i]
    } else if (arg.startsWith('--context=')) {
      value = arg.slice('--context='.length)
    } else rest.push(arg)
  }
  return {value, rest}
}

/** Where the output of one context's run goes when a command runs across contexts. */
interface ContextCapture {
  /** The context's name, padded: the label of each of its lines. */
  label: string
  /** Its stdout text, line by line (printed labelled as it comes, or kept for one JSON document). */
  text: string[]
  json?: unknown
  print: boolean
}

/**
 * Hides every broker password in a text that may echo what the operator typed (oclif's parse
 * errors quote arguments) or what a client library said: each broker URL given on the command line
 * or in the environment is replaced by its masked form, and anything URL-like is masked too.
 */
export function redact(text: string, argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): string {
  let out = text
  // Broker URLs and passwords that came from a command's output, a context file or airflow.cfg.
  const secrets = resolvedSecrets()
  for (const raw of secrets.urls) out = out.split(raw).join(maskUrl(raw))
  for (const word of secrets.words) out = maskSecrets(out, word)
  const given = [...argv, ...BROKER_ENV.map((k) => env[k]).filter((v): v is string => Boolean(v))]
  const masked = maskArgv(given)
  given.forEach((raw, i) => {
    if (masked[i] !== raw && raw.length > 0) out = out.split(raw).join(masked[i])
  })
  return maskSecrets(out)
}

/** An error as wfctl reports it: one line, and its exit code. Never a password, never an escape sequence. */
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

/** The TLS files in effect, each with where it was given (for the message when one cannot be read). */
function tlsFiles(s: Settings): TlsFiles | undefined {
  if (!s.tlsCa.value && !s.tlsCert.value && !s.tlsKey.value) return undefined
  return {
    ca: s.tlsCa.value,
    cert: s.tlsCert.value,
    key: s.tlsKey.value,
    origin: {ca: settingName(s.tlsCa, '--tls-ca', 'tls.ca'), cert: settingName(s.tlsCert, '--tls-cert', 'tls.cert'), key: settingName(s.tlsKey, '--tls-key', 'tls.key')},
  }
}

/**
 * Owns what every command that talks to the broker shares: the broker, namespace and output flags,
 * turning flags into a plan (src/fleet/operation.ts runs it), the confirmation, the connection's
 * life and its cleanup on every exit path, interrupts, the report and the exit code.
 */
export abstract class FleetCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    broker: Flags.string({
      char: 'b',
      summary: 'Broker URL: redis://, rediss://, sentinel://, amqp://, amqps:// or pyamqp://; a ";" list fails over.',
      description: 'Defaults to --context, else $WFCTL_BROKER_URL, $CELERY_BROKER_URL, $AIRFLOW__CELERY__BROKER_URL, $AIRFLOW__CELERY__BROKER_URL_CMD, else the current context, else airflow.cfg, else redis://localhost:6379/0: `wfctl context show` tells which.',
      helpGroup: 'BROKER',
    }),
    context: Flags.string({
      summary: 'Named context of the context file (`wfctl context list`); also: $WFCTL_CONTEXT.',
      description: 'NAME,NAME or all runs a read-only command (status, control ping, inspect ..., queues, check) against each in turn, every line labelled with its context.',
      helpGroup: 'BROKER',
    }),
    // No oclif defaults: a flag is there when given, and outranks the context and airflow.cfg.
    'control-exchange': Flags.string({summary: "Celery's control_exchange setting [default: celery].", helpGroup: 'BROKER'}),
    'redis-key-prefix': Flags.string({summary: "kombu's global_keyprefix transport option (Redis) [default: none].", helpGroup: 'BROKER'}),
    'connect-timeout': Flags.string({summary: 'Seconds to wait for the broker before giving up (exit 3) [default: 3].', helpGroup: 'BROKER'}),
    'tls-ca': Flags.string({summary: 'CA certificate file (PEM) to check the broker against (rediss://, amqps://).', helpGroup: 'BROKER'}),
    'tls-cert': Flags.string({summary: 'Client certificate file (PEM), for a broker that asks for one.', helpGroup: 'BROKER'}),
    'tls-key': Flags.string({summary: "The client certificate's private key file (PEM).", helpGroup: 'BROKER'}),
    'sentinel-master': Flags.string({summary: 'Redis Sentinel: the name of the master (kombu\'s master_name).', helpGroup: 'BROKER'}),
    'no-color': Flags.boolean({summary: 'Never colour the output (also: NO_COLOR).', helpGroup: 'OUTPUT'}),
  }

  /** Target flags, for the commands that address workers. */
  static targetFlags = {
    destination: Flags.string({char: 'd', summary: 'Node name to address; repeatable, comma-separated lists too. A name without @ means celery@NAME.', multiple: true, helpGroup: 'TARGET'}),
    pattern: Flags.string({summary: 'Address the nodes whose name matches, filtered by the workers (Celery 4.4+).', helpGroup: 'TARGET'}),
    matcher: Flags.option({summary: 'How --pattern matches node names.', options: ['glob', 'pcre'] as const, default: 'glob' as const, helpGroup: 'TARGET'})(),
    expect: Flags.string({summary: 'The roster expected to answer: a count, names (a@h,b@h; airhost means celery@airhost) or @FILE.', helpGroup: 'TARGET'}),
    timeout: Flags.string({char: 't', summary: 'Seconds to wait for replies after publishing (a deadline).', default: '1', helpGroup: 'TARGET'}),
  }

  /** For every command that sends: print the request instead. */
  static dryRunFlags = {
    'dry-run': Flags.boolean({summary: 'Print the exact request and send nothing.'}),
  }

  /** For every command that changes workers: why, written to the audit log. */
  static reasonFlags = {
    reason: Flags.string({summary: 'Why: recorded in the audit log (see README, Audit log).'}),
  }

  /** For the commands that can be destructive. */
  static confirmFlags = {
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation of a destructive action.'}),
  }

  protected readonly interrupt = new AbortController()
  /** The change this command is sending, for the audit log; written once, in finally(). */
  private audit?: {start: AuditStart; nodes?: {nodes: Record<string, AuditNode>; undecodable?: number}; error?: string}
  /** --reason as given, for the audit log. */
  private reasonGiven?: string
  private operation?: FleetOperation
  private transport?: Transport
  /** The broker that answered, once connected. */
  private answered?: Answered
  /** Every broker setting and where it came from, resolved when the flags were parsed. */
  private resolved?: Settings
  /** This run is one context's of a command run across several: its output goes there. */
  private capture?: ContextCapture
  /** This run hands the work to one run per context. */
  private acrossContexts = false
  /** Whether parse() resolves the broker settings (not for the commands that only edit the context file). */
  static resolvesBroker = true
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.interrupt.signal.aborted) {
      // A second SIGINT or SIGTERM is someone insisting: exit at once. A closing terminal sends
      // SIGHUP more than once (to the process group, then as the terminal goes): no reason to skip the cleanup.
      if (signal !== 'SIGHUP') process.exit(ExitCode.interrupted)
      return
    }
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

  /** Parses as oclif does, keeping --reason (every command that changes workers takes it) for the audit log. */
  protected override async parse<F extends {[name: string]: any}, B extends {[name: string]: any}, A extends {[name: string]: any}>(options?: Interfaces.Input<F, B, A>, argv?: string[]): Promise<Interfaces.ParserOutput<F, B, A>> {
    const out = await super.parse(options, argv)
    const reason = (out.flags as Record<string, unknown>).reason
    if (typeof reason === 'string') this.reasonGiven = reason
    // Resolved once, here where it may wait (a *_CMD runs, a context file is read), so that
    // sessionOptions() stays synchronous; nothing is read that a higher source made moot.
    if ((this.constructor as typeof FleetCommand).resolvesBroker && !this.acrossContexts) {
      this.resolved = await resolveSettings({flags: out.flags as SettingFlags, env: process.env})
    }
    return out
  }

  /** Every broker setting and where it came from (`wfctl context show`, `wfctl doctor`). */
  protected brokerSettings(): Settings {
    if (!this.resolved) throw new Error('the broker settings were asked for before the flags were parsed')
    return this.resolved
  }

  /**
   * `--context a,b` (or `all`) on a read-only command: the command runs once per context, in turn,
   * each run a command of its own (its own connection, cleanup and exit code) whose every line is
   * labelled with its context; --json gives {"contexts": {NAME: that run's JSON}}. Exits with the
   * worst exit code of the runs.
   */
  protected override async _run<T>(): Promise<T> {
    if (this.capture || !namesSeveral(splitContextArg(this.argv).value)) return super._run<T>()
    this.acrossContexts = true
    ;(this as unknown as {run: () => Promise<unknown>}).run = () => this.runAcrossContexts()
    return super._run<T>()
  }

  private async runAcrossContexts(): Promise<unknown> {
    let flags: Record<string, unknown>
    let names: string[]
    try {
      ;({flags} = await this.parse(this.ctor))
      const id = this.id ?? ''
      if (!SEVERAL_CONTEXTS.test(id)) {
        throw new UsageError(`several contexts (--context ${flags.context}) are for read-only commands only (status, control ping, inspect ..., queues, check): give \`wfctl ${id.replace(/:/g, ' ')}\` one context`)
      }
      if (flags.format === 'nagios' || flags.format === 'prometheus' || flags.textfile !== undefined) {
        throw new UsageError('check --format nagios or prometheus, and --textfile, speak for one fleet: run one check per context')
      }
      names = await contextList(String(flags.context), process.env)
    } catch (error) {
      // A check that was misused is UNKNOWN (exit 3), across contexts as on one.
      if (this.id === 'check' && !(error instanceof InterruptedError)) throw new WfctlError(errorReport(error as Error).message, ExitCode.unreachable)
      throw error
    }
    // check --format json prints its JSON as text: the runs' documents are gathered into one.
    const gather = this.jsonEnabled() || flags.format === 'json'
    const width = Math.max(...names.map((n) => n.length))
    const {rest} = splitContextArg(this.argv)
    const Ctor = this.ctor as unknown as new (argv: string[], config: Interfaces.Config) => FleetCommand
    const contexts: Record<string, unknown> = {}
    let worst: number = ExitCode.ok
    for (const name of names) {
      if (this.interrupt.signal.aborted) throw new InterruptedError(String(this.interrupt.signal.reason))
      const run = new Ctor(['--context', name, ...rest], this.config)
      run.capture = {label: name.padEnd(width), text: [], print: !gather}
      process.exitCode = undefined
      await run._run()
      worst = worseExit(worst, Number(process.exitCode ?? ExitCode.ok))
      if (gather) contexts[name] = run.capture.json ?? parsedOrText(run.capture.text.join('\n'))
    }
    this.setExitCode(worst)
    if (!gather) return undefined
    if (!this.jsonEnabled()) this.log(safeJson({contexts}, 2))
    return {contexts}
  }

  /** A line of this run's output: labelled with its context when the command runs across contexts. */
  private labelled(text: string): string {
    if (!this.capture) return text
    const label = this.capture.label
    return text
      .split('\n')
      .map((line) => (line === '' ? line : `${label}  ${line}`))
      .join('\n')
  }

  override log(message = '', ...args: unknown[]): void {
    if (!this.capture) return super.log(message, ...args)
    if (this.jsonEnabled()) return
    const text = format(message, ...args)
    this.capture.text.push(text)
    if (this.capture.print) process.stdout.write(`${this.labelled(text)}\n`)
  }

  override logToStderr(message = '', ...args: unknown[]): void {
    if (!this.capture) return super.logToStderr(message, ...args)
    if (!this.jsonEnabled()) process.stderr.write(`${this.labelled(format(message, ...args))}\n`)
  }

  /** The exit code: set here and nowhere else, from a result, a health verdict or an error. */
  protected setExitCode(code: number): void {
    process.exitCode = code
  }

  // The flags were resolved with every other source when they were parsed (brokerSettings()).
  protected sessionOptions(_flags: BrokerFlags, s: Settings = this.brokerSettings()): SessionOptions {
    // A failover list (`url;url`) is tried in order when connecting; a list of sentinels is one broker.
    const urls = fromSetting(s.broker, parseBrokerUrls)
    const url = urls[0]
    // Airflow's master_name and global_keyprefix are ignored by kombu where they do not apply; the operator's own are refused there.
    const sentinelMaster = url.sentinels || givenByOperator(s.sentinelMaster) ? s.sentinelMaster.value : undefined
    const sentinelProblem = sentinelMasterProblem(url, sentinelMaster)
    if (sentinelProblem) throw new UsageError(sentinelProblem)
    if (sentinelMaster !== undefined && !url.sentinels) throw new UsageError(`${settingName(s.sentinelMaster, '--sentinel-master', 'sentinelMaster')} applies to sentinel:// broker URLs only`)
    if (url.sentinels && (url.tls || url.ssl || s.tlsCa.value || s.tlsCert.value || s.tlsKey.value)) {
      throw new UsageError('TLS through Redis Sentinel is not supported yet: connect to the master with rediss:// instead')
    }
    const controlExchange = s.controlExchange.value
    if (!NAME.test(controlExchange)) throw new UsageError(`invalid ${settingName(s.controlExchange, '--control-exchange', 'controlExchange')} "${controlExchange}"`)
    if (s.redisKeyPrefix.value && url.kind !== 'redis' && givenByOperator(s.redisKeyPrefix)) throw new UsageError(`${settingName(s.redisKeyPrefix, '--redis-key-prefix', 'redisKeyPrefix')} applies to Redis brokers only`)
    return {
      url,
      namespace: {controlExchange, redisKeyPrefix: url.kind === 'redis' ? s.redisKeyPrefix.value : ''},
      connectTimeoutMs: durationMs(s.connectTimeout.value, settingName(s.connectTimeout, '--connect-timeout', 'connectTimeout')),
      tls: tlsFiles(s),
      sentinelMaster,
      sentinelPassword: s.sentinelPassword.value || undefined,
      ...(urls.length > 1 ? {urls} : {}),
      onConnected: (answered) => this.brokerAnswered(answered),
    }
  }

  /** The nodes the flags address; the pattern itself is checked when the plan is made. */
  protected target(flags: {destination?: string[]; pattern?: string; matcher?: 'glob' | 'pcre'}): Addressed {
    const {names: destination, assumed} = readDestinations(flags.destination)
    if (flags.pattern !== undefined && destination.length > 0) throw new UsageError('use either --destination or --pattern, not both')
    if (flags.pattern === '') throw new UsageError('--pattern must not be empty')
    this.sayAssumed('-d', assumed)
    return {destination, pattern: flags.pattern, matcher: flags.pattern ? flags.matcher ?? 'glob' : undefined}
  }

  /**
   * The target of a command that may never reach every worker by accident (shutdown, drain): -d or
   * --pattern, or --all said out loud, never both.
   */
  protected explicitTarget(flags: {destination?: string[]; pattern?: string; matcher?: 'glob' | 'pcre'; all?: boolean}, verb: string): Addressed {
    const target = this.target(flags)
    const addressed = target.destination.length > 0 || target.pattern !== undefined
    if (!addressed && !flags.all) throw new UsageError(`${verb} would reach every worker: pass --all, or address nodes with -d or --pattern`)
    if (addressed && flags.all) throw new UsageError('--all cannot be combined with -d or --pattern')
    return target
  }

  /** Names given without @ already said to be taken as celery@NAME: each is said once a run. */
  private readonly assumedSaid = new Set<string>()

  /** Says on stderr, once, which names were taken as celery@NAME. */
  private sayAssumed(source: string, assumed: Assumed[]): void {
    const fresh = assumed.filter((a) => !this.assumedSaid.has(a.given))
    for (const a of fresh) this.assumedSaid.add(a.given)
    const line = assumedNotice(source, fresh)
    if (line) this.notice(line)
  }

  /** --expect as a roster; names without @ are celery@NAME, said once. */
  protected expectedRoster(expect: string | undefined): Roster | undefined {
    const {roster, assumed, source} = readExpect(expect)
    this.sayAssumed(source, assumed)
    return roster
  }

  protected timeoutMs(flags: {timeout: string}): number {
    return durationMs(flags.timeout, '--timeout')
  }

  /** Flags to a checked plan, once: a plan that would harm workers is refused here, before connecting. */
  protected plan(flags: BrokerFlags & TargetFlags, method: string, args: Record<string, unknown> = {}): RequestPlan {
    const plan = planRequest({
      session: this.sessionOptions(flags),
      method,
      args,
      target: this.target(flags),
      roster: this.expectedRoster(flags.expect),
      timeoutMs: this.timeoutMs(flags),
    })
    // A roster the request can never satisfy (--expect 2 -d w1) is misuse, refused before sending.
    checkRoster(plan.target, plan.roster)
    return plan
  }

  /** Runs a plan: connect, send, collect, clean up the broker, and tell what could not be cleaned up. */
  protected async send(plan: RequestPlan): Promise<{result: FleetResult; address: string}>
  protected async send(plan: ShutdownPlan): Promise<{result: ShutdownResult; address: string}>
  protected async send(plan: Plan): Promise<{result: FleetResult | ShutdownResult; address: string}> {
    const method = plan.kind === 'request' ? plan.method : 'shutdown'
    if (isChange(method)) this.auditBegin({method, args: plan.kind === 'request' ? plan.args : {msg: plan.reason}, target: plan.target, broker: plan.session.url.masked})
    const operation = await this.open(plan.session)
    const done = plan.kind === 'request' ? await perform(plan, operation) : await perform(plan, operation)
    if (done.cleanup) this.notice(`warning: ${done.cleanup.message}`)
    return done
  }

  /** Connects; the connection is the command's until finally(), which closes it on every exit path. */
  protected async open(opts: SessionOptions): Promise<FleetOperation> {
    this.operation = await FleetOperation.open(opts, this.interrupt.signal, (transport) => (this.transport = transport))
    return this.operation
  }

  /** Of a failover list, the broker that answered: said once on stderr, and in the JSON result (`failover`). */
  protected brokerAnswered(answered: Answered): void {
    if (answered.of < 2 || this.answered?.url === answered.url) {
      this.answered = answered
      return
    }
    this.answered = answered
    const nth = answered.position === 1 ? '1st' : answered.position === 2 ? '2nd' : answered.position === 3 ? '3rd' : `${answered.position}th`
    this.notice(`using ${answered.url.masked} (${nth} of ${answered.of}${answered.failed.length > 0 ? `; ${answered.failed.join('; ')}` : ''})`)
  }

  /** Under --json, a run on a failover list says which broker answered, next to the result. */
  protected override toSuccessJson(result: unknown): unknown {
    const a = this.answered
    if (!a || a.of < 2 || result === null || typeof result !== 'object' || Array.isArray(result)) return result
    return {...result, failover: {broker: a.url.masked, position: a.position, of: a.of, failed: a.failed}}
  }

  /** A line on stderr, also under --json (stdout carries only the result), made safe for a terminal. */
  protected notice(line: string): void {
    process.stderr.write(`${this.labelled(safeLine(redact(line)))}\n`)
  }

  /** The one JSON object on stdout, with every character a terminal could act on escaped. */
  override logJson(json: unknown): void {
    if (this.capture) {
      this.capture.json = json
      return
    }
    process.stdout.write(`${safeJson(json, 2)}\n`)
  }

  /** The exact request, printed instead of sent. */
  protected async dryRun(plan: Plan): Promise<DryRun> {
    const dry = await dryRun(plan)
    if (!this.jsonEnabled()) {
      this.log('dry run: nothing was sent')
      this.log(`broker:  ${dry.broker}`)
      this.log(`to:      ${dry.address}`)
      this.log(`headers: ${JSON.stringify(dry.headers)}`)
      this.log(`body:    ${JSON.stringify(dry.body, null, 2).replace(/\n/g, '\n         ')}`)
    }
    return dry
  }

  /**
   * The whole life of a request command: plan it from the flags, then print it (--dry-run), or
   * confirm it if destructive, send, collect and report. Arguments are validated by the caller
   * before this, so a bad one has published nothing.
   */
  protected async perform(
    flags: BrokerFlags & TargetFlags & OutputFlags & {'dry-run'?: boolean; yes?: boolean},
    method: string,
    args: Record<string, unknown> = {},
    show?: Show,
    question?: (target: Target) => string,
  ): Promise<FleetResult | DryRun> {
    const plan = this.plan(flags, method, args)
    if (flags['dry-run']) return this.dryRun(plan)
    if (isDestructive(method, args, plan.target)) {
      const ask = question ? question(plan.target) : `Send "${method}" to ${whom(plan.target)}`
      await this.confirm(`${ask} on ${brokerName(plan.session)}?`, flags.yes ?? false)
    }
    const {result, address} = await this.send(plan)
    return this.report(result, address, flags, show)
  }

  /** Asks before a destructive action; refuses without a terminal unless --yes. */
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
    this.setExitCode(exitCodeOf(result))
    this.auditResult(result)
    if (this.jsonEnabled()) return result
    const r = await this.render()
    const view = this.view(flags)
    const body = show === 'status' ? r.statusTable(result, view) : show === 'replies' ? r.repliesTable(result, view) : await show(result, view)
    this.honourInterrupt()
    if (body) this.log(body)
    this.log(show === 'status' ? r.statusLine(result) : r.summaryLine(result))
    for (const u of result.undecodable) this.notice(`warning: ${u.node === undefined ? '' : `${u.node}: `}${u.reason}`)
    const hint = r.silenceHint(result, address)
    if (hint) this.notice(`hint: ${hint}`)
    return result
  }

  /** Prints what a shutdown saw (or nothing under --json) and sets the exit code. */
  protected async reportShutdown(result: ShutdownResult, flags: OutputFlags): Promise<ShutdownResult> {
    this.setExitCode(exitCodeOf(result))
    this.auditResult(result)
    if (this.jsonEnabled()) return result
    const r = await this.render()
    const table = r.shutdownTable(result, this.view(flags))
    this.honourInterrupt()
    if (table) this.log(table)
    this.log(r.shutdownLine(result))
    if (result.stopping.length > 0) {
      this.notice('note: a worker stops answering as soon as its warm shutdown begins; a stopping node\'s process exits only when its running tasks end')
      if (!result.taskEvents) this.notice('hint: no task events can reach wfctl on this broker (no event exchange): start the workers with -E to let wfctl see their tasks end')
      else if (result.taskEventsNotHeard.length > 0) this.notice(`hint: no task event heard from ${result.taskEventsNotHeard.join(', ')} within --wait: its tasks still run, or its task events are off (start workers with -E, or run \`wfctl control enable-events\` before the shutdown, so wfctl can see their tasks end)`)
    }
    return result
  }

  /** An interrupt while a table was being built is honoured before it is printed. */
  private honourInterrupt(): void {
    if (this.interrupt.signal.aborted) throw new InterruptedError(String(this.interrupt.signal.reason))
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

  /**
   * A change is about to be sent: it will be written to the audit log in finally(), with the
   * outcome and the exit code. Called by send() for every method that is not a read; commands
   * that drive the fleet themselves (drain) call it before they connect. The first call counts.
   */
  protected auditBegin(start: AuditStart): void {
    this.audit ??= {start}
  }

  /** Each node's outcome of the change being audited. */
  protected auditResult(result: FleetResult | ShutdownResult | DrainResult): void {
    if (this.audit) this.audit.nodes = auditNodes(result)
  }

  /**
   * An action of an interactive session, written at once (a session runs many): its outcome, or why
   * it failed; `reason` as typed for it; `via` the screen it came from (the explorer's menu, or top).
   */
  protected auditAction(start: AuditStart, outcome: {result: FleetResult | ShutdownResult} | {result: DrainResult; exitCode: number} | {error: Error}, reason?: string, via: Exclude<AuditRecord['via'], 'command'> = 'explorer'): void {
    // A drain (from top) brings its own exit code: the one `control drain` would have had.
    if ('result' in outcome) this.writeAudit(start, auditNodes(outcome.result), 'exitCode' in outcome ? outcome.exitCode : exitCodeOf(outcome.result), undefined, via, reason)
    else this.writeAudit(start, undefined, errorReport(outcome.error).code, errorReport(outcome.error).message, via, reason)
  }

  /** One line in the audit log, every string masked; a log that cannot be written is one warning, never a failure. */
  private writeAudit(start: AuditStart, nodes: {nodes: Record<string, AuditNode>; undecodable?: number} | undefined, exitCode: number, error: string | undefined, via: AuditRecord['via'], reason = this.reasonGiven): void {
    const mask = (s: string) => redact(s)
    const {destination, pattern, matcher} = start.target
    const record: AuditRecord = {
      time: new Date().toISOString(),
      user: this.operator(),
      command: maskArgv(['wfctl', ...(this.id ? this.id.split(':') : []), ...this.argv]).map(mask),
      broker: mask(this.answered && this.answered.of > 1 ? this.answered.url.masked : start.broker),
      via,
      target: {destination: destination.map(mask), pattern: pattern === undefined ? null : mask(pattern), matcher: pattern === undefined ? null : matcher ?? 'glob'},
      method: start.method,
      args: maskStrings(start.args, mask),
      nodes: maskStrings(nodes?.nodes ?? {}, mask),
      ...(nodes?.undecodable ? {undecodable: nodes.undecodable} : {}),
      exitCode,
      reason: reason === undefined ? null : mask(reason),
      ...(error === undefined ? {} : {error: mask(error)}),
    }
    try {
      appendAudit(record)
    } catch (problem) {
      this.notice(`warning: the audit log was not written (${(problem as Error).message}); set WFCTL_AUDIT_LOG=PATH to move it, or =off`)
    }
  }

  override async finally(error: Error | undefined): Promise<void> {
    try {
      const operation = this.operation
      this.operation = undefined
      const problem = operation ? await operation.close() : undefined
      if (problem) throw problem
      if (this.transport) await this.transport.close()
    } catch (cleanupError) {
      if (process.env.DEBUG?.includes('wfctl')) process.stderr.write(`cleanup: ${debugTrace(cleanupError as Error)}\n`)
      this.notice(`warning: cleanup failed: ${(cleanupError as Error).message}`)
      // Nobody answered, and then the broker could not be reached to clean up: the broker failed.
      if (cleanupError instanceof CleanupError && cleanupError.unreachable && process.exitCode === ExitCode.noReply) {
        this.setExitCode(ExitCode.unreachable)
      }
    } finally {
      // Interrupted: the listeners stay until the exit below, so that one more SIGHUP (a closing
      // terminal sends several) cannot kill the process by its signal after the cleanup, and the
      // exit code stays 130.
      if (!this.interrupt.signal.aborted) {
        process.off('SIGINT', this.onSignal)
        process.off('SIGTERM', this.onSignal)
        process.off('SIGHUP', this.onSignal)
      }
    }
    // Here the exit code is final (cleanup can still change it): the change goes to the audit log.
    if (this.audit) this.writeAudit(this.audit.start, this.audit.nodes, Number(process.exitCode ?? 0), this.audit.error, 'command')
    this.audit = undefined
    await super.finally(error)
    // Interrupted: what wfctl created is gone now; a client library still handshaking (amqplib
    // waits out its socket timeout) must not hold the exit back.
    if (this.interrupt.signal.aborted) process.exit(ExitCode.interrupted)
  }

  /** One or two lines on stderr (or the JSON error object), with the error's exit code. */
  override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    const {code, message} = errorReport(error)
    if (process.env.DEBUG?.includes('wfctl')) process.stderr.write(`${debugTrace(error)}\n`)
    this.setExitCode(code)
    if (this.audit) this.audit.error = message
    if (this.jsonEnabled()) {
      this.logJson({error: {message, code}})
    } else if (code !== 0) {
      this.logToStderr(`Error: ${message}`)
    }
  }
}

/** A run's text output as JSON when it is one JSON document (check --format json), else the text. */
function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
