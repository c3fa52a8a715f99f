import type {DoctorReport} from '../fleet/doctor.js'
import {safe} from './safe.js'

const SOURCE: Record<DoctorReport['broker']['from'], string> = {
  flag: 'the -b flag',
  AIRFLOW__CELERY__BROKER_URL_CMD: 'the output of $AIRFLOW__CELERY__BROKER_URL_CMD',
  context: 'a context',
  'airflow.cfg': 'airflow.cfg',
  WFCTL_BROKER_URL: '$WFCTL_BROKER_URL',
  CELERY_BROKER_URL: '$CELERY_BROKER_URL',
  AIRFLOW__CELERY__BROKER_URL: '$AIRFLOW__CELERY__BROKER_URL',
  default: 'the default (no -b, no broker variable, context or airflow.cfg)',
}

const MARK = {problem: 'PROBLEM', warning: 'WARNING', info: 'info'} as const

/** `wfctl doctor` as text: what was looked at, what was found, and how to fix it. */
export function doctorText(report: DoctorReport): string {
  const lines: string[] = []
  lines.push(`broker:     ${report.broker.masked} (from ${report.broker.detail ?? SOURCE[report.broker.from]})`)
  lines.push(`requests:   ${report.address}${report.listeners === null ? '' : ` (${report.listeners} listening)`}`)
  if (report.namespaces && report.namespaces.length > 0) {
    lines.push('mailboxes:')
    for (const n of report.namespaces) {
      const names = n.mailboxes.length > 3 ? `${n.mailboxes.slice(0, 3).join(', ')}, …` : n.mailboxes.join(', ')
      lines.push(`  ${n.channel}  ${n.mailboxes.length} bound${names ? `: ${names}` : ''}`)
    }
  }
  if (report.nodes.length > 0) {
    lines.push('workers:')
    for (const n of report.nodes) {
      const parts = [n.replied ? 'answered' : 'silent']
      if (n.pool) parts.push(`pool ${n.pool}`)
      if (n.heartbeat) parts.push(`celery ${n.heartbeat.version ?? '?'}`, `clock ${n.heartbeat.skewSeconds >= 0 ? '+' : ''}${n.heartbeat.skewSeconds} s`)
      else parts.push('no heartbeat')
      if (n.mailboxConsumers !== undefined) parts.push(`mailbox consumers ${n.mailboxConsumers}`)
      lines.push(`  ${n.node}  ${parts.join(', ')}`)
    }
  }
  if (report.leftovers.count > 0) lines.push(`leftovers:  ${report.leftovers.count} reply route(s), ${report.leftovers.unreadReplies} unread repl${report.leftovers.unreadReplies === 1 ? 'y' : 'ies'}`)
  lines.push('')
  if (report.findings.length === 0) lines.push('no problem found.')
  for (const f of report.findings) {
    lines.push(`${MARK[f.severity]}: ${f.message}`)
    if (f.fix) lines.push(`  fix: ${f.fix.endsWith('--fix') ? `wfctl doctor ${f.fix}${f.fix === '--fix' ? ' (with the same broker flags)' : ''}` : `add ${f.fix}`}`)
  }
  if (report.fixed) {
    lines.push(`fixed: removed ${report.fixed.removedMembers} reply binding member(s) and ${report.fixed.removedLists} reply list(s)`)
    for (const f of report.fixed.failed) lines.push(`  could not remove ${f}`)
  }
  return lines.map((l) => safe(l)).join('\n')
}
