import {cpus} from 'node:os'

import type {Namespace} from '../wire/transport.js'
import type {BrokerUrl} from '../broker/url.js'
import {DEFAULT_SOFTWARE, utcoffset, type Software, type WorkerEvent, type WorkerEventType} from '../wire/events.js'
import {bindArguments, errorRepr, PyException, pyRepr, pyTypeName, truthy} from './python.js'
import {BUILTIN_TASKS, describeQueue, processSample, WorkerState} from './state.js'
import {BUILTIN_HANDLERS, WorkerShutdown, type ControlHandler, type HandlerContext, type HandlerDefinition, type WorkerProfile} from './control.js'

export type {ControlHandler, HandlerContext, HandlerDefinition, WorkerProfile} from './control.js'

export interface ProfileOptions {
  broker: BrokerUrl
  namespace: Namespace & {eventExchange?: string}
  /** Task queues the workers report consuming (`-Q`); default `celery`. */
  queues?: string[]
  /** Task names the workers report registered; rate_limit/time_limit accept only these. */
  tasks?: string[]
  /** Pool size (`-c`); default the number of CPUs, as Celery's. */
  concurrency?: number
  /** `--autoscale=max,min`: enables the autoscale command; pool_grow/pool_shrink then refuse. */
  autoscale?: {max: number; min: number}
  /** Like `-E`: task events on from the start. */
  taskEvents?: boolean
  heartbeatSeconds?: number
  software?: Software
  /** Extra or replacement commands, by method name. A bare function accepts any arguments. */
  handlers?: Record<string, ControlHandler | HandlerDefinition>
}

export function workerProfile(opts: ProfileOptions): WorkerProfile {
  const handlers = new Map(BUILTIN_HANDLERS)
  for (const [name, handler] of Object.entries(opts.handlers ?? {})) {
    handlers.set(name, typeof handler === 'function' ? {signature: {kwargs: true}, run: handler} : handler)
  }
  const concurrency = opts.concurrency ?? Math.max(1, cpus().length)
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`)
  const heartbeatSeconds = opts.heartbeatSeconds ?? 2
  if (!(heartbeatSeconds > 0)) throw new RangeError(`heartbeatSeconds must be positive, got ${heartbeatSeconds}`)
  return {
    template: {
      tasks: [...new Set([...(opts.tasks ?? []), ...BUILTIN_TASKS])].sort(),
      queues: (opts.queues ?? ['celery']).map((q) => describeQueue(q)),
      concurrency,
      autoscale: opts.autoscale,
      taskEvents: opts.taskEvents ?? false,
    },
    broker: opts.broker,
    namespace: {...opts.namespace, eventExchange: opts.namespace.eventExchange ?? 'celeryev'},
    heartbeatSeconds,
    software: opts.software ?? DEFAULT_SOFTWARE,
    handlers,
  }
}

/** The outcome of one addressed request. */
export type Dispatched =
  /** Reply with this payload if the request has `reply_to`; send these events either way. */
  | {kind: 'reply'; payload: unknown; events: WorkerEvent[]}
  /** `shutdown`: the worker stops and never replies (docs/wire-protocol.md#how-a-worker-handles-a-request). */
  | {kind: 'shutdown'; message: string}
  /** `election`: never run, never answered (it kills single-worker clusters, docs/wire-protocol.md#what-wfctl-never-sends). */
  | {kind: 'ignored'}

/**
 * One Celery-compatible worker, broker-neutral: its state and the control commands of Celery 5.2's
 * celery/worker/control.py with the same replies, errors and argument checks. A host feeds it the
 * requests addressed to it and publishes what it returns.
 */
export class WorkerResponder {
  readonly state: WorkerState

  constructor(
    readonly node: string,
    readonly profile: WorkerProfile,
  ) {
    if (!/^[^@\s]+@[^@\s]+$/.test(node)) throw new RangeError(`a node name is name@host, got ${JSON.stringify(node)}`)
    this.state = new WorkerState(profile.template)
  }

  /** The clock work every delivered request causes, addressed to this node or not (docs/wire-protocol.md#how-a-worker-handles-a-request). */
  observe(headerClock: unknown): void {
    this.state.appClock.forward()
    this.state.mailboxClock.adjust(typeof headerClock === 'number' ? headerClock : 0)
  }

  /** The `clock` header of the next reply: the mailbox clock, forwarded. */
  replyClock(): number {
    return this.state.mailboxClock.forward()
  }

  /** Runs one request body addressed to this node, as kombu's `Node.dispatch` does. */
  dispatch(body: Record<string, unknown>): Dispatched {
    const {method} = body
    if (method === 'election') return {kind: 'ignored'}
    const events: WorkerEvent[] = []
    let payload: unknown
    try {
      payload = this.run(method, body.arguments, events)
    } catch (error) {
      if (error instanceof WorkerShutdown) return {kind: 'shutdown', message: error.message}
      payload = {error: errorRepr(error)}
    }
    return {kind: 'reply', payload, events}
  }

  private run(method: unknown, rawArgs: unknown, events: WorkerEvent[]): unknown {
    if (typeof method !== 'string') {
      if (typeof method === 'object' && method !== null) throw new PyException('TypeError', `unhashable type: '${pyTypeName(method)}'`)
      throw new RawKeyError(pyRepr(method))
    }
    const handler = this.profile.handlers.get(method)
    if (!handler) throw new PyException('KeyError', method)
    const args = truthy(rawArgs) ? rawArgs : {}
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      throw new PyException('TypeError', `celery.worker.control.${method}() argument after ** must be a mapping, not ${pyTypeName(args)}`)
    }
    const kwargs = args as Record<string, unknown>
    bindArguments(method, handler.signature, kwargs)
    const ctx: HandlerContext = {
      node: this.node,
      state: this.state,
      profile: this.profile,
      emit: (type, freq) => events.push(this.event(type, freq)),
    }
    return handler.run(kwargs, ctx)
  }

  /** A worker event from this node, with every field of docs/wire-protocol.md#worker-events. */
  event(type: WorkerEventType, freq = this.profile.heartbeatSeconds): WorkerEvent {
    const {loadavg} = processSample()
    return {
      hostname: this.node,
      utcoffset: utcoffset(),
      pid: process.pid,
      clock: this.state.appClock.forward(),
      freq,
      active: 0,
      processed: this.state.processed,
      loadavg,
      sw_ident: this.profile.software.ident,
      sw_ver: this.profile.software.version,
      sw_sys: this.profile.software.system,
      timestamp: Date.now() / 1000,
      type,
    }
  }
}

/** KeyError of a non-string key, whose repr is not a quoted string (`KeyError(5)`). */
class RawKeyError extends PyException {
  constructor(private readonly keyRepr: string) {
    super('KeyError', keyRepr)
  }

  override get repr(): string {
    return `KeyError(${this.keyRepr})`
  }
}

