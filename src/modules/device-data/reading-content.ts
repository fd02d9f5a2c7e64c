// A reading's sealed content (ADR-0009): the value, unit, blood-pressure components and note,
// sealed with the patient's data key and bound to the reading's id (the cipher adds the patient).
// The one codec every reader and writer of readings.value_sealed uses: ingestion, the device-data
// query, FHIR Observations, the re-encryption job.

import type { Queryable } from '../../platform/db/index.ts'
import type { PatientCipher } from '../patients/index.ts'

export interface ReadingComponent {
  /** LOINC code (8480-6 systolic, 8462-4 diastolic) */
  readonly code: string
  readonly value: number
  /** UCUM unit */
  readonly unit: string
}

export interface ReadingContent {
  /** Absent for a panel (blood pressure), whose values are in components. */
  readonly value?: number
  /** UCUM unit of value (mg/dL, mm[Hg], /min, %, kg, Cel) */
  readonly unit?: string
  readonly components?: readonly ReadingComponent[]
  readonly note?: string
}

export const readingAad = (readingId: string): string => `reading:${readingId}`

export function sealReading(cipher: PatientCipher, patientId: string, readingId: string, content: ReadingContent, q?: Queryable): Promise<string> {
  return cipher.seal(patientId, JSON.stringify(content), readingAad(readingId), q)
}

export async function openReading(cipher: PatientCipher, patientId: string, readingId: string, sealed: string, q?: Queryable): Promise<ReadingContent> {
  return JSON.parse(await cipher.open(patientId, sealed, readingAad(readingId), q)) as ReadingContent
}
