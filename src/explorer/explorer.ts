import {emitKeypressEvents} from 'node:readline'

import {InterruptedError} from '../errors.js'
import {isDestructive} from '../fleet/methods.js'
import type {FleetResult} from '../fleet/outcome.js'
import type {ShutdownResult} from '../fleet/shutdown.js'
import {ACTIONS, crossCheck, nodeChoices, nodeList, nodesText, validateWith, VIEWS, type Action, type View} from './menu.js'

/*
 * The interactive explorer (README.md#the-explorer-wfctl-inspect-on-a-terminal): discover, pick nodes, then views and actions until the
 * operator quits. It talks to the fleet only through the operations it is given (the command
 * layer) and shows answers with the command's own renderers.
 */

export interface ExplorerOps {
  /** Where the fleet is, for the status line (masked broker URL). */
  broker: string
  discover(): Promise<FleetResult>
  call(method: string, args: Record<string, unknown>, nodes: string[]): Promise<FleetResult>
  shutdown(nodes: string[]): Promise<ShutdownResult>
  /** Tables to stdout. */
  show(text: string): void
  /** Status and notes to stderr. */
  note(text: string): void
  render: {
    status(result: FleetResult): string
    view(result: FleetResult): string
    replies(result: FleetResult): string
    shutdown(result: ShutdownResult): string
  }
  /** Aborted by SIGINT/SIGTERM from outside. */
  signal: AbortSignal
  /** Asks one question (inquirer by default; tests script the answers). Rejects with inquirer's errors. */
  prompt?: (question: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>
}

/** One inquirer question on stderr, abortable. */
async function inquire(question: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
  const {default: inquirer} = await import('inquirer')
  const prompt = inquirer.createPromptModule({output: process.stderr, signal})
  return ((await prompt([{...question, name: 'value'} as never])) as {value: unknown}).value
}

const BACK = Symbol('back')
type Back = typeof BACK

export class Explorer {
  private nodes: string[] = []
  private selected: string[] = []

  constructor(private readonly ops: ExplorerOps) {}

  /** Runs until the operator quits (resolves) or interrupts (rejects with InterruptedError). */
  async run(): Promise<void> {
    await this.refresh()
    for (;;) {
      const choice = await this.ask<string>({
        type: 'select',
        name: 'value',
        message: `${this.ops.broker} · ${this.nodes.length} node${this.nodes.length === 1 ? '' : 's'} · selected: ${this.selected.length > 0 ? nodesText(this.selected, this.nodes) : 'none'}`,
        pageSize: 10,
        choices: [
          ...VIEWS.map((v) => ({name: `View: ${v.label}`, value: `view:${v.name}`})),
          ...ACTIONS.map((a) => ({name: `Action: ${a.label}`, value: `action:${a.name}`})),
          {name: 'Pick nodes', value: 'pick'},
          {name: 'Refresh the fleet', value: 'refresh'},
          {name: 'Quit', value: 'quit'},
        ],
      })
      if (choice === BACK || choice === 'quit') return
      if (choice === 'pick') await this.pick()
      else if (choice === 'refresh') await this.refresh()
      else if (this.selected.length === 0) this.ops.note('no node selected: pick nodes first (or refresh the fleet)')
      else if (choice.startsWith('view:')) await this.view(VIEWS.find((v) => `view:${v.name}` === choice)!)
      else await this.act(ACTIONS.find((a) => `action:${a.name}` === choice)!)
    }
  }

  /** One ping to everyone: who is there, and how fast they answer. */
  private async refresh(): Promise<void> {
    const result = await this.ops.discover()
    this.nodes = Object.keys(result.replies).sort()
    this.selected = this.selected.filter((n) => this.nodes.includes(n))
    if (this.selected.length === 0) this.selected = [...this.nodes]
    const table = this.ops.render.status(result)
    this.ops.show(table || 'no node answered: check the broker URL, database or vhost, and control exchange')
  }

  private async pick(): Promise<void> {
    if (this.nodes.length === 0) return this.ops.note('no node to pick: refresh the fleet')
    const picked = await this.ask<string[]>({
      type: 'checkbox',
      name: 'value',
      message: 'Nodes (space to toggle, a for all, enter to confirm)',
      choices: nodeChoices(this.nodes, this.selected),
      validate: (chosen: readonly unknown[]) => (chosen.length > 0 ? true : 'pick at least one node'),
    })
    if (picked !== BACK) this.selected = picked
  }

  private async view(view: View): Promise<void> {
    const result = await this.ops.call(view.method, view.args ?? {}, this.selected)
    this.ops.show(this.ops.render.view(result))
  }

  private async act(action: Action): Promise<void> {
    const answers: Record<string, string> = {}
    for (const q of action.questions) {
      const answer = await this.ask<string>({type: 'input', name: 'value', message: q.message, default: q.default, validate: validateWith(q)})
      if (answer === BACK) return
      answers[q.name] = answer
    }
    const problem = crossCheck(action, answers)
    if (problem) return this.ops.note(`not sent: ${problem}`)
    const args = action.args(answers)
    const whom = nodesText(this.selected, this.nodes)
    // The same rules as the commands (docs/architecture.md#destructive-requests-and-dry-runs), naming the nodes.
    if (isDestructive(action.method, args, {destination: this.selected})) {
      const ok = await this.ask<boolean>({type: 'confirm', name: 'value', message: `${action.label} on ${whom} (${nodeList(this.selected)}) via ${this.ops.broker}?`, default: false})
      if (ok !== true) return this.ops.note('not confirmed: nothing was sent')
    }
    if (action.name === 'shutdown') {
      const result = await this.ops.shutdown(this.selected)
      this.ops.show(this.ops.render.shutdown(result))
      await this.refresh()
      return
    }
    const result = await this.ops.call(action.method, args, this.selected)
    this.ops.show(this.ops.render.replies(result))
  }

  /**
   * One question. Escape goes back (BACK); Ctrl-C, SIGINT or SIGTERM leave (InterruptedError).
   */
  private async ask<T>(question: Record<string, unknown>): Promise<T | Back> {
    const escape = new AbortController()
    const onKey = (_: unknown, key?: {name?: string}) => {
      if (key?.name === 'escape') escape.abort('escape')
    }
    const onSignal = () => escape.abort('signal')
    this.ops.signal.addEventListener('abort', onSignal, {once: true})
    const keys = process.stdin.isTTY === true
    if (keys) {
      emitKeypressEvents(process.stdin)
      process.stdin.on('keypress', onKey)
    }
    try {
      return (await (this.ops.prompt ?? inquire)(question, escape.signal)) as T
    } catch (error) {
      const name = (error as Error).name
      if (name === 'ExitPromptError') throw new InterruptedError('SIGINT')
      if (name === 'AbortPromptError') {
        if (this.ops.signal.aborted) throw new InterruptedError(String(this.ops.signal.reason))
        return BACK
      }
      throw error
    } finally {
      if (keys) process.stdin.off('keypress', onKey)
      this.ops.signal.removeEventListener('abort', onSignal)
    }
  }
}
