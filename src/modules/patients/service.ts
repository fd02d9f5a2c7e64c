// Patients: pseudonymous records whose demographics are sealed with the patient's own data key
// (ADR-0009). Identifiers are found through keyed blind indexes; names and birth dates are only
// ever compared after decryption, within the set of patients the caller may already see.

import { randomUUID } from 'node:crypto'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { PatientErasedError, type DataKeyStore, type PatientCipher } from './data-keys.ts'
import * as repo from './repository.ts'

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const DEMOGRAPHICS_AAD = 'patient-demographics'
const IDENTIFIER_PURPOSE = 'patient-identifier'

export interface PatientService {
  create(
    input: {
      id?: string
      userId?: string | null
      organisationId?: string | null
      demographics: Demographics
    },
    q?: Queryable,
  ): Promise<Patient>
  get(id: string, q?: Queryable): Promise<Patient | undefined>
  getMany(ids: readonly string[]): Promise<Patient[]>
  byUserId(userId: string): Promise<Patient | undefined>
  /** Id of the user's own patient record, unless it was erased (nothing decrypted). */
  activeIdOfUser(userId: string): Promise<string | undefined>
  /** user id → patient id, for the users among userIds who have a patient record (ids not UUIDs are ignored). */
  idsOfUsers(userIds: readonly string[]): Promise<Map<string, string>>
  /** The user account of a patient record, if it has one (undefined for an id not a UUID). */
  userIdOf(patientId: string): Promise<string | undefined>
  /** undefined: no such patient; null: not erased; else when it was erased. forUpdate locks the row (q's transaction). */
  erasedAt(id: string, q?: Queryable, opts?: { forUpdate?: boolean }): Promise<Date | null | undefined>
  /** Replaces the demographics; with expectedVersion, refuses (returns 'conflict') when another write came first. onWrite runs inside the update's transaction (the request's audit entry). */
  update(
    id: string,
    demographics: Demographics,
    expectedVersion?: number,
    onWrite?: (tx: Queryable) => Promise<void>,
  ): Promise<Patient | 'conflict' | undefined>
  /** Ids of patients holding this identifier (exact match through the blind index). */
  findByIdentifier(identifier: Identifier): Promise<string[]>
  identifierIndex(identifier: Identifier): string
  /** Crypto-shredding (issue 7): destroys the patient's data keys in q's transaction. */
  erase(id: string, q: Queryable): Promise<void>
}

export function createPatientService(deps: {
  db: Database
  keys: DataKeyStore
  cipher: PatientCipher
  keyring: Pick<Keyring, 'blindIndex'>
  clock?: () => Date
}): PatientService {
  const { db, cipher, keyring } = deps
  const clock = deps.clock ?? (() => new Date())
  const identifierIndex = (i: Identifier) => keyring.blindIndex(`${i.system}|${i.value}`, IDENTIFIER_PURPOSE)

  async function present(record: repo.PatientRecord, q: Queryable): Promise<Patient> {
    let demographics: Demographics | null = null
    const { demographicsSealed, ...rest } = record
    if (rest.erasedAt === null && demographicsSealed !== null) {
      try {
        demographics = JSON.parse(
          await cipher.open(record.id, demographicsSealed, DEMOGRAPHICS_AAD, q),
        ) as Demographics
      } catch (err) {
        if (!(err instanceof PatientErasedError)) throw err
      }
    }
    return { ...rest, demographics }
  }

  const service: PatientService = {
    async create(input, q) {
      // Three statements (the row, its data key, the sealed demographics): one transaction, so a
      // crash never leaves a patient without their demographics.
      if (q === undefined) return db.transaction((tx) => service.create(input, tx))
      const id = input.id ?? randomUUID()
      // The row first (the data key references it), then the sealed demographics.
      await repo.insertPatient(
        q,
        { id, userId: input.userId ?? null, organisationId: input.organisationId ?? null },
        clock(),
      )
      const sealed = await cipher.seal(id, JSON.stringify(input.demographics), DEMOGRAPHICS_AAD, q)
      const index = (input.demographics.identifiers ?? []).map(identifierIndex)
      return present(await repo.setDemographics(q, id, sealed, index), q)
    },
    async get(id, q = db) {
      const record = await repo.findPatient(q, id)
      return record && present(record, q)
    },
    async getMany(ids) {
      const records = await repo.findPatients(db, ids)
      return Promise.all(records.map((r) => present(r, db)))
    },
    async byUserId(userId) {
      const record = await repo.findPatientByUser(db, userId)
      return record && present(record, db)
    },
    activeIdOfUser: (userId) => repo.activePatientIdOfUser(db, userId),
    idsOfUsers: (userIds) => repo.patientIdsOfUsers(db, [...new Set(userIds.filter((u) => UUID.test(u)))]),
    userIdOf: async (patientId) => (UUID.test(patientId) ? repo.userIdOfPatient(db, patientId) : undefined),
    erasedAt: (id, q = db, opts = {}) => repo.patientErasedAt(q, id, opts),
    async update(id, demographics, expectedVersion, onWrite) {
      return db.transaction(async (tx) => {
        const current = await repo.findPatient(tx, id, { forUpdate: true })
        if (!current || current.erasedAt !== null) return undefined
        if (expectedVersion !== undefined && current.version !== expectedVersion) return 'conflict'
        const sealed = await cipher.seal(id, JSON.stringify(demographics), DEMOGRAPHICS_AAD, tx)
        const record = await repo.replaceDemographics(
          tx,
          id,
          sealed,
          (demographics.identifiers ?? []).map(identifierIndex),
          clock(),
        )
        await onWrite?.(tx)
        return present(record, tx)
      })
    },
    async findByIdentifier(identifier) {
      return repo.patientIdsByIdentifierIndex(db, identifierIndex(identifier))
    },
    identifierIndex,
    async erase(id, q) {
      await deps.keys.erase(id, q)
    },
  }
  return service
}
