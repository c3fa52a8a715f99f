import {autoscaleBounds, CONTROL, positiveInteger, rateLimit, signalName, taskIds, timeLimits, word} from '../fleet/arguments.js'
import {UsageError, WfctlError} from '../errors.js'
import type {FleetResult} from '../fleet/outcome.js'
import {safe} from '../render/safe.js'

/*
 * What the interactive explorer offers (README.md#the-explorer-wfctl-inspect-on-a-terminal): views that read, actions that change, and
 * the questions each action asks. Pure data and functions, so the menu logic is tested without a
 * terminal; answers are validated by the same functions as the command-line arguments.
 */

export interface View {
  kind: 'view'
  name: string
  label: string
  method: string
  args?: Record<string, unknown>
}

/** What a question may offer to pick from: what the views showed of the selected nodes (or of every node). */
export type Pick = 'task-ids' | 'queues' | 'any-queue' | 'task-names'

export interface Question {
  name: string
  message: string
  default?: string
  /** Throws a UsageError for an invalid answer (the command-line validator). */
  check: (value: string) => unknown
  /** Offered from what the views showed; typing stays possible. Several task ids are joined with commas. */
  pick?: Pick
  /** A yes / no question: the answer is "yes" or "no". */
  yesNo?: boolean
}

export interface Action {
  kind: 'action'
  name: string
  label: string
  method: string
  questions: Question[]
  /** The request's arguments from the validated answers. */
  args: (answers: Record<string, string>) => Record<string, unknown>
  /** The confirmation of a destructive request, worded as the command's: what, and on whom (`target`). */
  confirm?: (args: Record<string, unknown>, target: string) => string
  /** A read that asks first (query-task): shown as a view, never confirmed, never audited. */
  read?: boolean
}

export const VIEWS: View[] = [
  {kind: 'view', name: 'active', label: 'Active tasks', method: 'active'},
  {kind: 'view', name: 'reserved', label: 'Reserved tasks', method: 'reserved'},
  {kind: 'view', name: 'scheduled', label: 'Scheduled tasks', method: 'scheduled'},
  {kind: 'view', name: 'stats', label: 'Stats', method: 'stats'},
  {kind: 'view', name: 'active-queues', label: 'Active queues', method: 'active_queues'},
  {kind: 'view', name: 'registered', label: 'Registered tasks', method: 'registered', args: {taskinfoitems: ['rate_limit', 'time_limit', 'soft_time_limit']}},
  {kind: 'view', name: 'revoked', label: 'Revoked tasks', method: 'revoked'},
  {kind: 'view', name: 'conf', label: 'Configuration', method: 'conf'},
]

const ids: Question = {name: 'ids', message: 'Task ids', pick: 'task-ids', check: (v) => taskIds([v])}
const taskName: Question = {name: 'task', message: 'Task name', pick: 'task-names', check: (v) => word(v, 'TASK')}

/** Up to five names, then how many more: a question stays on a line or two. */
function some(names: string[]): string {
  const shown = names.slice(0, names.length > 5 ? 3 : 5).map(safe).join(', ')
  return names.length > 5 ? `${shown} and ${names.length - 3} more` : shown
}

function terminating(args: Record<string, unknown>, target: string): string {
  const list = args.task_id as string[]
  return `Terminate ${list.length === 1 ? 'task' : 'tasks'} ${some(list)} with SIG${String(args.signal).replace(/^SIG/, '')} on ${target}`
}

/** A shutdown's reason: one line of text, as --reason (it reaches the audit log and every worker's log). */
export function reasonText(value: string): string {
  const text = value.trim()
  if (CONTROL.test(text)) throw new UsageError('the reason must be one line of text, without control characters')
  if (text.length > 500) throw new UsageError(`the reason must be at most 500 characters, got ${text.length}`)
  return text
}

export const ACTIONS: Action[] = [
  {
    kind: 'action', name: 'add-consumer', label: 'Add consumer', method: 'add_consumer',
    questions: [{name: 'queue', message: 'Queue', pick: 'any-queue', check: (v) => word(v, 'queue')}],
    args: (a) => ({queue: word(a.queue, 'queue')}),
  },
  {
    kind: 'action', name: 'cancel-consumer', label: 'Cancel consumer', method: 'cancel_consumer',
    questions: [{name: 'queue', message: 'Queue', pick: 'queues', check: (v) => word(v, 'queue')}],
    args: (a) => ({queue: word(a.queue, 'queue')}),
    confirm: (args, target) => `Stop ${target} consuming from queue ${safe(String(args.queue))}`,
  },
  {
    kind: 'action', name: 'pool-grow', label: 'Pool grow', method: 'pool_grow',
    questions: [{name: 'n', message: 'Processes to add', default: '1', check: (v) => positiveInteger(v, 'N')}],
    args: (a) => ({n: positiveInteger(a.n, 'N')}),
  },
  {
    kind: 'action', name: 'pool-shrink', label: 'Pool shrink', method: 'pool_shrink',
    questions: [{name: 'n', message: 'Processes to remove', default: '1', check: (v) => positiveInteger(v, 'N')}],
    args: (a) => ({n: positiveInteger(a.n, 'N')}),
    confirm: (args, target) => `Shrink the pool of ${target} by ${String(args.n)}`,
  },
  {
    kind: 'action', name: 'pool-restart', label: 'Pool restart', method: 'pool_restart',
    questions: [
      {name: 'modules', message: 'Modules to import in the new processes (comma-separated, empty: none)', default: '', check: (v) => modules(v)},
      {name: 'reload', message: 'Reload the modules already imported?', default: 'no', yesNo: true, check: (v) => v},
    ],
    args: (a) => ({reload: a.reload === 'yes', ...(modules(a.modules).length > 0 ? {modules: modules(a.modules)} : {})}),
    confirm: (_, target) => `Restart the pool of ${target} (running tasks are interrupted)`,
  },
  {
    kind: 'action', name: 'autoscale', label: 'Autoscale', method: 'autoscale',
    questions: [
      {name: 'max', message: 'Most processes (MAX)', check: (v) => positiveInteger(v, 'MAX')},
      {name: 'min', message: 'Fewest processes (MIN)', check: (v) => v},
    ],
    args: (a) => autoscaleBounds(a.max, a.min),
    confirm: (args, target) => `Set autoscale max=${String(args.max)} min=${String(args.min)} on ${target}`,
  },
  {
    kind: 'action', name: 'rate-limit', label: 'Rate limit', method: 'rate_limit',
    questions: [taskName, {name: 'rate', message: 'Rate (10/m, 5/s, 100/h, 0 disables)', check: rateLimit}],
    args: (a) => ({task_name: word(a.task, 'TASK'), rate_limit: rateLimit(a.rate)}),
  },
  {
    kind: 'action', name: 'time-limit', label: 'Time limit', method: 'time_limit',
    questions: [
      taskName,
      {name: 'soft', message: 'Soft limit (seconds)', check: (v) => timeLimits(v, undefined)},
      {name: 'hard', message: 'Hard limit (seconds, empty for none)', default: '', check: (v) => v},
    ],
    args: (a) => ({task_name: word(a.task, 'TASK'), ...timeLimits(a.soft, a.hard.trim() === '' ? undefined : a.hard)}),
  },
  {
    kind: 'action', name: 'query-task', label: 'Query tasks by id', method: 'query_task', read: true,
    questions: [ids],
    args: (a) => ({ids: taskIds([a.ids])}),
  },
  {
    kind: 'action', name: 'revoke', label: 'Revoke tasks', method: 'revoke',
    questions: [
      ids,
      {name: 'signal', message: 'Terminate running ones with signal (empty: do not terminate)', default: '', check: (v) => (v.trim() === '' ? null : signalName(v))},
    ],
    args: (a) => ({task_id: taskIds([a.ids]), ...(a.signal.trim() === '' ? {} : {terminate: true, signal: signalName(a.signal)})}),
    confirm: terminating,
  },
  {
    kind: 'action', name: 'terminate', label: 'Terminate tasks', method: 'terminate',
    questions: [ids, {name: 'signal', message: 'Signal', default: 'TERM', check: signalName}],
    args: (a) => ({signal: signalName(a.signal), task_id: taskIds([a.ids])}),
    confirm: terminating,
  },
  {
    kind: 'action', name: 'shutdown', label: 'Shutdown', method: 'shutdown',
    questions: [{name: 'reason', message: "Reason, for the audit log and each worker's log (empty: none)", default: '', check: reasonText}],
    args: (a) => ({reason: reasonText(a.reason ?? '')}),
    confirm: (_, target) => `Shut down ${target}`,
  },
]

/** pool-restart's modules: comma-separated names, each one word. */
function modules(value: string): string[] {
  return value.split(',').map((m) => m.trim()).filter((m) => m !== '').map((m) => word(m, 'module'))
}

/** Turns a command-line validator into an inquirer `validate`: true, or the one-line reason. */
export function validateWith(question: Question): (value: string) => true | string {
  return (value) => {
    try {
      question.check(value)
      return true
    } catch (error) {
      if (error instanceof WfctlError) return error.message
      throw error
    }
  }
}

/** The autoscale MIN is checked against MAX once both are known. */
export function crossCheck(action: Action, answers: Record<string, string>): string | undefined {
  try {
    action.args(answers)
    return undefined
  } catch (error) {
    if (error instanceof WfctlError) return error.message
    throw error
  }
}

// ─── nodes ──────────────────────────────────────────────────────────────────────────────────────

const DIGITS = /(\d+)/

/** Natural order: pod-2 before pod-10 before pod-100; then by code units, so the order is total. */
export function naturalCompare(a: string, b: string): number {
  const x = a.split(DIGITS)
  const y = b.split(DIGITS)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue
    // Odd parts are runs of digits.
    if (i % 2 === 1) {
      const m = x[i].replace(/^0+(?=\d)/, '')
      const n = y[i].replace(/^0+(?=\d)/, '')
      if (m.length !== n.length) return m.length - n.length
      if (m !== n) return m < n ? -1 : 1
      continue
    }
    return x[i] < y[i] ? -1 : 1
  }
  if (x.length !== y.length) return x.length - y.length
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The nodes a filter keeps, in natural order: a case-insensitive substring, or a glob when it
 * holds `*` or `?`. An empty filter keeps every node.
 */
export function matchNodes(nodes: string[], filter: string): string[] {
  const term = filter.trim().toLowerCase()
  let keep: (n: string) => boolean = () => true
  if (/[*?]/.test(term)) {
    const re = new RegExp(`^${term.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
    keep = (n) => re.test(n.toLowerCase())
  } else if (term !== '') {
    keep = (n) => n.toLowerCase().includes(term)
  }
  return nodes.filter(keep).sort(naturalCompare)
}

/** Nodes in words, for the status line: "all 150 nodes", "a@h", "a@h, b@h", "40 nodes: a@h, b@h, c@h and 37 more". */
export function nodesText(selected: string[], all: string[]): string {
  if (selected.length === all.length && all.length > 1) return `all ${all.length} nodes`
  if (selected.length <= 3) return nodeList(selected)
  return `${selected.length} nodes: ${some(selected)}`
}

/**
 * The target of a confirmation, named once: "w1@h"; "a@h, b@h"; "all 2 nodes (a@h, b@h)";
 * "all 150 nodes matching glob "pod-*" (pod-1, pod-2, pod-3 and 147 more)"; "40 nodes (…)".
 * `scope` says what "all" is when the explorer was scoped (-d, --pattern).
 */
export function targetText(selected: string[], all: string[], scope?: string): string {
  if (selected.length === 1) return safe(selected[0])
  const every = selected.length === all.length
  if (!every && selected.length <= 5) return nodeList(selected)
  return `${every ? `all ${selected.length} nodes${scope ? ` ${scope}` : ''}` : `${selected.length} nodes`} (${some(selected)})`
}

/** Node names as a list, each made safe: a name comes from the wire and is shown on a terminal. */
export function nodeList(nodes: string[]): string {
  return nodes.map(safe).join(', ')
}

/** The node picker's checkboxes: each shown by its safe name, chosen by its real one. */
export function nodeChoices(nodes: string[], selected: string[]): {name: string; value: string; checked: boolean}[] {
  const chosen = new Set(selected)
  return nodes.map((n) => ({name: safe(n), value: n, checked: chosen.has(n)}))
}

/** The node picker's special answers: a node name never starts with a space. */
export const ALL_MATCHING = ' all'
export const SOME_MATCHING = ' several'

export interface Choice {
  name: string
  value: string
  description?: string
  /** Shown as the answer once chosen. */
  short?: string
  disabled?: boolean | string
}

/**
 * What the node picker lists for a filter: every match (with a mark on the selected ones), and
 * first, when more than one matches, "all of them" and "several of them".
 */
export function pickerChoices(nodes: string[], filter: string | undefined, selected: string[]): Choice[] {
  const term = (filter ?? '').trim()
  const matches = matchNodes(nodes, term)
  const chosen = new Set(selected)
  const out: Choice[] = []
  if (matches.length > 1) {
    const which = term === '' ? `all ${matches.length} nodes` : `all ${matches.length} nodes matching "${safe(term)}"`
    out.push({name: `Select ${which}`, value: `${ALL_MATCHING} ${term}`})
    out.push({name: `Select several of them…`, value: `${SOME_MATCHING} ${term}`})
  }
  for (const n of matches) out.push({name: safe(n), value: n, ...(chosen.has(n) ? {description: 'selected now'} : {})})
  return out
}

// ─── what the views showed ──────────────────────────────────────────────────────────────────────

type TaskState = 'active' | 'reserved' | 'scheduled'

export interface SeenTask {
  id: string
  name: string | null
  node: string
  state: TaskState
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}

/**
 * What the views last showed of each node: its active, reserved and scheduled tasks, the queues it
 * consumes from, the tasks it has registered. Only what a reply said is kept (a silent node keeps
 * what it said before); actions offer it to pick from, so that the operator does not copy ids.
 */
export class Seen {
  private readonly tasks = new Map<string, Map<TaskState, SeenTask[]>>()
  private readonly queueNames = new Map<string, string[]>()
  private readonly registered = new Map<string, string[]>()
  /** Queues another screen listed without saying who consumes them (top's queue depths). */
  private readonly listedQueues = new Set<string>()

  /** Learns from one reply set. */
  learn(result: FleetResult): void {
    for (const [node, payload] of Object.entries(result.replies)) {
      if (!Object.hasOwn(result.errors, node)) this.learnReply(result.method, node, payload)
    }
  }

  /** Learns from one node's reply to `method` (a view's, or one another screen showed: top's detail pane). */
  learnReply(method: string, node: string, payload: unknown): void {
    if (!Array.isArray(payload)) return
    const state = ({active: 'active', reserved: 'reserved', scheduled: 'scheduled'} as const)[method as TaskState] as TaskState | undefined
    if (state) {
      const list: SeenTask[] = []
      for (const item of payload) {
        const task = state === 'scheduled' ? obj(obj(item)?.request) : obj(item)
        if (task && typeof task.id === 'string') list.push({id: task.id, name: typeof task.name === 'string' ? task.name : null, node, state})
      }
      if (!this.tasks.has(node)) this.tasks.set(node, new Map())
      this.tasks.get(node)!.set(state, list)
    } else if (method === 'active_queues') {
      this.queueNames.set(node, payload.map((q) => obj(q)?.name).filter((n): n is string => typeof n === 'string'))
    } else if (method === 'registered') {
      // `name` or `name [attr=value ...]`.
      this.registered.set(node, payload.filter((t): t is string => typeof t === 'string').map((t) => t.split(' ')[0]))
    }
  }

  /** Queue names listed elsewhere (top's queues), offered to add a consumer for; replaces the last list. */
  listed(queues: Iterable<string>): void {
    this.listedQueues.clear()
    for (const q of queues) this.listedQueues.add(q)
  }

  /** After add_consumer / cancel_consumer: the nodes that said yes now consume (or no longer) from the queue. */
  consumed(result: FleetResult, queue: string, on: boolean): void {
    for (const node of Object.keys(result.replies)) {
      const known = this.queueNames.get(node)
      if (Object.hasOwn(result.errors, node) || known === undefined) continue
      this.queueNames.set(node, on ? [...new Set([...known, queue])] : known.filter((q) => q !== queue))
    }
  }

  /** The tasks seen on these nodes, each id once: active first, then reserved, then scheduled. */
  taskList(nodes: string[]): SeenTask[] {
    const out = new Map<string, SeenTask>()
    for (const state of ['active', 'reserved', 'scheduled'] as const) {
      for (const node of nodes) for (const t of this.tasks.get(node)?.get(state) ?? []) if (!out.has(t.id)) out.set(t.id, t)
    }
    return [...out.values()]
  }

  /** Values to pick for a question, each with the nodes it was seen on. */
  values(pick: Exclude<Pick, 'task-ids'>, nodes: string[]): {value: string; nodes: string[]}[] {
    const on = new Map<string, string[]>()
    const add = (value: string, node: string) => {
      const list = on.get(value) ?? []
      if (!list.includes(node)) list.push(node)
      on.set(value, list)
    }
    const scope = pick === 'any-queue' ? [...this.queueNames.keys()] : nodes
    for (const node of scope) {
      if (pick === 'task-names') {
        for (const name of this.registered.get(node) ?? []) add(name, node)
        for (const byState of this.tasks.get(node)?.values() ?? []) for (const t of byState) if (t.name !== null) add(t.name, node)
      } else {
        for (const q of this.queueNames.get(node) ?? []) add(q, node)
      }
    }
    if (pick === 'any-queue') for (const q of this.listedQueues) if (!on.has(q)) on.set(q, [])
    return [...on.entries()].sort(([a], [b]) => naturalCompare(a, b)).map(([value, list]) => ({value, nodes: list.sort(naturalCompare)}))
  }
}

/** A line cut to fit `columns` (already safe text). */
function fit(text: string, columns: number): string {
  const room = Math.max(20, columns - 6)
  return text.length <= room ? text : `${text.slice(0, room - 1)}…`
}

/** The task-id checkboxes: "ID  TASK  NODE (state)", one line each, and last a choice to type other ids. */
export const TYPE_IDS = ' type'

export function taskChoices(tasks: SeenTask[], columns: number): Choice[] {
  return [
    ...tasks.map((t) => ({name: fit(`${safe(t.id)}  ${safe(t.name ?? '?')}  ${safe(t.node)} (${t.state})`, columns), value: t.id, short: safe(t.id)})),
    {name: 'Other ids: type them', value: TYPE_IDS, short: 'other ids'},
  ]
}

/**
 * A question's choices for what was typed so far: the seen values that hold it (each noting its
 * nodes), and what was typed itself, unless it is one of them — refused with the validator's
 * reason when it could not be sent.
 */
export function valueChoices(seen: {value: string; nodes: string[]}[], typed: string | undefined, question: Question, columns: number): Choice[] {
  const term = (typed ?? '').trim()
  const low = term.toLowerCase()
  const verdict = validateWith(question)
  const matches: Choice[] = seen
    .filter((s) => s.value.toLowerCase().includes(low) && verdict(s.value) === true)
    .map((s) => ({name: safe(s.value), value: s.value, description: s.nodes.length === 0 ? 'listed with the queue depths' : fit(`on ${s.nodes.length > 3 ? `${s.nodes.length} nodes` : nodeList(s.nodes)}`, columns)}))
  if (term === '' || seen.some((s) => s.value === term)) return matches
  const ok = verdict(term)
  const own: Choice = {name: `${safe(term)} (as typed)`, value: term, short: safe(term), ...(ok === true ? {} : {disabled: `(${safe(ok)})`})}
  return matches.length === 0 ? [own] : [...matches, own]
}
