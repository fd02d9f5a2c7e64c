// The device registry's public face: devices, their OAuth clients and their bindings to patients.

import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'
import { deviceRegistryRoutes } from './routes.v2.ts'

export {
  createDeviceService,
  DEVICE_CLIENT_SCOPE,
  type DeviceClients,
  type DevicePatients,
  type DeviceService,
  type Registration,
} from './service.ts'
export { DEVICE_TYPES, type Device, type Binding, type DeviceType } from './repository.ts'

export function deviceRoutesV2(ctx: ModuleContext): FastifyPluginAsync {
  return deviceRegistryRoutes({ devices: ctx.devices })
}
