import type {Health} from '../fleet/health.js'
import {safe} from './safe.js'
import {collate, displayWidth} from './table.js'

/*
 * The check's outputs: one Nagios status line, Prometheus' text exposition format, and a short
 * human report. Pure: a Health in, text out.
 */

/** Milliseconds as seconds with three decimals, as Nagios and Prometheus values. */
function fixedSeconds(ms: number): string {
  return (ms / 1000).toFixed(3)
}

/**
 * Nagios plugin output: `WFCTL OK - 3/3 workers, queues celery consumed | workers=3;3:;1:;0 ...`.
 * Performance data per the plugin guidelines, `label=value[UOM];[warn];[crit];[min];[max]`, whose
 * ranges alert outside them: `N:` below N, `0` above 0. So `workers` warns below the expected count
 * and is critical below --min-nodes; `missing` and `idle` warn above 0, as the state does. With a
 * roster of names (or -d), `workers` counts only its nodes, so its max is the roster's size, and
 * `others` counts the rest; a count roster has no max, since more may answer.
 */
export function nagiosLine(h: Health): string {
  const warn = h.expected !== null ? `${h.expected}:` : ''
  const named = h.roster === 'names'
  const max = named ? `;${h.expected}` : ''
  const perf = [
    `workers=${h.replied};${warn};${h.minNodes}:;0${max}`,
    `missing=${h.missingCount};${h.expected !== null ? '0' : ''};;0${h.expected !== null ? `;${h.expected}` : ''}`,
    `idle=${h.idle.length};0;;0`,
    ...(named ? [`others=${h.others.length};;;0`] : []),
    // Each --max-queued queue: warn and crit are plain numbers, which alert above them, as the state does.
    ...Object.entries(h.queued).map(([q, s]) => `${perfLabel(`queued_${q}`)}=${s.messages ?? 'U'};${s.warning};${s.critical ?? ''};0`),
    `time=${fixedSeconds(h.elapsedMs)}s`,
  ]
  // The status line must stay one line, and "|" would start the performance data.
  const summary = safe(h.summary).replace(/\|/g, '/')
  return `WFCTL ${h.status} - ${summary} | ${perf.join(' ')}`
}

/**
 * A performance data label: neutralised, and without what would end it (`=`), quote it (`'`) or
 * start the data (`|`); a name from the command line has no spaces, but nothing else is assumed.
 */
function perfLabel(name: string): string {
  return safe(name).replace(/[='|\s]/g, '_')
}

/**
 * A label value in the exposition format: neutralised first (a node or queue name comes from the
 * wire: no escape sequence may reach a terminal that shows the file), then backslash, double quote
 * and newline escaped.
 */
function label(value: string): string {
  return safe(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Prometheus' text exposition format, for node_exporter's textfile collector. */
export function prometheusText(h: Health): string {
  const lines: string[] = []
  const metric = (name: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
  }
  metric('wfctl_check_status', 'Health of the Celery fleet: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.', [['', h.code]])
  metric('wfctl_workers_replied', 'Workers that answered the check (of the roster, when it names them).', [['', h.replied]])
  metric('wfctl_workers_expected', 'Workers expected to answer (--expect or -d), else --min-nodes.', [['', h.expected ?? h.minNodes]])
  metric('wfctl_workers_missing', 'Expected workers that did not answer.', [['', h.missingCount]])
  metric('wfctl_workers_unexpected', 'Workers that answered but are not in the roster of names (--expect names or -d).', [['', h.others.length]])
  const up: [string, number][] = [
    ...Object.keys(h.nodes).map((n): [string, number] => [n, 1]),
    ...Object.keys(h.errors).filter((n) => !Object.hasOwn(h.nodes, n)).map((n): [string, number] => [n, 1]),
    ...h.missing.map((n): [string, number] => [n, 0]),
  ].sort(([a], [b]) => collate(a, b))
  metric('wfctl_worker_up', 'Whether the worker answered (1) or was expected and silent (0).', up.map(([n, v]) => [`{node="${label(n)}"}`, v]))
  const idle = new Set(h.idle)
  metric('wfctl_worker_idle', 'Whether the worker answered but consumes no queue.', up.filter(([, v]) => v === 1).map(([n]) => [`{node="${label(n)}"}`, idle.has(n) ? 1 : 0]))
  metric(
    'wfctl_queue_consumers',
    'Workers that answered and consume the queue.',
    Object.entries(h.queues).sort(([a], [b]) => collate(a, b)).map(([q, nodes]) => [`{queue="${label(q)}"}`, nodes.length]),
  )
  const depths = Object.entries(h.queued).filter(([, s]) => s.messages !== null).sort(([a], [b]) => collate(a, b))
  if (depths.length > 0) metric('wfctl_queue_messages', 'Messages waiting in the queue (--max-queued), as the broker counts them.', depths.map(([q, s]) => [`{queue="${label(q)}"}`, s.messages!]))
  metric('wfctl_check_duration_seconds', 'How long the check took.', [['', Number(fixedSeconds(h.elapsedMs))]])
  metric('wfctl_check_timestamp_seconds', 'When the check ran, in seconds since the epoch.', [['', Math.round(h.timestamp * 1000) / 1000]])
  return `${lines.join('\n')}\n`
}

/** The human report: the status line, then one line per worker with the queues it consumes. */
export function healthText(h: Health): string {
  const lines = [safe(`${h.status}: ${h.summary}`)]
  // Names made safe before they are measured: the column is as wide as the terminal shows them.
  const shown = new Map<string, {name: string; width: number}>()
  let width = 0
  for (const n of [...Object.keys(h.nodes), ...Object.keys(h.errors), ...h.missing]) {
    const name = safe(n)
    const w = displayWidth(name)
    shown.set(n, {name, width: w})
    if (w > width) width = w
  }
  const row = (node: string, what: string) => {
    const {name, width: w} = shown.get(node)!
    lines.push(`  ${name}${' '.repeat(width - w)}  ${safe(what)}`)
  }
  const other = new Set(h.others)
  for (const [node, queues] of Object.entries(h.nodes)) {
    row(node, `${queues.length > 0 ? queues.join(', ') : '(consumes no queue)'}${other.has(node) ? ' (not expected)' : ''}`)
  }
  for (const [node, error] of Object.entries(h.errors)) if (!Object.hasOwn(h.nodes, node)) row(node, error)
  for (const node of h.missing) row(node, '(missing)')
  for (const [q, s] of Object.entries(h.queued)) {
    const limits = `warning above ${s.warning}${s.critical === null ? '' : `, critical above ${s.critical}`}`
    const depth = s.error !== undefined ? `depth unknown: ${s.error}` : !s.exists ? 'no such queue' : s.messages === null ? 'depth unknown' : `${s.messages} waiting`
    lines.push(safe(`  queue ${q}: ${depth} (${limits})`))
  }
  return lines.join('\n')
}
