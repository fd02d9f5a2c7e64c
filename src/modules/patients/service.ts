// Patients: pseudonymous records whose demographics are sealed with the patient's own data key
// (ADR-0009). Identifiers are found through keyed blind indexes; names and birth dates are only
// ever compared after decryption, within the set of patients the caller may already see.

import { randomUUID } from 'node:crypto'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { PatientErasedError, type DataKeyStore, type PatientCipher } from './data-keys.ts'

export interface Identifier {
  readonly system: string
  readonly value: string
}

export interface Demographics {
  readonly name?: { readonly given?: readonly string[]; readonly family?: string }
  readonly birthDate?: string
  readonly gender?: 'male' | 'female' | 'other' | 'unknown'
  readonly identifiers?: readonly Identifier[]
}

export interface Patient {
  readonly id: string
  readonly userId: string | null
  readonly organisationId: string | null
  /** null when the patient was erased (their data keys destroyed) */
  readonly demographics: Demographics | null
  readonly version: number
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly erasedAt: Date | null
}

interface PatientRow {
  id: string
  user_id: string | null
  organisation_id: string | null
  demographics_sealed: string | null
  version: number
  created_at: Date | string
  updated_at: Date | string
  erased_at: Date | string | null
}

const DEMOGRAPHICS_AAD = 'patient-demographics'
const IDENTIFIER_PURPOSE = 'patient-identifier'

export interface PatientService {
  create(input: { id?: string; userId?: string | null; organisationId?: string | null; demographics: Demographics }, q?: Queryable): Promise<Patient>
  get(id: string, q?: Queryable): Promise<Patient | undefined>
  getMany(ids: readonly string[]): Promise<Patient[]>
  byUserId(userId: string): Promise<Patient | undefined>
  /** Replaces the demographics; with expectedVersion, refuses (returns 'conflict') when another write came first. onWrite runs inside the update's transaction (the request's audit entry). */
  update(id: string, demographics: Demographics, expectedVersion?: number, onWrite?: (tx: Queryable) => Promise<void>): Promise<Patient | 'conflict' | undefined>
  /** Ids of patients holding this identifier (exact match through the blind index). */
  findByIdentifier(identifier: Identifier): Promise<string[]>
  identifierIndex(identifier: Identifier): string
  /** Crypto-shredding (issue 7): destroys the patient's data keys in q's transaction. */
  erase(id: string, q: Queryable): Promise<void>
}

export function createPatientService(deps: { db: Database; keys: DataKeyStore; cipher: PatientCipher; keyring: Pick<Keyring, 'blindIndex'>; clock?: () => Date }): PatientService {
  const { db, cipher, keyring } = deps
  const clock = deps.clock ?? (() => new Date())
  const identifierIndex = (i: Identifier) => keyring.blindIndex(`${i.system}|${i.value}`, IDENTIFIER_PURPOSE)

  async function present(row: PatientRow, q: Queryable): Promise<Patient> {
    let demographics: Demographics | null = null
    if (row.erased_at === null && row.demographics_sealed !== null) {
      try {
        demographics = JSON.parse(await cipher.open(row.id, row.demographics_sealed, DEMOGRAPHICS_AAD, q)) as Demographics
      } catch (err) {
        if (!(err instanceof PatientErasedError)) throw err
      }
    }
    return {
      id: row.id,
      userId: row.user_id,
      organisationId: row.organisation_id,
      demographics,
      version: Number(row.version),
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
      erasedAt: row.erased_at === null ? null : new Date(row.erased_at),
    }
  }

  const COLUMNS = 'id, user_id, organisation_id, demographics_sealed, version, created_at, updated_at, erased_at'

  const service: PatientService = {
    async create(input, q) {
      // Three statements (the row, its data key, the sealed demographics): one transaction, so a
      // crash never leaves a patient without their demographics.
      if (q === undefined) return db.transaction((tx) => service.create(input, tx))
      const id = input.id ?? randomUUID()
      const now = clock()
      // The row first (the data key references it), then the sealed demographics.
      await q.query('INSERT INTO patients (id, user_id, organisation_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)', [id, input.userId ?? null, input.organisationId ?? null, now])
      const sealed = await cipher.seal(id, JSON.stringify(input.demographics), DEMOGRAPHICS_AAD, q)
      const index = (input.demographics.identifiers ?? []).map(identifierIndex)
      const { rows } = await q.query<PatientRow>(`UPDATE patients SET demographics_sealed = $2, identifier_index = $3 WHERE id = $1 RETURNING ${COLUMNS}`, [id, sealed, index])
      return present(rows[0] as PatientRow, q)
    },
    async get(id, q = db) {
      const { rows } = await q.query<PatientRow>(`SELECT ${COLUMNS} FROM patients WHERE id = $1`, [id])
      return rows[0] && present(rows[0], q)
    },
    async getMany(ids) {
      if (ids.length === 0) return []
      const { rows } = await db.query<PatientRow>(`SELECT ${COLUMNS} FROM patients WHERE id = ANY($1::uuid[]) ORDER BY id`, [ids])
      return Promise.all(rows.map((r) => present(r, db)))
    },
    async byUserId(userId) {
      const { rows } = await db.query<PatientRow>(`SELECT ${COLUMNS} FROM patients WHERE user_id = $1`, [userId])
      return rows[0] && present(rows[0], db)
    },
    async update(id, demographics, expectedVersion, onWrite) {
      return db.transaction(async (tx) => {
        const { rows: current } = await tx.query<PatientRow>(`SELECT ${COLUMNS} FROM patients WHERE id = $1 FOR UPDATE`, [id])
        const row = current[0]
        if (!row || row.erased_at !== null) return undefined
        if (expectedVersion !== undefined && Number(row.version) !== expectedVersion) return 'conflict'
        const sealed = await cipher.seal(id, JSON.stringify(demographics), DEMOGRAPHICS_AAD, tx)
        const { rows } = await tx.query<PatientRow>(
          `UPDATE patients SET demographics_sealed = $2, identifier_index = $3, version = version + 1, updated_at = $4 WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, sealed, (demographics.identifiers ?? []).map(identifierIndex), clock()],
        )
        await onWrite?.(tx)
        return present(rows[0] as PatientRow, tx)
      })
    },
    async findByIdentifier(identifier) {
      const { rows } = await db.query<{ id: string }>('SELECT id FROM patients WHERE identifier_index @> ARRAY[$1]::text[] AND erased_at IS NULL', [identifierIndex(identifier)])
      return rows.map((r) => r.id)
    },
    identifierIndex,
    async erase(id, q) {
      await deps.keys.erase(id, q)
    },
  }
  return service
}
