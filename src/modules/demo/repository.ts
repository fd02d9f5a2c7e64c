// The demo seed's SQL (ADR-0030). A seed is a fixture loader: it writes rows of the tables other
// modules own (the care team, the demo device and its binding, readings)
// in the shape those modules write them, idempotently, so `vigil seed-demo` can run twice. No
// request path calls this file; the modules' own repositories stay the only writers at run time.

import type { Queryable } from '../../platform/db/index.ts'

export async function addCareTeamMember(
  q: Queryable,
  m: { patientId: string; userId: string; organisationId: string },
): Promise<void> {
  await q.query(
    'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3) ON CONFLICT (patient_id, user_id) DO NOTHING',
    [m.patientId, m.userId, m.organisationId],
  )
}

export async function patientRecordOfUser(q: Queryable, userId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ id: string }>('SELECT id FROM published_patients WHERE user_id = $1', [
    userId,
  ])
  return rows[0]?.id
}

/** The demo glucometer for this client, unless the client or the serial already has one. */
export async function ensureDemoDevice(
  q: Queryable,
  clientId: string,
  organisationId: string,
): Promise<void> {
  await q.query(
    `INSERT INTO devices (id, client_id, organisation_id, manufacturer, model, serial, type, firmware_version)
     SELECT gen_random_uuid(), $1, $2, 'Vigil Demo', 'Glucometer', 'DEMO-GLUCOMETER-1', 'glucometer', '1.0.0'
      WHERE NOT EXISTS (SELECT 1 FROM devices WHERE client_id = $1)
     ON CONFLICT (manufacturer, model, serial) DO NOTHING`,
    [clientId, organisationId],
  )
}

/** Binds the client's device to the patient while it has no binding. */
export async function bindDeviceIfUnbound(
  q: Queryable,
  clientId: string,
  patientId: string,
  at: Date,
): Promise<void> {
  await q.query(
    `INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by)
     SELECT gen_random_uuid(), d.id, $2, $3, 'seed-demo' FROM devices d
      WHERE d.client_id = $1 AND NOT EXISTS (SELECT 1 FROM device_bindings b WHERE b.device_id = d.id AND b.unbound_at IS NULL)`,
    [clientId, patientId, at.toISOString()],
  )
}

export async function deviceOfClient(q: Queryable, clientId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ id: string }>('SELECT id FROM devices WHERE client_id = $1', [clientId])
  return rows[0]?.id
}

export async function countSeededReadings(q: Queryable, deviceId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM readings WHERE device_id = $1 AND client_reading_id LIKE 'seed-demo-%'",
    [deviceId],
  )
  return Number(rows[0]?.n ?? 0)
}

export async function insertSeededReading(
  q: Queryable,
  r: {
    id: string
    patientId: string
    deviceId: string
    code: string
    category: string
    at: Date
    clientReadingId: string
    valueSealed: string
    contentIndex: string
  },
): Promise<void> {
  await q.query(
    `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, 'v2') ON CONFLICT DO NOTHING`,
    [
      r.id,
      r.patientId,
      r.deviceId,
      r.code,
      r.category,
      r.at.toISOString(),
      r.at.toISOString(),
      r.clientReadingId,
      r.valueSealed,
      r.contentIndex,
    ],
  )
}
