import {hostname as osHostname} from 'node:os'

import {ResponderHost, type HostOptions, type StopReason} from './host.js'
import type {LogEntry} from '../wire/link.js'
import {WorkerResponder, type ProfileOptions} from './responder.js'

/** A fleet's broker and names, plus what every worker of it reports (see ProfileOptions). */
export interface FleetOptions extends Pick<ProfileOptions, 'queues' | 'tasks' | 'concurrency' | 'autoscale' | 'taskEvents' | 'handlers'> {
  brokerUrl: string
  controlExchange?: string
  redisKeyPrefix?: string
  eventExchange?: string
  /** How many workers to simulate (or give `nodes`). */
  workers?: number
  /** Node names are `{namePrefix}{1..N}@{hostname}` (default `sim`). */
  namePrefix?: string
  /** The host part of node names (default this machine's name, as Celery's %h). */
  hostname?: string
  /** Exact node names instead of `workers` with namePrefix/hostname numbering. */
  nodes?: string[]
  /** Interval of worker-heartbeat events (default 2 s). */
  heartbeatSeconds?: number
  connectTimeoutMs?: number
  tls?: HostOptions['tls']
  onLog?: (entry: LogEntry) => void
  onStopped?: (node: string, reason: StopReason) => void
}

/** Nodes added per step at start: keeps the event loop answering while a large fleet comes up. */
const START_SLICE = 1000

/**
 * N simulated Celery workers in this process on one broker connection (`wfctl simulate`, README.md#simulated-workers-wfctl-simulate). Real clients list and control them; a remote `shutdown` stops exactly the
 * addressed ones; stop() stops the rest and removes everything the fleet created in the broker.
 */
export class SimulatedFleet {
  private host?: ResponderHost
  private stopping = false
  private failure?: Error
  private doneWaiters: {resolve: () => void; reject: (error: Error) => void}[] = []

  /** The node names of a fleet, in start order. */
  static nodeNames(opts: Pick<FleetOptions, 'workers' | 'namePrefix' | 'hostname' | 'nodes'>): string[] {
    if (opts.nodes) return [...opts.nodes]
    const count = opts.workers ?? 0
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`workers must be a positive integer, got ${opts.workers}`)
    const prefix = opts.namePrefix ?? 'sim'
    const host = opts.hostname ?? osHostname()
    return Array.from({length: count}, (_, i) => `${prefix}${i + 1}@${host}`)
  }

  /**
   * Connects and starts the workers. If stop() is called meanwhile (an interrupt), start ends
   * early and the fleet is left clean.
   */
  async start(opts: FleetOptions): Promise<void> {
    if (this.host) throw new Error('fleet already started')
    const nodes = SimulatedFleet.nodeNames(opts)
    const hostOptions: HostOptions = {
      brokerUrl: opts.brokerUrl,
      controlExchange: opts.controlExchange,
      redisKeyPrefix: opts.redisKeyPrefix,
      eventExchange: opts.eventExchange,
      heartbeatSeconds: opts.heartbeatSeconds,
      connectTimeoutMs: opts.connectTimeoutMs,
      tls: opts.tls,
      onLog: opts.onLog,
      onStopped: (node, reason) => {
        opts.onStopped?.(node, reason)
        if (this.host?.size === 0) this.settle()
      },
      onFailure: (error) => {
        this.failure = error
        this.settle()
      },
    }
    // Kept before connecting, so a stop() during start can still close it.
    const host = new ResponderHost(hostOptions)
    this.host = host
    await host.open()
    const profile = host.profile({
      queues: opts.queues,
      tasks: opts.tasks,
      concurrency: opts.concurrency,
      autoscale: opts.autoscale,
      taskEvents: opts.taskEvents,
      handlers: opts.handlers,
    })
    try {
      for (let i = 0; i < nodes.length && !this.stopping; i += START_SLICE) {
        await host.add(nodes.slice(i, i + START_SLICE).map((node) => new WorkerResponder(node, profile)))
      }
    } catch (error) {
      await host.close()
      throw error
    }
  }

  /** The nodes still running. */
  get nodes(): string[] {
    return this.host?.nodes ?? []
  }

  /** The responder behind a node, to read or adjust its state. */
  responder(node: string): WorkerResponder | undefined {
    return this.host?.responder(node)
  }

  /**
   * Resolves when every worker has stopped (remote shutdowns or stop()); rejects if the broker
   * connection was lost.
   */
  done(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (!this.host || this.host.size === 0) return Promise.resolve()
    return new Promise((resolve, reject) => this.doneWaiters.push({resolve, reject}))
  }

  private settle(): void {
    for (const waiter of this.doneWaiters.splice(0)) {
      if (this.failure) waiter.reject(this.failure)
      else waiter.resolve()
    }
  }

  /** Stops every worker still running (worker-offline, mailboxes removed) and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true
    try {
      await this.host?.close()
    } finally {
      this.settle()
    }
  }
}
