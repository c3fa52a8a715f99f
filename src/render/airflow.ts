/*
 * Airflow task instances, read from the Celery task that runs them. Airflow's CeleryExecutor sends
 * one Celery task per task instance:
 *
 * - Airflow 2: `execute_command` (registered as airflow.executors.celery_executor.execute_command
 *   up to Airflow 2.6, airflow.providers.celery.executors.celery_executor_utils.execute_command by
 *   the Celery provider, plain `execute_command` by its latest releases) with one argument, the
 *   command `["airflow", "tasks", "run", DAG, TASK, RUN, "--local", ..., "--map-index", N]`.
 * - Airflow 3: `execute_workload` with one argument, the workload as JSON:
 *   `{"token": ..., "ti": {"dag_id", "task_id", "run_id", "try_number", "map_index", ...}, ...,
 *   "type": "ExecuteTask"}`.
 *
 * The arguments come as JSON values, or (`inspect active --safe`) as the repr string Celery made of
 * them, cut at about 1 KiB. Pure: any shape that is not one of these is "not an Airflow task"
 * (undefined), never an error.
 */

/** One Airflow task instance. */
export interface AirflowTask {
  /** The executor protocol: 2 (`execute_command`) or 3 (`execute_workload`). */
  airflow: 2 | 3
  dag: string
  task: string
  /** The run id (the logical date, for Airflow 2.0 and 2.1). */
  run: string
  /** The try number: only Airflow 3 sends it. */
  tryNumber?: number
  /** The map index of a mapped task instance; absent when it is not mapped (-1). */
  mapIndex?: number
}

/** Workloads are a few KiB; a longer string is not read. */
const MAX_TEXT = 1024 * 1024
/** Nesting read in a repr string: the argument list and the command in it are enough. */
const MAX_DEPTH = 4

/** The last part of a dotted task name. */
function lastPart(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1)
}

/** A field of an identifier: a non-empty string on one line, at most 1 KiB. */
function ident(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' && v.length <= 1024 && !/[\r\n]/.test(v) ? v : undefined
}

function int(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v)
  return undefined
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

// ─── the repr strings of `--safe` ────────────────────────────────────────────────────────────

/**
 * Reads Celery's repr of the arguments: lists, tuples, strings, numbers, None/True/False. Celery
 * quotes every string in '...' and escapes only the quote (`\'`); a value cut short ends in `...`,
 * and what was read before it is kept (`complete` false).
 */
class Repr {
  private i = 0
  complete = true

  constructor(private readonly text: string) {}

  private space(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i])) this.i++
  }

  /** The value at the cursor, or undefined where the text stops making sense (or was cut). */
  value(depth = 0): unknown {
    this.space()
    const c = this.text[this.i]
    if (c === "'" || c === '"') return this.string(c)
    if ((c === '[' || c === '(') && depth < MAX_DEPTH) return this.sequence(c === '[' ? ']' : ')', depth + 1)
    const word = /^(?:-?\d+(?:\.\d+)?|None|True|False)/.exec(this.text.slice(this.i, this.i + 32))
    if (word) {
      this.i += word[0].length
      return word[0] === 'None' ? null : word[0] === 'True' ? true : word[0] === 'False' ? false : Number(word[0])
    }
    this.complete = false
    return undefined
  }

  private string(quote: string): string | undefined {
    let out = ''
    for (let j = this.i + 1; j < this.text.length; j++) {
      const ch = this.text[j]
      if (ch === '\\' && this.text[j + 1] === quote) {
        out += quote
        j++
      } else if (ch === quote) {
        this.i = j + 1
        return out
      } else {
        out += ch
      }
    }
    this.complete = false
    return undefined
  }

  /** The items up to the closing bracket; the ones read before a cut, when it was cut. */
  private sequence(close: string, depth: number): unknown[] {
    this.i++
    const items: unknown[] = []
    for (;;) {
      this.space()
      if (this.text[this.i] === close) {
        this.i++
        return items
      }
      const item = this.value(depth)
      if (!this.complete) {
        // A list cut short keeps what was read of it; a string cut short is dropped.
        if (Array.isArray(item)) items.push(item)
        return items
      }
      items.push(item)
      this.space()
      if (this.text[this.i] === ',') this.i++
      else if (this.text[this.i] !== close) {
        this.complete = false
        return items
      }
    }
  }
}

/** The task's first argument: from the argument list, the repr of it, or the keyword argument. */
function firstArgument(args: unknown, kwargs: unknown, keyword: string): {value: unknown; cut: boolean} | undefined {
  if (Array.isArray(args) && args.length > 0) return {value: args[0], cut: false}
  if (typeof args === 'string' && args.length <= MAX_TEXT) {
    const repr = new Repr(args)
    const list = repr.value()
    if (Array.isArray(list) && list.length > 0) {
      // A string cut short by Celery is not a value: only complete items count.
      return {value: list[0], cut: !repr.complete}
    }
  }
  if (isObj(kwargs) && keyword in kwargs) return {value: kwargs[keyword], cut: false}
  return undefined
}

// ─── Airflow 2: `airflow tasks run DAG TASK RUN ...` ────────────────────────────────────────────

function fromCommand(command: unknown): AirflowTask | undefined {
  if (!Array.isArray(command) || command.length < 6) return undefined
  if (command[0] !== 'airflow' || command[1] !== 'tasks' || command[2] !== 'run') return undefined
  const [dag, task, run] = [ident(command[3]), ident(command[4]), ident(command[5])]
  if (dag === undefined || task === undefined || run === undefined || [dag, task, run].some((s) => s.startsWith('-'))) return undefined
  const found: AirflowTask = {airflow: 2, dag, task, run}
  for (let i = 6; i < command.length; i++) {
    const arg = command[i]
    if (typeof arg !== 'string') continue
    const n = arg === '--map-index' ? int(command[i + 1]) : arg.startsWith('--map-index=') ? int(arg.slice(12)) : undefined
    if (n !== undefined && n >= 0) found.mapIndex = n
  }
  return found
}

// ─── Airflow 3: the JSON workload ────────────────────────────────────────────────────────────

function fromTi(ti: unknown): AirflowTask | undefined {
  if (!isObj(ti)) return undefined
  const [dag, task, run] = [ident(ti.dag_id), ident(ti.task_id), ident(ti.run_id)]
  if (dag === undefined || task === undefined || run === undefined) return undefined
  const found: AirflowTask = {airflow: 3, dag, task, run}
  const tryNumber = typeof ti.try_number === 'number' ? int(ti.try_number) : undefined
  if (tryNumber !== undefined && tryNumber >= 0) found.tryNumber = tryNumber
  const mapIndex = typeof ti.map_index === 'number' ? int(ti.map_index) : undefined
  if (mapIndex !== undefined && mapIndex >= 0) found.mapIndex = mapIndex
  return found
}

/** A JSON string's value at `"key": "..."`, read from a workload cut short. */
function jsonField(text: string, key: string): unknown {
  // A number counts only when it ends before the cut: `"try_number":1...` may have been 12.
  const m = new RegExp(`"${key}"\\s*:\\s*("(?:[^"\\\\]|\\\\.){0,1024}"|-?\\d{1,15}(?=[,}\\s]))`).exec(text)
  if (!m) return undefined
  try {
    return JSON.parse(m[1]) as unknown
  } catch {
    return undefined
  }
}

function fromWorkload(input: unknown, cut: boolean): AirflowTask | undefined {
  if (typeof input !== 'string' || input.length > MAX_TEXT) return undefined
  let workload: unknown
  try {
    workload = JSON.parse(input)
  } catch {
    // The repr of a long workload is cut (`...`): its "ti" object, when it got in, still names the
    // task instance. Only then, and only the fields after "ti".
    const at = input.indexOf('"ti"')
    if (!cut || at === -1) return undefined
    const rest = input.slice(at)
    return fromTi({dag_id: jsonField(rest, 'dag_id'), task_id: jsonField(rest, 'task_id'), run_id: jsonField(rest, 'run_id'), try_number: jsonField(rest, 'try_number'), map_index: jsonField(rest, 'map_index')})
  }
  if (!isObj(workload)) return undefined
  if (workload.type !== undefined && workload.type !== 'ExecuteTask') return undefined
  return fromTi(workload.ti)
}

/**
 * The Airflow task instance a Celery task runs, from its name and arguments (as `inspect active`,
 * `reserved`, `scheduled` and `query_task` report them), or undefined when it is not one.
 */
export function airflowTask(name: unknown, args: unknown, kwargs?: unknown): AirflowTask | undefined {
  try {
    if (typeof name !== 'string') return undefined
    const kind = lastPart(name)
    if (kind === 'execute_command') {
      const first = firstArgument(args, kwargs, 'command_to_exec')
      if (first === undefined) return undefined
      // A cut repr keeps the command's first items, which are the ones read here.
      return fromCommand(first.value)
    }
    if (kind === 'execute_workload') {
      const first = firstArgument(args, kwargs, 'input')
      if (first === undefined) return undefined
      return fromWorkload(first.value, first.cut || (typeof first.value === 'string' && first.value.endsWith('...')))
    }
    return undefined
  } catch {
    return undefined
  }
}

/** The task with its map index, as Airflow shows a mapped one: `extract[3]`. */
export function taskLabel(t: AirflowTask): string {
  return t.mapIndex === undefined ? t.task : `${t.task}[${t.mapIndex}]`
}

/** One line for a table cell among other tasks: `dag=etl task=extract[3] run=manual__… try=2`. */
export function airflowText(t: AirflowTask): string {
  return `dag=${t.dag} task=${taskLabel(t)} run=${t.run}${t.tryNumber === undefined ? '' : ` try=${t.tryNumber}`}`
}

/**
 * `"token": "` as JSON has it, also escaped (a JSON string shown as JSON), then its value. A few
 * backslashes at most: a run of them is read once, never again from each of its characters.
 */
const JSON_TOKEN = /(\\{0,3}"token\\{0,3}"\s*:\s*\\{0,3}")(?:[^"\\]|\\[^"])*/g
/** `'token': '` as a Python repr of a dict has it (or `'token': "` for a value with a quote in it), then its value. */
const REPR_TOKEN = /('token'\s*:\s*)(['"])(?:(?!\2)[^\\]|\\.)*/g

/**
 * The text with the value of every `"token"` field masked (`"token": "****"`): Airflow 3's workload
 * carries a JWT that grants the task API, and a table shows what it could not read as a task
 * instance (a callback, an unknown shape, a repr cut short) as it came. A value cut short is masked
 * to where it stops. For text only: `--json` shows every payload as it is.
 */
export function maskTokens(text: string): string {
  if (typeof text !== 'string' || !text.includes('token')) return text
  return text.replace(JSON_TOKEN, '$1****').replace(REPR_TOKEN, '$1$2****')
}
