// SQL for the device registry: devices and their bindings to patients (one at a time, history kept).

import type { Queryable } from '../../platform/db/index.ts'

export const DEVICE_TYPES = [
  'glucometer',
  'blood-pressure-monitor',
  'pulse-oximeter',
  'scale',
  'thermometer',
  'cgm',
  'other',
] as const
export type DeviceType = (typeof DEVICE_TYPES)[number]

export interface Device {
  readonly id: string
  readonly clientId: string | null
  readonly organisationId: string | null
  readonly manufacturer: string
  readonly model: string
  readonly serial: string
  readonly type: DeviceType
  readonly firmwareVersion: string | null
  readonly status: 'active' | 'disabled'
  readonly dailyQuota: number | null
  /** The patient it is bound to now. */
  readonly patientId: string | null
  readonly boundAt: Date | null
  readonly createdAt: Date
  readonly updatedAt: Date
}

export interface Binding {
  readonly id: string
  readonly patientId: string
  readonly boundAt: Date
  readonly unboundAt: Date | null
  readonly boundBy: string | null
}

const SELECT = `SELECT d.id, d.client_id, d.organisation_id, d.manufacturer, d.model, d.serial, d.type, d.firmware_version, d.status, d.daily_quota,
                       d.created_at, d.updated_at, b.patient_id, b.bound_at
                  FROM devices d LEFT JOIN device_bindings b ON b.device_id = d.id AND b.unbound_at IS NULL`

function toDevice(r: Record<string, unknown>): Device {
  return {
    id: r.id as string,
    clientId: (r.client_id as string | null) ?? null,
    organisationId: (r.organisation_id as string | null) ?? null,
    manufacturer: r.manufacturer as string,
    model: r.model as string,
    serial: r.serial as string,
    type: r.type as DeviceType,
    firmwareVersion: (r.firmware_version as string | null) ?? null,
    status: r.status as 'active' | 'disabled',
    dailyQuota: r.daily_quota === null || r.daily_quota === undefined ? null : Number(r.daily_quota),
    patientId: (r.patient_id as string | null) ?? null,
    boundAt: r.bound_at ? new Date(r.bound_at as string) : null,
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  }
}

/** Whether the organisation exists: a device may be registered only to one that does. */
export async function organisationExists(q: Queryable, id: string): Promise<boolean> {
  const { rows } = await q.query('SELECT 1 FROM published_organisations WHERE id = $1', [id])
  return rows.length > 0
}

export async function insertDevice(
  q: Queryable,
  d: Pick<
    Device,
    | 'id'
    | 'clientId'
    | 'organisationId'
    | 'manufacturer'
    | 'model'
    | 'serial'
    | 'type'
    | 'firmwareVersion'
    | 'dailyQuota'
  >,
  now: Date,
): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO devices (id, client_id, organisation_id, manufacturer, model, serial, type, firmware_version, daily_quota, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (manufacturer, model, serial) DO NOTHING`,
    [
      d.id,
      d.clientId,
      d.organisationId,
      d.manufacturer,
      d.model,
      d.serial,
      d.type,
      d.firmwareVersion,
      d.dailyQuota,
      now.toISOString(),
    ],
  )
  return rowCount > 0
}

export async function findDevice(q: Queryable, id: string): Promise<Device | undefined> {
  const { rows } = await q.query<Record<string, unknown>>(`${SELECT} WHERE d.id = $1`, [id])
  return rows[0] && toDevice(rows[0])
}

export async function findDeviceBySerial(
  q: Queryable,
  manufacturer: string,
  model: string,
  serial: string,
): Promise<Device | undefined> {
  const { rows } = await q.query<Record<string, unknown>>(
    `${SELECT} WHERE d.manufacturer = $1 AND d.model = $2 AND d.serial = $3`,
    [manufacturer, model, serial],
  )
  return rows[0] && toDevice(rows[0])
}

/** Every device (organisations null), or those of the given organisations. */
export async function listDevices(q: Queryable, organisations: readonly string[] | null): Promise<Device[]> {
  const { rows } =
    organisations === null
      ? await q.query<Record<string, unknown>>(`${SELECT} ORDER BY d.created_at, d.id`)
      : await q.query<Record<string, unknown>>(
          `${SELECT} WHERE d.organisation_id = ANY($1::uuid[]) ORDER BY d.created_at, d.id`,
          [organisations],
        )
  return rows.map(toDevice)
}

export async function updateDevice(
  q: Queryable,
  id: string,
  changes: {
    firmwareVersion?: string | null | undefined
    status?: 'active' | 'disabled' | undefined
    dailyQuota?: number | null | undefined
  },
  now: Date,
): Promise<void> {
  const sets: string[] = []
  const params: unknown[] = [id, now.toISOString()]
  const set = (column: string, value: unknown) => {
    params.push(value)
    sets.push(`${column} = $${params.length}`)
  }
  if (changes.firmwareVersion !== undefined) set('firmware_version', changes.firmwareVersion)
  if (changes.status !== undefined) set('status', changes.status)
  if (changes.dailyQuota !== undefined) set('daily_quota', changes.dailyQuota)
  await q.query(
    `UPDATE devices SET ${[...sets, 'updated_at = $2', 'version = version + 1'].join(', ')} WHERE id = $1`,
    params,
  )
}

/** Locks the device row for a change of binding (two binds cannot interleave). */
export async function lockDevice(q: Queryable, id: string): Promise<void> {
  await q.query('SELECT id FROM devices WHERE id = $1 FOR UPDATE', [id])
}

export async function insertBinding(
  q: Queryable,
  b: { id: string; deviceId: string; patientId: string; boundBy: string },
  now: Date,
): Promise<void> {
  await q.query(
    'INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by) VALUES ($1, $2, $3, $4, $5)',
    [b.id, b.deviceId, b.patientId, now.toISOString(), b.boundBy],
  )
}

export async function endBinding(q: Queryable, deviceId: string, now: Date): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE device_bindings SET unbound_at = $2 WHERE device_id = $1 AND unbound_at IS NULL',
    [deviceId, now.toISOString()],
  )
  return rowCount > 0
}

export async function bindingHistory(q: Queryable, deviceId: string): Promise<Binding[]> {
  const { rows } = await q.query<{
    id: string
    patient_id: string
    bound_at: string
    unbound_at: string | null
    bound_by: string | null
  }>(
    'SELECT id, patient_id, bound_at, unbound_at, bound_by FROM device_bindings WHERE device_id = $1 ORDER BY bound_at DESC, id',
    [deviceId],
  )
  return rows.map((r) => ({
    id: r.id,
    patientId: r.patient_id,
    boundAt: new Date(r.bound_at),
    unboundAt: r.unbound_at ? new Date(r.unbound_at) : null,
    boundBy: r.bound_by,
  }))
}

/** Stores the hash of the device's one pairing code (null spends it). */
export async function setPairingCodeHash(q: Queryable, id: string, hash: string | null): Promise<void> {
  await q.query('UPDATE devices SET pairing_code_hash = $2 WHERE id = $1', [id, hash])
}

export async function pairingCodeHash(q: Queryable, id: string): Promise<string | null> {
  const { rows } = await q.query<{ pairing_code_hash: string | null }>(
    'SELECT pairing_code_hash FROM devices WHERE id = $1',
    [id],
  )
  return rows[0]?.pairing_code_hash ?? null
}

/** The device registered with this OAuth client, if any. */
export async function deviceOfClient(
  q: Queryable,
  clientId: string,
): Promise<{ id: string; status: string } | undefined> {
  const { rows } = await q.query<{ id: string; status: string }>(
    'SELECT id, status FROM devices WHERE client_id = $1',
    [clientId],
  )
  return rows[0]
}
