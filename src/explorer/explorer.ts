import {emitKeypressEvents} from 'node:readline'

import {InterruptedError} from '../errors.js'
import {isDestructive} from '../fleet/methods.js'
import type {FleetResult} from '../fleet/outcome.js'
import type {ShutdownResult} from '../fleet/shutdown.js'
import {
  ACTIONS, ALL_MATCHING, crossCheck, matchNodes, naturalCompare, nodeChoices, nodesText, pickerChoices, Seen, SOME_MATCHING, targetText,
  taskChoices, TYPE_IDS, validateWith, valueChoices, VIEWS, type Action, type Question, type View,
} from './menu.js'

/*
 * The interactive explorer (README.md#the-explorer-wfctl-inspect-on-a-terminal): discover, pick nodes, then views and actions until the
 * operator quits. It talks to the fleet only through the operations it is given (the command
 * layer) and shows answers with the command's own renderers.
 */

export interface ExplorerOps {
  /** Where the fleet is, for the status line (masked broker URL). */
  broker: string
  /** What the explorer was scoped to (-d, --pattern), in words: `matching glob "pod-*"`. */
  scope?: string
  discover(): Promise<FleetResult>
  call(method: string, args: Record<string, unknown>, nodes: string[]): Promise<FleetResult>
  /** `reason`: what the operator typed (the audit log's reason and each worker's log line), if anything. */
  shutdown(nodes: string[], reason?: string): Promise<ShutdownResult>
  /** Tables to stdout. */
  show(text: string): void
  /** Status and notes, on the screen the questions are asked on. */
  note(text: string): void
  render: {
    status(result: FleetResult): string
    /** `ids`: the task ids asked about (query-task lists the unknown ones). */
    view(result: FleetResult, ids?: string[]): string
    replies(result: FleetResult): string
    shutdown(result: ShutdownResult): string
  }
  /** Aborted by SIGINT/SIGTERM/SIGHUP from outside. */
  signal: AbortSignal
  /** Where questions are drawn (a terminal); stderr by default. */
  screen?: NodeJS.WritableStream
  /** The screen's width, to keep a choice on one line. */
  columns?: () => number
  /** Asks one question (inquirer by default; tests script the answers). Rejects with inquirer's errors. */
  prompt?: (question: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>
  /**
   * Before a question that picks from what was shown, ask the selected nodes when nothing of the
   * kind is known of them yet (their tasks, queues or registered names): for the menu opened from
   * another screen (top), where no view came first. Off: the question is typed, as before any view.
   */
  fetchToPick?: boolean
}

/** What another screen showed of a node (top's detail pane): one reply to one method. */
export interface ShownReply {
  method: string
  node: string
  payload: unknown
}

/** The menu opened from another screen: for the nodes chosen there, among those it lists. */
export interface MenuRequest {
  /** The nodes the menu acts on (top's selection, or the worker under its cursor). */
  nodes: string[]
  /** Every node that screen lists: what "all" means in a confirmation. */
  all: string[]
  /** What it showed of them, offered to pick from. */
  shown?: ShownReply[]
  /** The queue names it listed (offered to add a consumer for). */
  queues?: string[]
}

/** What the menu did, for the screen it returns to. */
export interface MenuOutcome {
  /** Nodes a shutdown from the menu stopped (or began to stop). */
  stopped: string[]
}

/** One inquirer question on the screen, abortable. */
async function inquire(question: Record<string, unknown>, signal: AbortSignal, output: NodeJS.WritableStream): Promise<unknown> {
  const {default: inquirer} = await import('inquirer')
  const prompt = inquirer.createPromptModule({output, signal})
  return ((await prompt([{...question, name: 'value'} as never])) as {value: unknown}).value
}

const BACK = Symbol('back')
type Back = typeof BACK

export class Explorer {
  private nodes: string[] = []
  private selected: string[] = []
  private discovered = false
  /** The menu entry last chosen: the cursor comes back to it. */
  private last?: string
  private readonly seen = new Seen()

  constructor(private readonly ops: ExplorerOps) {}

  /** Runs until the operator quits (resolves) or interrupts (rejects with InterruptedError). */
  async run(): Promise<void> {
    await this.refresh()
    for (;;) {
      const choice = await this.menu([
        {name: 'Pick nodes', value: 'pick'},
        {name: 'Refresh the fleet', value: 'refresh'},
        {name: 'Quit', value: 'quit'},
      ])
      if (choice === BACK || choice === 'quit') return
      this.last = choice
      if (choice === 'pick') await this.pick()
      else if (choice === 'refresh') await this.refresh()
      else if (this.selected.length === 0) this.ops.note('no node selected: pick nodes first (or refresh the fleet)')
      else if (choice.startsWith('view:')) await this.view(VIEWS.find((v) => `view:${v.name}` === choice)!)
      else if (await this.act(ACTIONS.find((a) => `action:${a.name}` === choice)!)) await this.refresh()
    }
  }

  /**
   * The same menu for nodes chosen on another screen (top): its views and actions, with their
   * questions, confirmations and picking, until Escape or "Back" (resolves) or an interrupt
   * (rejects with InterruptedError). The nodes are that screen's to choose: no picking, no
   * discovery. What the explorer learnt, and the entry last chosen, stay for the next time.
   */
  async menuFor(request: MenuRequest): Promise<MenuOutcome> {
    this.nodes = [...request.all].sort(naturalCompare)
    this.selected = [...request.nodes].sort(naturalCompare)
    this.discovered = true
    for (const r of request.shown ?? []) this.seen.learnReply(r.method, r.node, r.payload)
    if (request.queues) this.seen.listed(request.queues)
    const stopped: string[] = []
    for (;;) {
      const choice = await this.menu([{name: 'Back to the live view', value: 'back'}])
      if (choice === BACK || choice === 'back') return {stopped}
      this.last = choice
      if (this.selected.length === 0) this.ops.note('no node selected: go back to the live view (Escape) and select some')
      else if (choice.startsWith('view:')) await this.view(VIEWS.find((v) => `view:${v.name}` === choice)!)
      else {
        const gone = await this.act(ACTIONS.find((a) => `action:${a.name}` === choice)!)
        if (gone) {
          // As a refresh would: the next action is not sent to the nodes just shut down.
          stopped.push(...gone)
          this.selected = this.selected.filter((n) => !gone.includes(n))
        }
      }
    }
  }

  /** The menu's question: its status line (broker, nodes, selection), the views and actions, then `more`. */
  private menu(more: {name: string; value: string}[]): Promise<string | Back> {
    const count = `${this.nodes.length} node${this.nodes.length === 1 ? '' : 's'}${this.ops.scope ? ` ${this.ops.scope}` : ''}`
    return this.ask<string>({
      type: 'select',
      message: `${this.ops.broker} · ${count} · selected: ${this.selected.length > 0 ? nodesText(this.selected, this.nodes) : 'none'}`,
      pageSize: 10,
      choices: [
        ...VIEWS.map((v) => ({name: `View: ${v.label}`, value: `view:${v.name}`})),
        ...ACTIONS.map((a) => ({name: `Action: ${a.label}`, value: `action:${a.name}`})),
        ...more,
      ],
      ...(this.last === undefined ? {} : {default: this.last}),
    })
  }

  /**
   * One ping to the scope: who is there, and how fast they answer. The first selects every node;
   * later ones keep the selection (less the nodes gone), never widen it.
   */
  private async refresh(): Promise<void> {
    const result = await this.ops.discover()
    this.nodes = Object.keys(result.replies).sort(naturalCompare)
    const before = this.selected.length
    this.selected = this.selected.filter((n) => this.nodes.includes(n))
    if (!this.discovered) this.selected = [...this.nodes]
    this.discovered = true
    const table = this.ops.render.status(result)
    this.ops.show(table || 'no node answered: check the broker URL, database or vhost, and control exchange')
    if (before > 0 && this.selected.length === 0 && this.nodes.length > 0) this.ops.note('none of the selected nodes answered: pick nodes')
  }

  /**
   * Type to filter (a part of the name, or a glob), then one node, all the matching ones, or
   * several of them in a checklist.
   */
  private async pick(): Promise<void> {
    if (this.nodes.length === 0) return this.ops.note('no node to pick: refresh the fleet')
    const answer = await this.ask<string>({
      type: 'search',
      message: 'Nodes (type to filter: part of a name, or a glob)',
      pageSize: 10,
      source: async (term: string | undefined) => pickerChoices(this.nodes, term, this.selected),
    })
    if (answer === BACK) return
    if (answer.startsWith(ALL_MATCHING)) {
      this.selected = matchNodes(this.nodes, answer.slice(ALL_MATCHING.length + 1))
    } else if (answer.startsWith(SOME_MATCHING)) {
      const matches = matchNodes(this.nodes, answer.slice(SOME_MATCHING.length + 1))
      const picked = await this.ask<string[]>({
        type: 'checkbox',
        message: 'Nodes (space to toggle, a for all, enter to confirm)',
        pageSize: 10,
        choices: nodeChoices(matches, this.selected),
        validate: (chosen: readonly unknown[]) => (chosen.length > 0 ? true : 'pick at least one node'),
      })
      if (picked !== BACK) this.selected = [...picked].sort(naturalCompare)
    } else {
      this.selected = [answer]
    }
  }

  private async view(view: View): Promise<void> {
    const result = await this.ops.call(view.method, view.args ?? {}, this.selected)
    this.seen.learn(result)
    this.ops.show(this.ops.render.view(result))
  }

  /** Runs an action: its questions, its confirmation, then the request. Resolves with the nodes a shutdown addressed, if it ran. */
  private async act(action: Action): Promise<string[] | undefined> {
    const answers: Record<string, string> = {}
    for (const q of action.questions) {
      const answer = await this.answer(q)
      if (answer === BACK) return undefined
      answers[q.name] = answer
    }
    const problem = crossCheck(action, answers)
    if (problem) return void this.ops.note(`not sent: ${problem}`)
    const args = action.args(answers)
    if (action.read) {
      const result = await this.ops.call(action.method, args, this.selected)
      this.ops.show(this.ops.render.view(result, args.ids as string[]))
      return undefined
    }
    // The same rules as the commands (docs/architecture.md#destructive-requests-and-dry-runs), naming the nodes once.
    if (isDestructive(action.method, args, {destination: this.selected})) {
      const target = targetText(this.selected, this.nodes, this.ops.scope)
      const what = action.confirm ? action.confirm(args, target) : `${action.label} on ${target}`
      const ok = await this.ask<boolean>({type: 'confirm', message: `${what} via ${this.ops.broker}?`, default: false})
      if (ok !== true) return void this.ops.note('not confirmed: nothing was sent')
    }
    if (action.name === 'shutdown') {
      const reason = String(args.reason)
      const nodes = [...this.selected]
      const result = await this.ops.shutdown(nodes, reason === '' ? undefined : reason)
      this.ops.show(this.ops.render.shutdown(result))
      return nodes
    }
    const result = await this.ops.call(action.method, args, this.selected)
    if (action.method === 'add_consumer' || action.method === 'cancel_consumer') this.seen.consumed(result, String(args.queue), action.method === 'add_consumer')
    this.ops.show(this.ops.render.replies(result))
    return undefined
  }

  /**
   * With fetchToPick: when nothing of what a question picks from is known of the selected nodes,
   * ask them first (the views' own requests, learnt as a view's answer is, not shown).
   */
  private async fetchFor(pick: Question['pick']): Promise<void> {
    if (!this.ops.fetchToPick || pick === undefined) return
    const known = pick === 'task-ids' ? this.seen.taskList(this.selected).length : this.seen.values(pick, this.selected).length
    if (known > 0) return
    const methods = pick === 'task-ids' ? ['active', 'reserved', 'scheduled'] : pick === 'task-names' ? ['registered'] : ['active_queues']
    for (const method of methods) {
      const view = VIEWS.find((v) => v.method === method)!
      this.seen.learn(await this.ops.call(method, view.args ?? {}, this.selected))
    }
  }

  /** One answer: typed, or picked from what the views showed (typing still possible). */
  private async answer(q: Question): Promise<string | Back> {
    const validate = validateWith(q)
    const columns = this.ops.columns?.() ?? 80
    if (q.yesNo) {
      const yes = await this.ask<boolean>({type: 'confirm', message: q.message, default: q.default === 'yes'})
      return yes === BACK ? BACK : yes ? 'yes' : 'no'
    }
    await this.fetchFor(q.pick)
    if (q.pick === 'task-ids') {
      const tasks = this.seen.taskList(this.selected).filter((t) => validate(t.id) === true)
      if (tasks.length > 0) {
        const picked = await this.ask<string[]>({
          type: 'checkbox',
          message: `${q.message} (seen on the selected nodes; space to toggle, enter to confirm)`,
          pageSize: 10,
          choices: taskChoices(tasks, columns),
          validate: (chosen: readonly unknown[]) => (chosen.length > 0 ? true : 'pick at least one, or "Other ids"'),
        })
        if (picked === BACK) return BACK
        const chosen = picked.filter((id) => id !== TYPE_IDS)
        if (!picked.includes(TYPE_IDS)) return chosen.join(',')
        const typed = await this.ask<string>({type: 'input', message: `Other ${q.message.toLowerCase()} (comma-separated)`, validate})
        return typed === BACK ? BACK : [...chosen, typed].join(',')
      }
      return this.ask<string>({type: 'input', message: `${q.message} (comma-separated)`, default: q.default, validate})
    }
    if (q.pick) {
      const seen = this.seen.values(q.pick, this.selected)
      if (seen.length > 0) {
        return this.ask<string>({
          type: 'search',
          message: `${q.message} (type to filter, or a new name)`,
          pageSize: 10,
          source: async (term: string | undefined) => valueChoices(seen, term, q, columns),
          validate,
        })
      }
    }
    return this.ask<string>({type: 'input', message: q.message, default: q.default, validate})
  }

  /**
   * One question. Escape goes back (BACK); Ctrl-C, SIGINT, SIGTERM or SIGHUP leave (InterruptedError).
   */
  private async ask<T>(question: Record<string, unknown>): Promise<T | Back> {
    const escape = new AbortController()
    const onKey = (_: unknown, key?: {name?: string}) => {
      if (key?.name === 'escape') escape.abort('escape')
    }
    const onSignal = () => escape.abort('signal')
    if (this.ops.signal.aborted) throw new InterruptedError(String(this.ops.signal.reason))
    this.ops.signal.addEventListener('abort', onSignal, {once: true})
    const keys = process.stdin.isTTY === true
    if (keys) {
      emitKeypressEvents(process.stdin)
      process.stdin.on('keypress', onKey)
    }
    try {
      const screen = this.ops.screen ?? process.stderr
      const prompt = this.ops.prompt ?? ((q: Record<string, unknown>, signal: AbortSignal) => inquire(q, signal, screen))
      return (await prompt({...question, name: 'value'}, escape.signal)) as T
    } catch (error) {
      const name = (error as Error).name
      if (this.ops.signal.aborted) throw new InterruptedError(String(this.ops.signal.reason))
      if (name === 'ExitPromptError') throw new InterruptedError('SIGINT')
      if (name === 'AbortPromptError') return BACK
      throw error
    } finally {
      if (keys) process.stdin.off('keypress', onKey)
      this.ops.signal.removeEventListener('abort', onSignal)
    }
  }
}
