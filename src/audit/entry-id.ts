// UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then random bits. Made by the application so
// the id is known before the insert and covered by the entry's hash, unique across instances
// without a shared sequence, and time-ordered so index inserts stay at the B-tree's right edge.

import { randomBytes } from 'node:crypto'

export function uuidv7(now: Date): string {
  const bytes = randomBytes(16)
  const ms = BigInt(now.getTime())
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn)
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70 // version 7
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80 // variant 10
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
