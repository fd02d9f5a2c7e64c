import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'

// STUB — replaced by the device registry and device-data modules.
export function deviceRoutesV2(_ctx: ModuleContext): FastifyPluginAsync {
  return async function deviceRoutes() {}
}
export function deviceDataRoutesV1(_ctx: ModuleContext): FastifyPluginAsync {
  return async function deviceDataV1() {}
}
export function deviceDataRoutesV2(_ctx: ModuleContext): FastifyPluginAsync {
  return async function deviceDataV2() {}
}
export { sealReading, openReading, readingAad, type ReadingContent, type ReadingComponent } from './reading-content.ts'
