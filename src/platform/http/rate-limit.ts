// A rate limit per client address on every route but the operational probes (HLD §4,
// request path, step 1). It runs in onRequest before authentication, so floods of bad tokens or
// passwords are limited too. With Redis the counter is shared by every instance; without, each
// instance counts alone. Over the limit: 429 problem+json with Retry-After.

import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { AppError } from './errors.ts'
import { isOperationalProbe } from './probes.ts'

export interface RateLimitOptions {
  readonly perMinute: number
  readonly redis?: Redis | undefined
}

export async function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  if (options.perMinute === 0) return
  // The plugin's own hooks are route-level, and route-level hooks run after the global ones
  // (authentication among them): use its limiter from a global onRequest hook instead.
  await app.register(rateLimit, {
    global: false,
    max: options.perMinute,
    timeWindow: 60_000,
    ...(options.redis ? { redis: options.redis, nameSpace: 'vigil:rate-limit:' } : {}),
    // A Redis outage must not take the API down with it; the failure is logged by the client.
    skipOnError: true,
    keyGenerator: (request) => request.ip,
    allowList: (request) => isOperationalProbe(request.routeOptions.url),
  })
  const check = app.createRateLimit()
  app.addHook('onRequest', async (request, reply) => {
    const limit = await check(request)
    if (limit.isAllowed) return
    reply.header('x-ratelimit-limit', String(limit.max))
    reply.header('x-ratelimit-remaining', String(Math.max(0, limit.remaining)))
    reply.header('x-ratelimit-reset', String(limit.ttlInSeconds))
    if (limit.isExceeded) {
      throw new AppError('RATE_LIMITED', 'Too many requests from this address; retry later', {
        headers: { 'retry-after': String(Math.max(1, limit.ttlInSeconds)) },
      })
    }
  })
}
