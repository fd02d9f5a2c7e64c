// Device: a registered device bound to a patient now, as an R4 Device. An unbound device holds no
// patient's data and is not served here (its organisation manages it through the device API).

import { idsOf, isUuid, one, referencesOf, searchQuerySchema, tokensOf } from '../../fhir-format/search.ts'
import { FhirError } from '../../fhir-format/outcome.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { ModuleContext } from '../context.ts'
import {
  AnyResource,
  etag,
  IdParams,
  pagedBundle,
  pagingOf,
  scopeIds,
  unknownSearchParams,
} from './shared.ts'
import type { TypedApp } from '../../platform/http/typed-routes.ts'
import type { DeviceRow, FhirService } from './service.ts'

export const SERIAL_SYSTEM = 'urn:vigil:device-serial'

export function presentDevice(d: DeviceRow): Record<string, unknown> {
  return {
    resourceType: 'Device',
    id: d.id,
    meta: { versionId: String(Number(d.version)), lastUpdated: new Date(d.updated_at).toISOString() },
    identifier: [{ system: SERIAL_SYSTEM, value: d.serial }],
    status: d.status === 'active' ? 'active' : 'inactive',
    manufacturer: d.manufacturer,
    serialNumber: d.serial,
    modelNumber: d.model,
    type: { text: d.type },
    ...(d.firmware_version ? { version: [{ value: d.firmware_version }] } : {}),
    ...(d.patient_id ? { patient: { reference: `Patient/${d.patient_id}` } } : {}),
  }
}

export function deviceRoutes(ctx: ModuleContext, fhir: FhirService) {
  return async function devices(app: TypedApp): Promise<void> {
    app.get(
      '/Device/:id',
      {
        config: { policy: 'devices.read' },
        schema: {
          tags: ['FHIR'],
          summary: 'Read a Device (bound to a patient)',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        if (!isUuid(id)) throw new AppError('NOT_FOUND')
        const device = (await fhir.devicesByIds([id.toLowerCase()]))[0]
        if (!device || !device.patient_id) throw new AppError('NOT_FOUND')
        await request.authorize('devices.read', {
          type: 'Device',
          id: device.id,
          patientId: device.patient_id,
        })
        reply.header('etag', etag(Number(device.version)))
        return presentDevice(device)
      },
    )

    app.get(
      '/Device',
      {
        config: { policy: 'devices.read' },
        preValidation: unknownSearchParams('Device'),
        schema: {
          tags: ['FHIR'],
          summary: 'Search Devices bound to the caller\u2019s patients',
          querystring: searchQuerySchema('Device'),
          response: { 200: AnyResource },
        },
      },
      async (request) => {
        const q = request.query
        const { count, cursor } = pagingOf(ctx, 'Device', q)
        if (one(q, '_sort') !== undefined || q._include)
          throw new FhirError(400, 'not-supported', '_sort and _include are not supported on Device')
        const patients = await scopeIds(request, 'devices.read', referencesOf(q, 'patient', 'Patient'))
        const page = await fhir.searchBoundDevices(
          {
            patients,
            ids: idsOf(q),
            serials: tokensOf(q, 'identifier').map((group) =>
              group.filter((t) => t.system === undefined || t.system === SERIAL_SYSTEM).map((t) => t.code),
            ),
          },
          { count, cursor },
        )
        return pagedBundle(ctx, request, 'Device', q, page, page.rows.map(presentDevice))
      },
    )
  }
}
