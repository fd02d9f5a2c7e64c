// The current FHIR form of resources named by an event (the events module's full-resource
// payloads; ADR-0020), through the same presenters the read routes use. Only resources of the
// given patient are returned: an id from elsewhere is dropped, never presented.

import type { ModuleContext } from '../context.ts'
import { presentDevice } from './device.ts'
import { presentReport } from './diagnostic-report.ts'
import { presentObservation } from './observation.ts'
import type { FhirService } from './service.ts'

export async function loadFhirResources(
  ctx: ModuleContext,
  fhir: FhirService,
  resourceType: string,
  ids: readonly string[],
  patientId: string,
): Promise<Record<string, unknown>[]> {
  if (ids.length === 0) return []
  if (resourceType === 'Observation') {
    const rows = await fhir.readingsOfPatient(ids, patientId)
    return Promise.all(rows.map((r) => presentObservation(ctx, r)))
  }
  if (resourceType === 'DiagnosticReport') {
    const rows = await fhir.reportsOfPatient(ids, patientId)
    return Promise.all(rows.map((r) => presentReport(ctx, r)))
  }
  if (resourceType === 'Device') {
    // A device event names its patient in the event; the device may since be bound elsewhere.
    return (await fhir.devicesByIds(ids)).map((d) =>
      presentDevice({ ...d, patient_id: d.patient_id === patientId ? d.patient_id : null }),
    )
  }
  return []
}
