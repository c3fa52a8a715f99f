import {Flags} from '@oclif/core'

import {FleetCommand} from '../base-command.js'
import {ExitCode, InterruptedError} from '../errors.js'
import {durationMs, positiveInteger} from '../fleet/arguments.js'
import {assumedNotice} from '../fleet/roster.js'
import {eventGlobs, followEvents, nodeGlobs, onlyTaskEvents, unknownTypes, type CeleryEvent, type EventHint, type UndecodableEvent} from '../fleet/events.js'
import {safeJson} from '../render/safe.js'

/** Warnings about messages that are not events: the first few in full, then only the count at the end. */
const UNDECODABLE_SHOWN = 3
/** Output a reader does not take (a terminal that cannot keep up) is dropped past this, not held. */
const MAX_PENDING_OUTPUT = 16 * 1024 * 1024

export default class Events extends FleetCommand {
  static override summary = 'Print the fleet\'s events as they arrive: heartbeats, workers coming and going, tasks.'
  static override description = `One line per event (time, node, type, what matters of it), or with --json one JSON object per
line (NDJSON), the event as the worker sent it. Workers send worker-online, worker-heartbeat (every
2 s) and worker-offline without any option; task events only when started with -E (or after
\`wfctl control enable-events\`). Celery's batched task events (task.multi) are read too.
Leaves nothing in the broker: a pattern subscription on Redis, an exclusive auto-delete queue with a
message TTL on RabbitMQ. Runs until Ctrl-C (exit 130), --count events (exit 0) or --duration seconds
(exit 0; 1 when --count was given and fewer arrived). Exit 3 when the broker cannot be reached or is lost.`
  static override examples = [
    '<%= config.bin %> events',
    '<%= config.bin %> events --type "task-*" --json | jq .',
    "<%= config.bin %> events --type task-failed --node 'celery@web-*'",
    '<%= config.bin %> events --type worker-heartbeat --node celery@w1 --count 1 --duration 10',
  ]
  static override flags = {
    type: Flags.string({summary: 'Only events whose type matches this glob (worker-*, task-failed); repeatable, comma-separated lists too.', multiple: true}),
    node: Flags.string({summary: 'Only events from nodes matching this name or glob (celery@web-*; a plain name without @ is celery@NAME); repeatable, comma lists too.', multiple: true}),
    count: Flags.string({summary: 'Stop after this many events (exit 0).'}),
    duration: Flags.string({summary: 'Stop after this many seconds (exit 0).'}),
  }

  /** The output was closed by its reader (`| head`): stop, and end as if done. */
  private readonly outputClosed = new AbortController()

  /** NDJSON needs every line to be one object: an error is one line too. */
  override logJson(json: unknown): void {
    if (this.outputClosed.signal.aborted) return
    process.stdout.write(`${safeJson(json)}\n`)
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Events)
    const session = this.sessionOptions(flags)
    const nodes = nodeGlobs(flags.node)
    const selection = {types: eventGlobs(flags.type, '--type'), nodes: nodes.globs}
    const count = flags.count === undefined ? undefined : positiveInteger(flags.count, '--count')
    const duration = flags.duration === undefined ? undefined : durationMs(flags.duration, '--duration')
    const json = this.jsonEnabled()
    const assumed = assumedNotice('--node', nodes.assumed)
    if (assumed) this.notice(`note: ${assumed}`)
    for (const glob of unknownTypes(selection.types)) this.notice(`note: --type ${glob} matches no event type Celery sends (a custom event still matches)`)

    const render = await import('../render/events.js')
    const lines = json ? undefined : new render.EventLines({color: this.view(flags).color, columns: process.stdout.isTTY ? process.stdout.columns || 80 : undefined})
    const out = process.stdout
    let dropped = 0
    let outputFailure: Error | undefined
    const onOutputError = (error: NodeJS.ErrnoException) => {
      // A reader that went away (`| head`) ends the stream; anything else is a failure to report.
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') outputFailure ??= error
      this.outputClosed.abort()
    }
    out.on('error', onOutputError)
    const write = (events: CeleryEvent[]) => {
      if (this.outputClosed.signal.aborted) return
      if (out.writableLength > MAX_PENDING_OUTPUT) {
        if (dropped === 0) this.notice('warning: the output does not keep up: events are dropped until it does')
        dropped += events.length
        return
      }
      let text = ''
      for (const event of events) text += `${json ? render.eventJson(event) : lines!.line(event)}\n`
      out.write(text)
    }
    let undecodable = 0
    const broker = session.url.masked
    const taskTypesOnly = onlyTaskEvents(selection)
    const sink = {
      events: write,
      undecodable: (items: UndecodableEvent[]) => {
        for (const item of items) {
          undecodable += 1
          if (undecodable <= UNDECODABLE_SHOWN) this.notice(`warning: not an event: ${render.undecodableLine(item)}`)
        }
      },
      hint: (hint: EventHint) => this.notice(`${hint.kind === 'available' ? 'note' : 'hint'}: ${render.hintLine(hint, broker, taskTypesOnly)}`),
    }

    const operation = await this.open({...session, longLived: true})
    if (process.stderr.isTTY && !json) this.notice(`listening for events on ${broker} (Ctrl-C to stop)`)
    try {
      const result = await followEvents(operation, {selection, count, durationMs: duration}, sink, this.interrupt.signal, this.outputClosed.signal)
      if (outputFailure) throw outputFailure
      const short = count !== undefined && result.ended === 'duration' && result.shown < count
      if (short) this.notice(`${result.shown} of ${count} events within --duration`)
      this.setExitCode(short ? ExitCode.partial : ExitCode.ok)
    } finally {
      // Also after Ctrl-C: what was not shown is said once, at the end.
      if (undecodable > UNDECODABLE_SHOWN) this.notice(`warning: ${undecodable} messages on the event exchange were not events (the first ${UNDECODABLE_SHOWN} shown above)`)
      if (dropped > 0) this.notice(`warning: ${dropped} events were dropped: the output did not keep up`)
      // Nothing more is written: a reader that is gone must not turn the cleanup into an error.
      if (this.outputClosed.signal.aborted) out.off('error', onOutputError).on('error', () => {})
    }
  }

  /** Ctrl-C is how a stream is stopped: exit 130, with no error line (stdout stays one event per line). */
  override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    if (error instanceof InterruptedError) return this.setExitCode(ExitCode.interrupted)
    return super.catch(error)
  }
}
