// The device-data module's public face: the v1 and v2 ingestion contracts and the query (ADR-0010),
// the device registry's routes (modules/devices), and the one codec of a reading's sealed content.

import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'
import { createDeviceRateLimiter, type DeviceRateLimiter } from './device-rate-limit.ts'
import { createIngest, type Ingest } from './ingest.ts'
import { deviceDataV1Plugin } from './routes.v1.ts'
import { deviceDataV2Plugin } from './routes.v2.ts'

export { deviceRoutesV2 } from '../devices/index.ts'

// One ingest path and one per-device limiter per context, shared by v1 and v2.
const shared = new WeakMap<ModuleContext, { ingest: Ingest; limiter: DeviceRateLimiter }>()
function partsFor(ctx: ModuleContext): { ingest: Ingest; limiter: DeviceRateLimiter } {
  let parts = shared.get(ctx)
  if (!parts) {
    parts = {
      ingest: createIngest({
        db: ctx.db,
        cipher: ctx.cipher,
        keyring: ctx.keyring,
        clock: ctx.clock,
        defaultDailyQuota: ctx.config.deviceData.dailyQuota,
        groupCommit: ctx.config.deviceData.groupCommit,
        audit: ctx.audit,
      }),
      limiter: createDeviceRateLimiter({
        perMinute: ctx.config.deviceData.deviceRequestsPerMinute,
        redis: ctx.redis,
        clock: ctx.clock,
      }),
    }
    shared.set(ctx, parts)
  }
  return parts
}

export function deviceDataRoutesV1(ctx: ModuleContext): FastifyPluginAsync {
  return deviceDataV1Plugin(ctx, partsFor(ctx))
}
export function deviceDataRoutesV2(ctx: ModuleContext): FastifyPluginAsync {
  return deviceDataV2Plugin(ctx, partsFor(ctx))
}
export {
  sealReading,
  openReading,
  readingAad,
  type ReadingContent,
  type ReadingComponent,
} from './reading-content.ts'
export { formatDeviceTime, parseDeviceTime } from './validate-reading.ts'
export { measurementRule, KNOWN_CODES } from './loinc-catalogue.ts'
