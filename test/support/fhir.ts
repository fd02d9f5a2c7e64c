/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON responses are walked loosely in tests; each is schema-validated first */
// FHIR test helpers: every resource and Bundle the server returns is validated against the R4
// JSON schema (and each Bundle entry on its own, for readable failures), and readings are seeded
// the way ingestion stores them (sealed with the patient's data key).

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { App } from '../../src/app.ts'
import { validateAgainstR4Schema } from '../../src/fhir-format/schema-validation.ts'
import { sealReading, type ReadingContent } from '../../src/modules/device-data/index.ts'

export function assertValidFhir(resource: unknown, where = ''): void {
  const r = resource as { resourceType?: string; entry?: Array<{ resource?: unknown }> }
  if (r?.resourceType === 'Bundle')
    for (const [i, e] of (r.entry ?? []).entries()) assertValidFhir(e.resource, `${where} entry[${i}]`)
  const issues = validateAgainstR4Schema(resource)
  assert.deepEqual(
    issues,
    [],
    `${where} ${r?.resourceType ?? '?'} does not validate against R4: ${JSON.stringify(issues.slice(0, 5))}`,
  )
}

/** Parses a FHIR response, asserts its content type and that it validates. */
export async function fhirJson(res: {
  headers: Record<string, unknown> | Headers
  body?: string
  text?: () => Promise<string>
}): Promise<Record<string, any>> {
  const type =
    res.headers instanceof Headers
      ? res.headers.get('content-type')
      : (res.headers['content-type'] as string | undefined)
  assert.match(String(type), /^application\/fhir\+json/, 'FHIR responses are application/fhir+json')
  const body = JSON.parse(res.body ?? (await res.text?.()) ?? '') as Record<string, any>
  assertValidFhir(body)
  return body
}

export interface SeedReading {
  readonly code?: string
  readonly category?: string
  readonly effectiveAt: Date
  readonly offsetMinutes?: number
  readonly content?: ReadingContent
  readonly deviceId?: string | null
}

/** Inserts readings for a patient as ingestion would (sealed content); returns their ids. */
export async function seedReadings(
  app: App,
  patientId: string,
  readings: readonly SeedReading[],
): Promise<string[]> {
  const { db, cipher } = app.vigil.modules
  const ids: string[] = []
  for (const r of readings) {
    const id = randomUUID()
    const sealed = await sealReading(cipher, patientId, id, r.content ?? { value: 100, unit: 'mg/dL' })
    await db.query(
      `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, value_sealed, content_index, source)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, $9, 'v2')`,
      [
        id,
        patientId,
        r.deviceId ?? null,
        r.code ?? '2339-0',
        r.category ?? 'laboratory',
        r.effectiveAt,
        r.offsetMinutes ?? 0,
        sealed,
        `test-${id}`,
      ],
    )
    ids.push(id)
  }
  return ids
}
