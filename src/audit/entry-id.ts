// UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then random bits. Made by the application so
// the id is known before the insert and covered by the entry's hash, unique across instances
// without a shared sequence, and time-ordered so index inserts stay at the B-tree's right edge.
//
// The random bits are those of a version-4 UUID from node:crypto's CSPRNG (`randomUUID`, which
// draws its entropy in blocks for many ids at once): its 12 bits after the version nibble are
// rand_a, its 62 bits after the variant bits (already RFC 9562's `10`) are rand_b. A call of
// `randomBytes(16)` per id cost about 5 µs on the benchmark machine, where each draw is a system
// call; this costs about a tenth of that (docs/performance.md, run 20).

import { randomUUID } from 'node:crypto'

export function uuidv7(now: Date): string {
  const ms = now.getTime()
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > 0xffff_ffff_ffff)
    throw new RangeError('uuidv7: the time must be within 48 bits of Unix milliseconds')
  const time = ms.toString(16).padStart(12, '0')
  const random = randomUUID() // xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`
}
