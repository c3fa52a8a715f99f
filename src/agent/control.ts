import {constants as osConstants} from 'node:os'

import type {BrokerUrl} from '../broker/url.js'
import type {Software, WorkerEventType} from '../wire/events.js'
import type {Namespace} from '../wire/transport.js'
import {PyException, pyRepr, pyStrRepr, pyTypeName, truthy, type Signature} from './python.js'
import {processSample, type StateTemplate, type WorkerState} from './state.js'

/*
 * The control commands of the simulated worker, as Celery 5.2's celery/worker/control.py has
 * them: the same names and aliases, argument signatures, replies and errors. The responder
 * (responder.ts) finds a request's handler here, binds its arguments and runs it.
 */

/** What a handler gets besides its arguments. */
export interface HandlerContext {
  readonly node: string
  readonly state: WorkerState
  readonly profile: WorkerProfile
  /** Sends a worker event from this node once the request is handled (the `heartbeat` command). */
  emit(type: WorkerEventType, freq?: number): void
}

/** A control command: runs synchronously on the host's event loop, like Celery's (docs/wire-protocol.md#calls-and-casts). */
export type ControlHandler = (args: Record<string, unknown>, ctx: HandlerContext) => unknown

export interface HandlerDefinition {
  signature: Signature
  run: ControlHandler
}

/** Everything the workers of one fleet share: settings, broker description and command table. */
export interface WorkerProfile {
  readonly template: StateTemplate
  readonly broker: BrokerUrl
  readonly namespace: Namespace & {eventExchange: string}
  /** Interval of worker-heartbeat events (Celery's `--heartbeat-interval`, `freq`). */
  readonly heartbeatSeconds: number
  readonly software: Software
  readonly handlers: ReadonlyMap<string, HandlerDefinition>
}

/** Thrown by the `shutdown` handler: the worker stops and never replies. */
export class WorkerShutdown extends Error {}

// -- helpers shared by the commands

const ok = (value: unknown) => ({ok: value})
const nok = (value: unknown) => ({error: value})

/** celery.utils.functional.maybe_list, then set(): one id or a list of ids, without duplicates. */
function idList(value: unknown): string[] {
  if (value === null || value === undefined) return []
  const list = Array.isArray(value) ? value : [value]
  return [...new Set(list.map((v) => (typeof v === 'string' ? v : String(v))))]
}

/** Python's `int()` requirement of pool sizes: anything else raises in the pool. */
function integer(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value
  throw new PyException('TypeError', `'${pyTypeName(value)}' object cannot be interpreted as an integer`)
}

const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|(?:\d(?:_?\d)*)\.|inf|infinity|nan)$/i

/** celery.utils.time.rate: `"10/m"`, `"5/s"`, `"100/h"`, a number, or falsy for no limit. */
function checkRate(value: unknown): void {
  if (!truthy(value) || typeof value !== 'string') return
  const slash = value.indexOf('/')
  const [ops, modifier] = slash < 0 ? [value, ''] : [value.slice(0, slash), value.slice(slash + 1)]
  // The modifier is looked up before the number is parsed, so "x/y" fails on the modifier.
  if (!['', 's', 'm', 'h'].includes(modifier)) throw new PyException('KeyError', modifier)
  if (!PY_FLOAT.test(ops.trim())) {
    throw new InvalidRate(`ValueError(${pyStrRepr(`could not convert string to float: ${pyStrRepr(ops)}`)})`)
  }
}

class InvalidRate extends Error {}

/** celery.platforms.signals.signum: a number, or a name with or without SIG. */
function checkSignal(value: unknown): void {
  if (value === null || value === undefined || typeof value === 'number') return
  const name = String(value).toUpperCase().startsWith('SIG') ? String(value) : `SIG${String(value)}`
  if (!(name in osConstants.signals)) throw new PyException('AttributeError', `module 'signal' has no attribute '${name}'`)
}

/** Python's `str()` of a task attribute, as `registered` prints it. */
function pyStr(value: unknown): string {
  if (typeof value === 'string') return value
  return pyRepr(value)
}

/** humanbytes() of celery.utils.debug: `"45.234MB"`. */
function humanBytes(bytes: number): string {
  const units: [number, string][] = [[2 ** 40, 'TB'], [2 ** 30, 'GB'], [2 ** 20, 'MB'], [2 ** 10, 'KB'], [0, 'b']]
  const [div, unit] = units.find(([d]) => bytes >= d)!
  const f = div ? bytes / div : bytes
  return `${Number.isInteger(f) ? f : Number(f.toPrecision(5))}${unit}`
}

/** A broker URL as Celery's censored settings show it: the password masked with eight stars. */
function censoredUrl(url: BrokerUrl): string {
  return url.masked.replace(':****@', ':********@')
}

function brokerInfo(profile: WorkerProfile): Record<string, unknown> {
  const {broker, namespace} = profile
  const redis = broker.kind === 'redis'
  return {
    hostname: broker.host,
    userid: broker.username ?? (redis ? null : 'guest'),
    virtual_host: redis ? String(broker.db) : broker.vhost,
    port: broker.port,
    insist: false,
    ssl: broker.tls,
    transport: redis ? 'redis' : 'amqp',
    connect_timeout: 4,
    transport_options: redis && namespace.redisKeyPrefix ? {global_keyprefix: namespace.redisKeyPrefix} : {},
    login_method: redis ? null : 'PLAIN',
    uri_prefix: null,
    heartbeat: 120.0,
    failover_strategy: 'round-robin',
    alternates: [],
  }
}

/** The non-default settings a simulated worker's app would show (`conf`). */
function settings(ctx: HandlerContext, withDefaults: boolean): Record<string, unknown> {
  const {profile, state} = ctx
  const conf: Record<string, unknown> = {broker_url: censoredUrl(profile.broker)}
  if (profile.namespace.controlExchange !== 'celery') conf.control_exchange = profile.namespace.controlExchange
  if (profile.namespace.eventExchange !== 'celeryev') conf.event_exchange = profile.namespace.eventExchange
  conf.broker_transport_options = profile.broker.kind === 'redis' && profile.namespace.redisKeyPrefix ? {global_keyprefix: profile.namespace.redisKeyPrefix} : {}
  conf.worker_concurrency = state.template.concurrency
  if (state.template.autoscale) conf.worker_autoscaler = 'celery.worker.autoscale:Autoscaler'
  conf.include = ['celery.app.builtins']
  if (!withDefaults) return conf
  return {
    accept_content: ['json'],
    control_exchange: 'celery',
    control_queue_expires: 10.0,
    control_queue_ttl: 300.0,
    enable_utc: true,
    event_exchange: 'celeryev',
    event_queue_expires: 60.0,
    event_queue_prefix: 'celeryev',
    event_queue_ttl: 5.0,
    event_serializer: 'json',
    result_serializer: 'json',
    task_default_queue: 'celery',
    task_serializer: 'json',
    timezone: null,
    worker_enable_remote_control: true,
    worker_pool_restarts: false,
    worker_prefetch_multiplier: 4,
    worker_send_task_events: state.template.taskEvents,
    ...conf,
  }
}

function report(ctx: HandlerContext): string {
  const {profile} = ctx
  const transport = profile.broker.kind === 'redis' ? 'redis' : 'amqp'
  return [
    '',
    `software -> wfctl-agent (simulated worker) node:${process.versions.node} speaks celery:${profile.software.version}`,
    `platform -> system:${profile.software.system} arch:${process.arch} pid:${process.pid}`,
    `settings -> transport:${transport} results:disabled`,
    '',
    ...Object.entries(settings(ctx, false)).map(([k, v]) => `${k}: ${pyRepr(v)}`),
    '',
  ].join('\n')
}

function stats(ctx: HandlerContext): Record<string, unknown> {
  const {state, profile} = ctx
  const {rusage} = processSample()
  const size = state.autoscaler ? state.autoscaler.current : state.poolSize
  const out: Record<string, unknown> = {
    total: {},
    pid: process.pid,
    // A string, as real workers send it (docs/wire-protocol.md#replies).
    clock: String(state.appClock.value),
    uptime: Math.floor((Date.now() - state.startedAt) / 1000),
    pool: {
      'max-concurrency': state.maxConcurrency,
      // No child processes exist; listing the host's pid as many would invite someone to kill it.
      processes: [],
      'max-tasks-per-child': 'N/A',
      'put-guarded-by-semaphore': false,
      timeouts: [0, 0],
      writes: {total: 0, avg: '0.00', all: '', raw: '', strategy: 'fair', inqueues: {total: size, active: 0}},
    },
  }
  if (state.autoscaler) out.autoscaler = {max: state.autoscaler.max, min: state.autoscaler.min, current: state.autoscaler.current, qty: 0}
  out.broker = brokerInfo(profile)
  out.prefetch_count = state.prefetchCount
  out.rusage = rusage
  return out
}

function registered(args: Record<string, unknown>, ctx: HandlerContext): string[] {
  const items = truthy(args.taskinfoitems) && Array.isArray(args.taskinfoitems) ? args.taskinfoitems.map(String) : ['exchange', 'routing_key', 'rate_limit']
  const names = ctx.state.template.tasks.filter((name) => truthy(args.builtins) || !name.startsWith('celery.'))
  return names.map((name) => {
    const task = ctx.state.task(name) as Record<string, unknown>
    const fields = items.filter((f) => task[f] !== undefined && task[f] !== null).map((f) => `${f}=${pyStr(task[f])}`)
    return fields.length > 0 ? `${name} [${fields.join(' ')}]` : name
  })
}

function revoke(args: Record<string, unknown>, ctx: HandlerContext): unknown {
  const ids = idList(args.task_id)
  ctx.state.revoke(ids)
  if (truthy(args.terminate)) {
    checkSignal(args.signal)
    // Nothing executes in a simulated worker, so there is never a process to terminate.
    return ok('terminate: tasks unknown')
  }
  return ok(`tasks ${ids.join(', ')} flagged as revoked`)
}

const ANY: Signature = {kwargs: true}

/** Celery 5.2.6's command table (celery/worker/control.py), aliases included. */
export const BUILTIN_HANDLERS: ReadonlyMap<string, HandlerDefinition> = (() => {
  const table = new Map<string, HandlerDefinition>()
  const def = (names: string[], signature: Signature, run: ControlHandler) => {
    for (const name of names) table.set(name, {signature, run})
  }

  def(['ping'], ANY, () => ok('pong'))
  def(['clock'], ANY, (_, {state}) => ({clock: state.appClock.value}))
  def(['hello'], {required: ['from_node'], optional: ['revoked'], kwargs: true}, (args, {node, state}) => {
    if (args.from_node === node) return null
    if (truthy(args.revoked) && typeof args.revoked === 'object') {
      const revoked = args.revoked as Record<string, unknown> | unknown[]
      if (Array.isArray(revoked)) state.revoke(revoked.map(String))
      else {
        for (const [id, entry] of Object.entries(revoked)) {
          const at = Array.isArray(entry) ? entry[0] : entry
          state.revoke([id], typeof at === 'number' ? at : Date.now() / 1000)
        }
      }
    }
    return {revoked: state.revokedData(), clock: state.appClock.forward()}
  })
  def(['stats'], ANY, (_, ctx) => stats(ctx))
  def(['active', 'dump_active'], {optional: ['safe'], kwargs: true}, () => [])
  def(['reserved', 'dump_reserved'], ANY, () => [])
  def(['scheduled', 'dump_schedule'], ANY, () => [])
  def(['revoked', 'dump_revoked'], ANY, (_, {state}) => state.revoked())
  def(['registered', 'dump_tasks'], {optional: ['taskinfoitems', 'builtins'], kwargs: true}, registered)
  def(['query_task'], {required: ['ids'], kwargs: true}, () => ({}))
  def(['active_queues'], {kwargs: false}, (_, {state}) => state.activeQueues())
  def(['conf', 'dump_conf'], {optional: ['with_defaults'], kwargs: true}, (args, ctx) => settings(ctx, truthy(args.with_defaults)))
  def(['report'], {kwargs: false}, (_, ctx) => ok(report(ctx)))
  def(['memsample'], ANY, (_, {state}) => {
    const rss = processSample().rssBytes
    state.memSamples.push(rss)
    return humanBytes(rss)
  })
  def(['memdump'], {optional: ['samples'], kwargs: true}, (_, {state}) => {
    const samples = state.memSamples.splice(0)
    const lines = samples.length > 0 ? ['- rss (sample):', ...samples.map((s) => `-    > ${humanBytes(s)},`)] : []
    return [...lines, `- rss (end): ${humanBytes(process.memoryUsage.rss())}.`, ''].join('\n')
  })
  def(['objgraph'], {optional: ['num', 'max_depth', 'type'], kwargs: false}, () => {
    throw new PyException('ImportError', 'Requires the objgraph library')
  })

  def(['revoke'], {required: ['task_id'], optional: ['terminate', 'signal'], kwargs: true}, revoke)
  def(['terminate'], {required: ['signal', 'task_id'], kwargs: true}, (args, ctx) => revoke({task_id: args.task_id, terminate: true, signal: args.signal}, ctx))
  def(['rate_limit'], {required: ['task_name', 'rate_limit'], kwargs: true}, (args, {state}) => {
    try {
      checkRate(args.rate_limit)
    } catch (error) {
      if (error instanceof InvalidRate) return nok(`Invalid rate limit string: ${error.message}`)
      throw error
    }
    if (!state.hasTask(args.task_name)) return nok('unknown task')
    state.updateTask(args.task_name, {rate_limit: truthy(args.rate_limit) ? args.rate_limit : null})
    return truthy(args.rate_limit) ? ok('new rate limit set successfully') : ok('rate limit disabled successfully')
  })
  def(['time_limit'], {optional: ['task_name', 'hard', 'soft'], kwargs: true}, (args, {state}) => {
    if (!state.hasTask(args.task_name)) return nok('unknown task')
    state.updateTask(args.task_name, {soft_time_limit: args.soft ?? null, time_limit: args.hard ?? null})
    return ok('time limits set successfully')
  })

  def(['enable_events'], {kwargs: false}, (_, {state}) => {
    if (state.eventGroups && state.eventGroups.size > 0 && !state.eventGroups.has('task')) {
      state.eventGroups.add('task')
      return ok('task events enabled')
    }
    return ok('task events already enabled')
  })
  def(['disable_events'], {kwargs: false}, (_, {state}) => {
    if (state.eventGroups?.has('task')) {
      state.eventGroups.delete('task')
      return ok('task events disabled')
    }
    return ok('task events already disabled')
  })
  def(['heartbeat'], {kwargs: false}, (_, ctx) => {
    // Celery announces freq 5 here; never less than the real interval, or monitors expect beats too soon.
    ctx.emit('worker-heartbeat', Math.max(5, ctx.profile.heartbeatSeconds))
    return null
  })

  def(['pool_grow'], {optional: ['n'], kwargs: true}, (args, {state}) => {
    if (state.autoscaler) return nok('pool_grow is not supported with autoscale. Adjust autoscale range instead.')
    state.poolSize += integer(args.n ?? 1)
    return ok('pool will grow')
  })
  def(['pool_shrink'], {optional: ['n'], kwargs: true}, (args, {state}) => {
    if (state.autoscaler) return nok('pool_shrink is not supported with autoscale. Adjust autoscale range instead.')
    const n = integer(args.n ?? 1)
    if (n > state.poolSize) {
      // billiard stops every idle process, then gives up on the rest.
      state.poolSize = 0
      throw new PyException('ValueError', "Can't shrink pool. All processes busy!")
    }
    state.poolSize -= n
    return ok('pool will shrink')
  })
  def(['pool_restart'], {optional: ['modules', 'reload', 'reloader'], kwargs: true}, () => {
    throw new PyException('ValueError', 'Pool restarts not enabled')
  })
  def(['autoscale'], {optional: ['max', 'min'], kwargs: false}, (args, {state}) => {
    const scaler = state.autoscaler
    if (!scaler) throw new PyException('ValueError', 'Autoscale not enabled')
    // Autoscaler.update: the pool follows the new bounds at once.
    if (args.max !== null && args.max !== undefined) {
      scaler.max = integer(args.max)
      scaler.current = Math.min(scaler.current, scaler.max)
    }
    if (args.min !== null && args.min !== undefined) {
      scaler.min = integer(args.min)
      scaler.current = Math.max(scaler.current, scaler.min)
    }
    return ok(`autoscale now max=${scaler.max} min=${scaler.min}`)
  })
  def(['shutdown'], {optional: ['msg'], kwargs: true}, (args) => {
    throw new WorkerShutdown(typeof args.msg === 'string' ? args.msg : 'Got shutdown from remote')
  })

  def(['add_consumer'], {required: ['queue'], optional: ['exchange', 'exchange_type', 'routing_key'], kwargs: true}, (args, {state}) => {
    const queue = queueName(args.queue)
    state.addQueue(queue, args)
    return ok(`add consumer ${queue}`)
  })
  def(['cancel_consumer'], {required: ['queue'], kwargs: true}, (args, {state}) => {
    const queue = queueName(args.queue)
    state.cancelQueue(queue)
    return ok(`no longer consuming from ${queue}`)
  })
  return table
})()

function queueName(value: unknown): string {
  if (typeof value === 'object' && value !== null) throw new PyException('TypeError', `unhashable type: '${pyTypeName(value)}'`)
  return typeof value === 'string' ? value : pyRepr(value)
}
