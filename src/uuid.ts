import {closeSync, openSync, readSync} from 'node:fs'

/**
 * Random (version 4) UUIDs, the same as crypto.randomUUID()'s, from the kernel's random source:
 * loading node:crypto (its OpenSSL bindings, ciphers and streams) would cost every request a few
 * milliseconds of start-up for the two UUIDs it needs (the ticket and the reply route). Where
 * /dev/urandom cannot be read (Windows), the Web Crypto API's randomUUID().
 */
const HEX = Array.from({length: 256}, (_, i) => i.toString(16).padStart(2, '0'))
const POOL_BYTES = 16 * 16
let pool: Buffer | undefined
let used = POOL_BYTES
let kernel = process.platform !== 'win32'

function fromKernel(): boolean {
  if (!kernel) return false
  let fd: number | undefined
  try {
    pool ??= Buffer.allocUnsafe(POOL_BYTES)
    fd = openSync('/dev/urandom', 'r')
    if (readSync(fd, pool, 0, POOL_BYTES, null) !== POOL_BYTES) throw new Error('short read')
    used = 0
    return true
  } catch {
    kernel = false
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export function randomUuid(): string {
  if (used + 16 > POOL_BYTES && !fromKernel()) return globalThis.crypto.randomUUID()
  const b = pool!
  const i = used
  used += 16
  b[i + 6] = (b[i + 6] & 0x0f) | 0x40
  b[i + 8] = (b[i + 8] & 0x3f) | 0x80
  const h = (k: number) => HEX[b[i + k]]
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`
}
