// The device-data query (GET /api/v2/device-data): one patient's readings — or, without a patient,
// every patient the caller may read — by code and device-time range, in (effective_at, id) order
// with an opaque cursor, so every reading appears exactly once across pages even when many share a
// time. Values are opened with the patient's data key and leave only through the presenter.

import type { Static } from 'typebox'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import { cursorSeal, openPosition, sealPosition, type CursorSeal } from '../../platform/http/cursor.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { PatientCipher } from '../patients/index.ts'
import { openReading } from './reading-content.ts'
import { queryReadings, type ReadingRow } from './repository.ts'
import type { ReadingOut } from './schema.v2.ts'
import { formatDeviceTime, parseDeviceTime } from './validate-reading.ts'

/** The keyed seal of reading-list cursors: a forged or altered cursor is a 400, never a query (ADR-0015). */
export const readingCursorSeal = (keyring: Pick<Keyring, 'blindIndex'>): CursorSeal =>
  cursorSeal(keyring, 'device data')

export function encodeCursor(row: Pick<ReadingRow, 'effectiveAt' | 'id'>, seal: CursorSeal): string {
  return sealPosition(seal, row.effectiveAt, row.id)
}

export function decodeCursor(cursor: string, seal: CursorSeal): { effectiveAt: Date; id: string } {
  const position = openPosition(seal, cursor)
  if (!position) {
    throw new AppError('VALIDATION_FAILED', 'The cursor is not one this API gave', {
      errors: [{ pointer: '/querystring/cursor', detail: 'invalid cursor' }],
    })
  }
  return { effectiveAt: position.at, id: position.id }
}

export async function presentReading(
  cipher: PatientCipher,
  row: ReadingRow,
): Promise<Static<typeof ReadingOut>> {
  const content = await openReading(cipher, row.patientId, row.id, row.valueSealed)
  return {
    id: row.id,
    patientId: row.patientId,
    deviceId: row.deviceId,
    ...(row.clientReadingId !== null ? { clientId: row.clientReadingId } : {}),
    code: row.code,
    category: row.category,
    ...(content.value !== undefined ? { value: content.value } : {}),
    ...(content.unit !== undefined ? { unit: content.unit } : {}),
    ...(content.components
      ? { components: content.components.map((c) => ({ code: c.code, value: c.value, unit: c.unit })) }
      : {}),
    ...(content.note !== undefined ? { note: content.note } : {}),
    effectiveDateTime: formatDeviceTime(row.effectiveAt, row.offsetMinutes),
    receivedAt: row.receivedAt.toISOString(),
    ...(row.sequence !== null ? { sequence: row.sequence } : {}),
    source: row.source,
  }
}

export function timeBound(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined
  const t = parseDeviceTime(text)
  if (!t)
    throw new AppError('VALIDATION_FAILED', undefined, {
      errors: [
        { pointer: `/querystring/${name}`, detail: 'expected an RFC 3339 date-time with its UTC offset' },
      ],
    })
  return t.at
}

export async function readPage(
  deps: { db: Database; cipher: PatientCipher; keyring: Pick<Keyring, 'blindIndex'> },
  query: {
    patientIds: readonly string[]
    code?: string | undefined
    from?: Date | undefined
    to?: Date | undefined
    cursor?: string | undefined
    limit: number
  },
): Promise<{ readings: Array<Static<typeof ReadingOut>>; nextCursor: string | null }> {
  const seal = readingCursorSeal(deps.keyring)
  const after = query.cursor !== undefined ? decodeCursor(query.cursor, seal) : undefined
  const rows = await queryReadings(deps.db, {
    patientIds: query.patientIds,
    code: query.code,
    from: query.from,
    to: query.to,
    after,
    limit: query.limit + 1,
  })
  const page = rows.slice(0, query.limit)
  const readings = []
  for (const row of page) readings.push(await presentReading(deps.cipher, row))
  const last = page.at(-1)
  return { readings, nextCursor: rows.length > query.limit && last ? encodeCursor(last, seal) : null }
}
