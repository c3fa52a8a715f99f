import type {Inbox, Transport} from '../wire/transport.js'
import {InterruptedError} from '../errors.js'
import {ReplyCollector, type Collected} from './collector.js'
import type {ReceivedMessage} from '../wire/message.js'
import {buildRequest, encodeRequest, type RequestBody, type Target} from './request.js'

export interface CallRequest extends Target {
  method: string
  args?: Record<string, unknown>
  /** The most time spent waiting for replies after publishing: a deadline, not an idle timeout. */
  timeoutMs: number
  /** Stops the wait as soon as this says the answer is complete. */
  isComplete?: (collected: Collected) => boolean
  signal?: AbortSignal
}

export interface CallResult extends Collected {
  request: RequestBody
  /** How many mailboxes could hear the request, when the broker could tell. */
  listeners?: number
  /** Milliseconds from publishing to the end of collection. */
  elapsedMs: number
  /** True when collection ended because the answer was complete, false when the deadline passed. */
  complete: boolean
}

interface ActiveCall {
  collector: ReplyCollector
  settle: (error?: Error) => void
  check: () => void
}

/**
 * The client side of Celery's pidbox: publishes requests and collects the replies to each ticket
 * from one private reply route, opened on first use and removed by close().
 */
export class Mailbox {
  private inbox?: Inbox
  private active?: ActiveCall
  private failure?: Error
  /** Whether workers that heard the last request may still be replying (see Inbox.close). */
  private repliesInFlight = false
  /** The call before this one: one reply route collects one ticket at a time, so calls take turns. */
  private turn: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly transport: Transport,
    private readonly controlExchange: string,
  ) {}

  private async ensureInbox(): Promise<Inbox> {
    if (this.failure) throw this.failure
    this.inbox ??= await this.transport.openInbox(
      (messages) => this.deliver(messages),
      (error) => {
        this.failure = error
        this.active?.settle(error)
      },
    )
    return this.inbox
  }

  private deliver(messages: ReceivedMessage[]): void {
    const call = this.active
    // Late replies to an earlier ticket land here too; with no call waiting they are dropped.
    if (!call) return
    try {
      for (const message of messages) call.collector.accept(message)
      call.check()
    } catch (error) {
      // A bug, not a bad reply (the collector reports those): end the call with it, cleanup included.
      call.settle(error as Error)
    }
  }

  /**
   * Publishes a request that wants replies and collects them until complete or the deadline. Calls
   * made while one is collecting (a live view refreshing while an action runs) wait their turn.
   */
  call(req: CallRequest): Promise<CallResult> {
    const run = this.turn.then(() => this.callNow(req), () => this.callNow(req))
    this.turn = run.catch(() => {})
    return run
  }

  private async callNow(req: CallRequest): Promise<CallResult> {
    const inbox = await this.ensureInbox()
    const request = buildRequest({...req, controlExchange: this.controlExchange, replyRoutingKey: inbox.routingKey})
    let publishedAt = performance.now()
    const collector = new ReplyCollector(request.ticket!, () => publishedAt)
    const isComplete = req.isComplete ?? (() => false)
    let complete = false
    let listeners: number | undefined

    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      let settled = false
      const onAbort = () => settle(new InterruptedError(String(req.signal?.reason ?? 'SIGINT')))
      const settle = (error?: Error) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.signal?.removeEventListener('abort', onAbort)
        this.active = undefined
        if (error) reject(error)
        else resolve()
      }
      // A reply may come back before the broker has answered the PUBLISH (another connection): the
      // call ends once both are in, so the result always says how many heard it.
      let published = false
      const check = () => {
        if (isComplete(collector.collected)) {
          complete = true
          if (published) settle()
        }
      }
      if (req.signal?.aborted) return onAbort()
      req.signal?.addEventListener('abort', onAbort, {once: true})
      this.active = {collector, settle, check}
      publishedAt = performance.now()
      this.repliesInFlight = true
      this.transport.publish(encodeRequest(request, req.timeoutMs / 1000)).then(
        (result) => {
          published = true
          listeners = result.listeners
          // Nobody is subscribed, so nobody can answer: waiting out the timeout would only cost time.
          if (listeners === 0) return settle()
          if (!settled) timer = setTimeout(() => settle(), Math.max(0, req.timeoutMs - (performance.now() - publishedAt)))
          check()
        },
        (error: Error) => settle(error),
      )
    })
    // Who heard it and may reply: every listener, or only the destinations among them.
    const repliers = Math.min(listeners ?? Infinity, request.destination?.length ?? Infinity)
    const answered = collector.collected.replies.length + collector.collected.undecodable.length
    this.repliesInFlight = repliers === Infinity || answered < repliers
    const elapsedMs = Math.round(performance.now() - publishedAt)
    return {...collector.collected, request, listeners, elapsedMs, complete}
  }

  /** Publishes a request that no worker answers (a cast, docs/wire-protocol.md#calls-and-casts). */
  async cast(req: Omit<CallRequest, 'timeoutMs' | 'isComplete'>): Promise<{request: RequestBody; listeners?: number}> {
    if (this.failure) throw this.failure
    const request = buildRequest({...req, controlExchange: this.controlExchange})
    const result = await this.transport.publish(encodeRequest(request, 1))
    return {request, listeners: result.listeners}
  }

  /** Removes the reply route from the broker. */
  async close(): Promise<void> {
    const inbox = this.inbox
    this.inbox = undefined
    await inbox?.close({repliesInFlight: this.repliesInFlight})
  }
}
