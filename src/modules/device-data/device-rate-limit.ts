// Requests per minute per device (issue 5), beside the per-address limit every route has: one
// runaway device behind a shared gateway address must not starve the others.
//
// A sliding window: a request is admitted when fewer than the limit were admitted in the 60 s
// before it, so no 60 s span ever holds more than the limit. (A fixed calendar-minute window
// admitted up to twice the limit across a minute boundary.) Each device keeps the times of its
// admitted requests in the window, at most the limit of them; refused requests are not kept.
// With Redis the window is one sorted set per device, shared by every instance and updated by one
// script, so two instances cannot both admit the last place; without Redis each instance keeps
// its own. A Redis failure lets the request through (the daily quota, counted in the database,
// still holds).

import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { AppError } from '../../platform/http/errors.ts'

export const DEVICE_RATE_WINDOW_MS = 60_000

export interface DeviceRateLimiter {
  /** Throws RATE_LIMITED (429, Retry-After) when the device already made its limit of requests in the last 60 s. */
  check(deviceId: string): Promise<void>
}

/** Admitted, or refused until the oldest admitted request leaves the window (ms since the epoch). */
type Verdict = { admitted: true } | { admitted: false; oldest: number }

// KEYS[1] the device's set; ARGV now (ms), window (ms), limit, a unique member for this request.
// Drops what left the window, then admits (adds now, renews the key's life) or answers the oldest.
const SLIDE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, '0'}
`

/** Devices kept in memory before the idle ones are swept. */
const MEMORY_SWEEP_AT = 10_000

export function createDeviceRateLimiter(options: {
  perMinute: number
  redis?: Redis | undefined
  clock: () => Date
}): DeviceRateLimiter {
  const { perMinute, redis, clock } = options
  // Per device, the times of its admitted requests in the window, oldest first.
  const windows = new Map<string, number[]>()

  function inMemory(deviceId: string, now: number): Verdict {
    const since = now - DEVICE_RATE_WINDOW_MS
    let times = windows.get(deviceId)
    if (!times) {
      if (windows.size >= MEMORY_SWEEP_AT)
        for (const [id, t] of windows) if ((t.at(-1) ?? 0) <= since) windows.delete(id)
      times = []
      windows.set(deviceId, times)
    }
    let gone = 0
    while (gone < times.length && (times[gone] as number) <= since) gone++
    if (gone > 0) times.splice(0, gone)
    if (times.length >= perMinute) return { admitted: false, oldest: times[0] as number }
    times.push(now)
    return { admitted: true }
  }

  async function inRedis(client: Redis, deviceId: string, now: number): Promise<Verdict> {
    try {
      const [admitted, oldest] = (await client.eval(
        SLIDE,
        1,
        `vigil:device-rate:${deviceId}`,
        now,
        DEVICE_RATE_WINDOW_MS,
        perMinute,
        `${now}:${randomUUID()}`,
      )) as [number, string]
      return admitted === 1 ? { admitted: true } : { admitted: false, oldest: Number(oldest) }
    } catch {
      return { admitted: true }
    }
  }

  return {
    async check(deviceId) {
      if (perMinute === 0) return
      const now = clock().getTime()
      const verdict = redis ? await inRedis(redis, deviceId, now) : inMemory(deviceId, now)
      if (!verdict.admitted) {
        const wait = verdict.oldest + DEVICE_RATE_WINDOW_MS - now
        throw new AppError('RATE_LIMITED', 'Too many requests from this device; retry later', {
          headers: { 'retry-after': String(Math.min(60, Math.max(1, Math.ceil(wait / 1000)))) },
        })
      }
    },
  }
}
