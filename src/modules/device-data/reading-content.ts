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

export function sealReading(
  cipher: PatientCipher,
  patientId: string,
  readingId: string,
  content: ReadingContent,
  q?: Queryable,
): Promise<string> {
  return cipher.seal(patientId, JSON.stringify(content), readingAad(readingId), q)
}

/**
 * A batch's readings sealed as sealReading seals one, under one fetch of the patient's current
 * data key (PatientCipher.sealMany), without an await per reading.
 */
export function sealReadings(
  cipher: PatientCipher,
  patientId: string,
  readings: ReadonlyArray<{ readonly id: string; readonly content: ReadingContent }>,
  q?: Queryable,
): Promise<string[]> {
  return cipher.sealMany(
    patientId,
    readings.map((r) => ({ plaintext: JSON.stringify(r.content), aad: readingAad(r.id) })),
    q,
  )
}

const json = JSON.stringify

function componentText(c: ReadingComponent): string {
  let s = `{"code":${json(c.code)}`
  if (c.unit !== undefined) s += `,"unit":${json(c.unit)}`
  if (c.value !== undefined) s += `,"value":${json(c.value)}`
  return `${s}}`
}

/**
 * The text a reading's content index (a keyed HMAC) is computed over: byte for byte the
 * key-sorted JSON of `{ key, offset, content }` the index has always used (stored indexes must
 * keep matching for duplicates to be found), written field by field instead of by a generic
 * sort-the-keys walk.
 */
export function contentIndexText(key: string, offset: number, content: ReadingContent): string {
  const parts: string[] = []
  if (content.components !== undefined)
    parts.push(`"components":[${content.components.map(componentText).join(',')}]`)
  if (content.note !== undefined) parts.push(`"note":${json(content.note)}`)
  if (content.unit !== undefined) parts.push(`"unit":${json(content.unit)}`)
  if (content.value !== undefined) parts.push(`"value":${json(content.value)}`)
  return `{"content":{${parts.join(',')}},"key":${json(key)},"offset":${json(offset)}}`
}

export async function openReading(
  cipher: PatientCipher,
  patientId: string,
  readingId: string,
  sealed: string,
  q?: Queryable,
): Promise<ReadingContent> {
  return JSON.parse(await cipher.open(patientId, sealed, readingAad(readingId), q)) as ReadingContent
}
