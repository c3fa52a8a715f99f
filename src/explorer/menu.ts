import {autoscaleBounds, positiveInteger, rateLimit, signalName, taskIds, timeLimits, word} from '../fleet/arguments.js'
import {WfctlError} from '../errors.js'
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

export interface Question {
  name: string
  message: string
  default?: string
  /** Throws a UsageError for an invalid answer (the command-line validator). */
  check: (value: string) => unknown
}

export interface Action {
  kind: 'action'
  name: string
  label: string
  method: string
  questions: Question[]
  /** The request's arguments from the validated answers. */
  args: (answers: Record<string, string>) => Record<string, unknown>
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

const queue: Question = {name: 'queue', message: 'Queue', check: (v) => word(v, 'queue')}

export const ACTIONS: Action[] = [
  {kind: 'action', name: 'add-consumer', label: 'Add consumer', method: 'add_consumer', questions: [queue], args: (a) => ({queue: word(a.queue, 'queue')})},
  {kind: 'action', name: 'cancel-consumer', label: 'Cancel consumer', method: 'cancel_consumer', questions: [queue], args: (a) => ({queue: word(a.queue, 'queue')})},
  {
    kind: 'action', name: 'pool-grow', label: 'Pool grow', method: 'pool_grow',
    questions: [{name: 'n', message: 'Processes to add', default: '1', check: (v) => positiveInteger(v, 'N')}],
    args: (a) => ({n: positiveInteger(a.n, 'N')}),
  },
  {
    kind: 'action', name: 'pool-shrink', label: 'Pool shrink', method: 'pool_shrink',
    questions: [{name: 'n', message: 'Processes to remove', default: '1', check: (v) => positiveInteger(v, 'N')}],
    args: (a) => ({n: positiveInteger(a.n, 'N')}),
  },
  {
    kind: 'action', name: 'autoscale', label: 'Autoscale', method: 'autoscale',
    questions: [
      {name: 'max', message: 'Most processes (MAX)', check: (v) => positiveInteger(v, 'MAX')},
      {name: 'min', message: 'Fewest processes (MIN)', check: (v) => v},
    ],
    args: (a) => autoscaleBounds(a.max, a.min),
  },
  {
    kind: 'action', name: 'rate-limit', label: 'Rate limit', method: 'rate_limit',
    questions: [
      {name: 'task', message: 'Task name', check: (v) => word(v, 'TASK')},
      {name: 'rate', message: 'Rate (10/m, 5/s, 100/h, 0 disables)', check: rateLimit},
    ],
    args: (a) => ({task_name: word(a.task, 'TASK'), rate_limit: rateLimit(a.rate)}),
  },
  {
    kind: 'action', name: 'time-limit', label: 'Time limit', method: 'time_limit',
    questions: [
      {name: 'task', message: 'Task name', check: (v) => word(v, 'TASK')},
      {name: 'soft', message: 'Soft limit (seconds)', check: (v) => timeLimits(v, undefined)},
      {name: 'hard', message: 'Hard limit (seconds, empty for none)', default: '', check: (v) => v},
    ],
    args: (a) => ({task_name: word(a.task, 'TASK'), ...timeLimits(a.soft, a.hard.trim() === '' ? undefined : a.hard)}),
  },
  {
    kind: 'action', name: 'revoke', label: 'Revoke tasks', method: 'revoke',
    questions: [
      {name: 'ids', message: 'Task ids (comma-separated)', check: (v) => taskIds([v])},
      {name: 'signal', message: 'Terminate running ones with signal (empty: do not terminate)', default: '', check: (v) => (v.trim() === '' ? null : signalName(v))},
    ],
    args: (a) => ({task_id: taskIds([a.ids]), ...(a.signal.trim() === '' ? {} : {terminate: true, signal: signalName(a.signal)})}),
  },
  {kind: 'action', name: 'shutdown', label: 'Shutdown', method: 'shutdown', questions: [], args: () => ({})},
]

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

/** Nodes in words, for the status line and confirmations (names from the wire, made safe). */
export function nodesText(selected: string[], all: string[]): string {
  if (selected.length === all.length && all.length > 1) return `all ${all.length} nodes`
  return nodeList(selected)
}

/** Node names as a list, each made safe: a name comes from the wire and is shown on a terminal. */
export function nodeList(nodes: string[]): string {
  return nodes.map(safe).join(', ')
}

/** The node picker's choices: each shown by its safe name, chosen by its real one. */
export function nodeChoices(nodes: string[], selected: string[]): {name: string; value: string; checked: boolean}[] {
  const chosen = new Set(selected)
  return nodes.map((n) => ({name: safe(n), value: n, checked: chosen.has(n)}))
}
