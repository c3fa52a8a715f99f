import type {Target} from '../protocol/request.js'

/** Reaches (or may reach) more than one node: a broadcast, a pattern, or several destinations. */
export function reachesMany(target: Target): boolean {
  return target.pattern !== undefined || !target.destination || target.destination.length !== 1
}

/**
 * Whether a request is destructive (docs/architecture.md#destructive-requests-and-dry-runs) and so needs confirmation: shutdown, pool
 * restarts and terminating tasks always; shrinking or autoscaling pools, and cancelling a queue's
 * consumers, when more than one node is reached (cancelling a queue everywhere is the very outage
 * `wfctl check` exists to catch). `call` applies the same rules, so it is no way around the
 * confirmation.
 */
export function isDestructive(method: string, args: Record<string, unknown>, target: Target): boolean {
  switch (method) {
    case 'shutdown':
    case 'pool_restart':
    case 'terminate':
      return true
    case 'revoke':
    case 'revoke_by_stamped_headers':
      return Boolean(args.terminate)
    case 'autoscale':
    case 'pool_shrink':
    case 'cancel_consumer':
      return reachesMany(target)
    default:
      return false
  }
}

/** Who a request reaches, in words for a confirmation question. */
export function whom(target: Target): string {
  if (target.destination && target.destination.length > 0) return target.destination.join(', ')
  if (target.pattern !== undefined) return `every worker matching ${target.matcher ?? 'glob'} "${target.pattern}"`
  return 'ALL workers'
}
