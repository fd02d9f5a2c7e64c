// The per-device rate limit (ADR-0010) is a sliding window: no 60 s span holds more admitted
// requests than the limit, across a minute boundary or not, and a request is refused only when the
// limit was already admitted in the 60 s before it. In memory, and (when REDIS_URL is set) in the
// real Redis, shared by two clients as two instances would share it.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import fc from 'fast-check'
import type { Redis } from 'ioredis'
import { AppError } from '../../src/platform/http/errors.ts'
import { createRedisClient } from '../../src/platform/redis/client.ts'
import {
  createDeviceRateLimiter,
  DEVICE_RATE_WINDOW_MS,
  type DeviceRateLimiter,
} from '../../src/modules/device-data/device-rate-limit.ts'

const MINUTE = Date.UTC(2026, 11, 5, 9, 0, 0)

/** Admitted, or the Retry-After (seconds) of the 429. */
async function attempt(limiter: DeviceRateLimiter, device: string): Promise<true | number> {
  try {
    await limiter.check(device)
    return true
  } catch (err) {
    assert.ok(err instanceof AppError && err.code === 'RATE_LIMITED', String(err))
    assert.equal(err.status, 429)
    return Number(err.headers['retry-after'])
  }
}

function clockAt(start: number): { now: number; clock: () => Date } {
  const c = { now: start, clock: () => new Date(c.now) }
  return c
}

/** The boundary a fixed calendar-minute window let through: the limit at 0:59, again at 1:00. */
async function boundaryCase(make: (clock: () => Date) => DeviceRateLimiter): Promise<void> {
  const c = clockAt(MINUTE + 59_000)
  const limiter = make(c.clock)
  const device = randomUUID()
  for (let i = 0; i < 4; i++) assert.equal(await attempt(limiter, device), true, `request ${i + 1} of 4`)
  c.now = MINUTE + 60_500 // the next calendar minute
  assert.equal(await attempt(limiter, device), 59, 'refused until 0:59 + 60 s: 58.5 s, rounded up')
  assert.equal(await attempt(limiter, randomUUID()), true, 'another device is not affected')
  c.now = MINUTE + 119_000 // 60 s after the four: the window is the 60 s before now, theirs is over
  assert.equal(await attempt(limiter, device), true, 'the oldest left the window at 60 s')
  c.now = MINUTE + 119_001
  assert.equal(await attempt(limiter, device), true)
  assert.equal(await attempt(limiter, device), true)
  assert.equal(await attempt(limiter, device), true)
  assert.equal(await attempt(limiter, device), 60, 'four in the last 60 s again: the wait is the full window')
}

describe('per-device rate limit: a sliding window', () => {
  test('[SRS-DATA-007] in memory: the limit again just after a minute boundary is refused, and admitted once the first requests are 60 s old', async () => {
    await boundaryCase((clock) => createDeviceRateLimiter({ perMinute: 4, clock }))
  })

  test('[SRS-DATA-007] in memory, any sequence: no 60 s span holds more than the limit, and only a full window refuses', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 60 }),
        async (limit, gaps) => {
          const c = clockAt(MINUTE)
          const limiter = createDeviceRateLimiter({ perMinute: limit, clock: c.clock })
          const admitted: number[] = []
          for (const gap of gaps) {
            c.now += gap
            const inWindow = admitted.filter((t) => t > c.now - DEVICE_RATE_WINDOW_MS).length
            const verdict = await attempt(limiter, 'one-device')
            if (verdict === true) {
              assert.ok(inWindow < limit, `admitted with ${inWindow} already in the window`)
              admitted.push(c.now)
            } else {
              assert.equal(inWindow, limit, 'refused only when the window is full')
              assert.ok(verdict >= 1 && verdict <= 60)
            }
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  test('[SRS-DATA-007] a limit of 0 admits everything', async () => {
    const limiter = createDeviceRateLimiter({ perMinute: 0, clock: () => new Date() })
    for (let i = 0; i < 50; i++) assert.equal(await attempt(limiter, 'd'), true)
  })
})

const REDIS_URL = process.env.REDIS_URL
if (REDIS_URL) {
  describe('per-device rate limit in Redis (REDIS_URL)', () => {
    const clients: Redis[] = []
    // Vigil's own client, connected first: it queues nothing offline, and the limiter lets a
    // request through when Redis cannot answer.
    const client = async () => {
      const r = createRedisClient(REDIS_URL, { commandTimeoutMs: 2_000 })
      clients.push(r)
      if (r.status !== 'ready') await new Promise((resolve) => r.once('ready', resolve))
      return r
    }
    after(async () => {
      for (const r of clients) r.disconnect()
    })

    test('[SRS-DATA-007] in Redis: the same sliding window at a minute boundary', async () => {
      const redis = await client()
      await boundaryCase((clock) => createDeviceRateLimiter({ perMinute: 4, clock, redis }))
    })

    test('[SRS-DATA-007] two instances sharing Redis admit the limit between them, never more, even at once', async () => {
      const clock = () => new Date()
      const a = createDeviceRateLimiter({ perMinute: 5, clock, redis: await client() })
      const b = createDeviceRateLimiter({ perMinute: 5, clock, redis: await client() })
      const device = randomUUID()
      const verdicts = await Promise.all(
        Array.from({ length: 30 }, (_, i) => attempt(i % 2 === 0 ? a : b, device)),
      )
      assert.equal(verdicts.filter((v) => v === true).length, 5)
      assert.ok(verdicts.every((v) => v === true || (v >= 1 && v <= 60)))
      const key = `vigil:device-rate:${device}`
      const redis = await client()
      assert.equal(await redis.zcard(key), 5, 'only admitted requests are kept')
      const ttl = await redis.pttl(key)
      assert.ok(ttl > 0 && ttl <= DEVICE_RATE_WINDOW_MS, `the key expires with its window (${ttl} ms)`)
    })
  })
}
