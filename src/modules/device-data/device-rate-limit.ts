// Requests per minute per device (issue 5), beside the per-address limit every route has: one
// runaway device behind a shared gateway address must not starve the others. Fixed one-minute
// windows; with Redis the count is shared by every instance (INCR + EXPIRE), without it each
// instance counts alone. A Redis failure lets the request through (the daily quota, counted in
// the database, still holds).

import type { Redis } from 'ioredis'
import { AppError } from '../../platform/http/errors.ts'

export interface DeviceRateLimiter {
  /** Throws RATE_LIMITED (429, Retry-After) when the device is over its limit this minute. */
  check(deviceId: string): Promise<void>
}

export function createDeviceRateLimiter(options: {
  perMinute: number
  redis?: Redis | undefined
  clock: () => Date
}): DeviceRateLimiter {
  const { perMinute, redis, clock } = options
  const windows = new Map<string, { minute: number; count: number }>()

  async function count(deviceId: string, minute: number): Promise<number> {
    if (redis) {
      try {
        const key = `vigil:device-rate:${deviceId}:${minute}`
        const n = await redis.incr(key)
        if (n === 1) await redis.expire(key, 120)
        return n
      } catch {
        return 0
      }
    }
    const w = windows.get(deviceId)
    if (w && w.minute === minute) return ++w.count
    if (windows.size > 10_000) for (const [id, old] of windows) if (old.minute < minute) windows.delete(id)
    windows.set(deviceId, { minute, count: 1 })
    return 1
  }

  return {
    async check(deviceId) {
      if (perMinute === 0) return
      const now = clock().getTime()
      const minute = Math.floor(now / 60_000)
      if ((await count(deviceId, minute)) > perMinute) {
        throw new AppError('RATE_LIMITED', 'Too many requests from this device; retry later', {
          headers: { 'retry-after': String(Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000))) },
        })
      }
    },
  }
}
