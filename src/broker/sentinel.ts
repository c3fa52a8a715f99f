import {BrokerError, UsageError} from '../errors.js'
import {RespConnection, RespError, type Reply} from './resp.js'
import {brokerFailure, formatSeconds, type TransportOptions} from './common.js'
import {maskSecrets, sentinelMasterProblem, type BrokerUrl} from './url.js'

/*
 * Redis Sentinel, as kombu's Sentinel transport uses it: the sentinels of a `sentinel://` URL are
 * asked in order for the address of the master named by `master_name` (--sentinel-master); the
 * first that knows it answers, and the connection goes to that master with the URL's own password,
 * user and database. The sentinels' password (kombu's sentinel_kwargs) is apart from the master's.
 * Asked anew for every connection, as redis-py does: after a failover the next one finds the new master.
 */

/** Where the master is, and which sentinel said so. */
export interface MasterAddress {
  name: string
  host: string
  port: number
  /** The sentinel that answered, as host:port. */
  sentinel: string
}

function address(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Why a connection failed, in a few words (the cause part of brokerFailure's line). */
function cause(url: BrokerUrl, error: unknown, secret: string | undefined): string {
  if (error instanceof RespError && /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(error.message)) {
    return secret ? 'authentication refused (WFCTL_SENTINEL_PASSWORD)' : 'authentication required (set WFCTL_SENTINEL_PASSWORD)'
  }
  if (error instanceof RespError && /unknown command|unknown subcommand/i.test(error.message)) return 'not a sentinel (it does not know SENTINEL commands)'
  const head = `x ${url.masked}: `
  const line = brokerFailure(url, error, 'x').message
  return maskSecrets(line.startsWith(head) ? line.slice(head.length) : line, secret)
}

/** Runs `work` within `ms`, destroying `connection` (once made) when the time runs out. */
async function bounded<T>(work: Promise<T>, ms: number, destroy: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      destroy()
      reject(new BrokerError(`no answer within ${formatSeconds(ms)}`))
    }, ms)
  })
  work.catch(() => {})
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The master's address from `SENTINEL get-master-addr-by-name`, or null when this sentinel does not know the name. */
function masterOf(reply: Reply): {host: string; port: number} | null | undefined {
  if (reply === null) return null
  if (!Array.isArray(reply) || reply.length !== 2 || typeof reply[0] !== 'string' || typeof reply[1] !== 'string') return undefined
  const port = Number(reply[1])
  const host = reply[0]
  if (!/^\d{1,5}$/.test(reply[1]) || port < 1 || port > 65535 || !/^[\w.:%-]{1,255}$/.test(host)) return undefined
  return {host, port}
}

/**
 * Asks the sentinels in order, each within `timeoutMs`, for the master's address. One masked line
 * when none can say: no sentinel reachable (each one's reason), or no sentinel knows the name.
 */
export async function findMaster(opts: TransportOptions, timeoutMs: number, created: (connection: RespConnection) => void): Promise<MasterAddress> {
  const {url, sentinelMaster, sentinelPassword} = opts
  const problem = sentinelMasterProblem(url, sentinelMaster)
  if (problem) throw new UsageError(problem)
  const name = sentinelMaster!
  const unreachable: string[] = []
  const unknown: string[] = []
  for (const s of url.sentinels ?? []) {
    const where = address(s.host, s.port)
    let connection: RespConnection | undefined
    try {
      const reply = await bounded((async () => {
        connection = await RespConnection.open({host: s.host, port: s.port, password: sentinelPassword, db: 0, name: 'wfctl', commandTimeoutMs: timeoutMs}, (c) => {
          connection = c
          created(c)
        })
        return connection.call('SENTINEL', 'get-master-addr-by-name', name)
      })(), timeoutMs, () => connection?.destroy())
      const master = masterOf(reply)
      if (master === null) {
        unknown.push(where)
        continue
      }
      if (master === undefined) {
        unreachable.push(`${where}: answered what is not a master's address`)
        continue
      }
      return {name, ...master, sentinel: where}
    } catch (error) {
      unreachable.push(`${where}: ${cause(url, error, sentinelPassword)}`)
    } finally {
      connection?.destroy()
    }
  }
  if (unknown.length > 0) {
    const also = unreachable.length > 0 ? `; not reached: ${unreachable.join('; ')}` : ''
    throw new BrokerError(`no sentinel of ${url.masked} knows a master named "${name}" (asked ${unknown.join(', ')}): check --sentinel-master${also}`)
  }
  throw new BrokerError(`cannot reach any sentinel of ${url.masked}: ${unreachable.join('; ')}`)
}

/** What a failure to reach the master says: which master, where, and who said it was there. */
export function masterDoing(master: MasterAddress): string {
  return `cannot connect to the master "${master.name}" at ${address(master.host, master.port)} (from sentinel ${master.sentinel}) of`
}

/**
 * After a failover a sentinel may still name the old master for a moment, now a replica: a replica
 * refuses the writes a reply route needs, so it is refused here, with the reason (ROLE). An ACL
 * that forbids ROLE leaves the check out.
 */
export async function assertMaster(connection: RespConnection, master: MasterAddress, url: BrokerUrl): Promise<void> {
  let role: Reply
  try {
    role = await connection.call('ROLE')
  } catch (error) {
    if (error instanceof RespError) return
    throw error
  }
  if (Array.isArray(role) && typeof role[0] === 'string' && role[0] !== 'master') {
    const what = role[0] === 'slave' ? 'replica' : role[0]
    throw new BrokerError(`${masterDoing(master)} ${url.masked}: it is a ${what}, not a master (a failover in progress? try again)`)
  }
}
