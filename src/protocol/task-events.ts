import type {ReceivedMessage} from '../wire/message.js'
import type {EventWatch, Transport} from '../wire/transport.js'
import {MAX_REPLY_DEPTH, nestsDeeper, parsePythonJson} from './collector.js'

/** One task event as a worker sends it (only the fields that say which task, where, and what happened). */
export interface TaskEvent {
  type: string
  uuid: string
  hostname: string
  /** task-received carries the name; later events of the same task do not. */
  name?: string
}

/** The events after which a task no longer runs on that worker (a retry runs again as a new delivery). */
export const TASK_END_EVENTS = new Set(['task-succeeded', 'task-failed', 'task-revoked', 'task-retried', 'task-rejected'])

const JSON_TYPES = new Set(['application/json', 'application/x-json', 'text/json'])
const MAX_EVENT_BYTES = 16 * 1024 * 1024

/**
 * The task events in one message of the event exchange: a worker with an event loop sends them in
 * batches (routing key `task.multi`, a JSON list), others one by one (an object). Anything that is
 * not JSON, or not a task event, is ignored: nothing here is ever a reason to fail.
 */
export function decodeTaskEvents(message: ReceivedMessage): TaskEvent[] {
  if (message.unreadable !== undefined || message.body.length > MAX_EVENT_BYTES) return []
  const contentType = message.contentType?.toLowerCase()
  if (!contentType || !JSON_TYPES.has(contentType)) return []
  let body: unknown
  try {
    body = parsePythonJson(message.body.toString('utf8'))
  } catch {
    return []
  }
  if (nestsDeeper(body, MAX_REPLY_DEPTH)) return []
  const out: TaskEvent[] = []
  for (const item of Array.isArray(body) ? body : [body]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) continue
    const {type, uuid, hostname, name} = item as Record<string, unknown>
    if (typeof type !== 'string' || !type.startsWith('task-') || typeof uuid !== 'string' || typeof hostname !== 'string') continue
    out.push({type, uuid, hostname, ...(typeof name === 'string' ? {name} : {})})
  }
  return out
}

/**
 * What task events said since the feed opened: for each node, the tasks it started and those that
 * ended. Listening starts before the fleet is asked what it runs, so no end is missed in between.
 */
export class TaskEventFeed {
  /** node → task id → name (when known), for every task-started heard. */
  readonly started = new Map<string, Map<string, string | undefined>>()
  /** node → ids of the tasks that ended there. */
  readonly ended = new Map<string, Set<string>>()
  /** Nodes that sent any task event: their task events are on. */
  readonly heard = new Set<string>()
  private readonly names = new Map<string, string>()
  private waiters: (() => void)[] = []

  private constructor(private readonly watch: EventWatch) {}

  /** Subscribes to task events; undefined when the transport cannot, or no event can reach wfctl there. */
  static async open(transport: Transport): Promise<TaskEventFeed | undefined> {
    if (!transport.watchEvents) return undefined
    let feed: TaskEventFeed | undefined
    const early: ReceivedMessage[] = []
    const watch = await transport.watchEvents(['task.#'], (messages) => {
      if (feed) feed.accept(messages)
      else early.push(...messages)
    })
    if (!watch.available) return undefined
    feed = new TaskEventFeed(watch)
    feed.accept(early)
    return feed
  }

  private accept(messages: ReceivedMessage[]): void {
    let any = false
    for (const message of messages) {
      for (const event of decodeTaskEvents(message)) {
        any = true
        this.heard.add(event.hostname)
        if (event.name !== undefined) this.names.set(event.uuid, event.name)
        if (event.type === 'task-started') {
          const tasks = this.started.get(event.hostname) ?? new Map<string, string | undefined>()
          tasks.set(event.uuid, this.names.get(event.uuid))
          this.started.set(event.hostname, tasks)
        } else if (TASK_END_EVENTS.has(event.type)) {
          const ids = this.ended.get(event.hostname) ?? new Set<string>()
          ids.add(event.uuid)
          this.ended.set(event.hostname, ids)
        }
      }
    }
    if (!any) return
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  /** Whether the task ended on that node. */
  hasEnded(node: string, id: string): boolean {
    return this.ended.get(node)?.has(id) ?? false
  }

  /** Resolves at the next task event, after `ms`, or when the signal aborts, whichever is first. */
  next(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (ms <= 0 || signal?.aborted) return resolve()
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.waiters = this.waiters.filter((w) => w !== done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, {once: true})
      this.waiters.push(done)
    })
  }

  close(): Promise<void> {
    return this.watch.close()
  }
}
