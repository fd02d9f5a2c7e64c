// Per-patient data keys (ADR-0009). Three layers, each replaceable on its own:
//   root keyring (ENCRYPTION_KEYRING; a Vault transit or cloud KMS behind the same Sealer port)
//     seals the key-encryption keys (kek_versions, one row per version);
//   a KEK wraps each patient's data keys (patient_data_keys);
//   a patient's data key seals that patient's PHI fields (platform/crypto/envelope.ts).
// `vigil keys rotate` adds a KEK version and re-wraps the data keys (cheap: no PHI is touched);
// the re-encryption job gives a patient a new data-key version and re-seals their values.
// Erasure destroys every data key of the patient: their ciphertexts, in this database and in
// every later backup, become unreadable, while rows and audit entries keep their identifiers (a
// backup taken before the erasure still holds the wrapped key: see ADR-0009 for the rule).
//
// Unwrapped keys are cached in memory for a short time (DATA_KEY_CACHE_MS), since ingestion
// would otherwise unwrap on every reading; erase() evicts at once on this instance.

import { randomBytes } from 'node:crypto'
import {
  DATA_KEY_BYTES,
  envelopeKeyVersion,
  openWithDataKey,
  sealManyWithDataKey,
  sealWithDataKey,
} from '../../platform/crypto/envelope.ts'
import type { Sealer } from '../../platform/crypto/keyring.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import * as repo from './data-keys.repository.ts'

export const DATA_KEY_CACHE_MS = 10_000
const CACHE_MAX = 10_000

export interface DataKey {
  readonly patientId: string
  readonly version: number
  readonly key: Buffer
}

/** The patient's data keys were destroyed (erasure): their PHI can no longer be read. */
export class PatientErasedError extends Error {
  override name = 'PatientErasedError'
  constructor(readonly patientId: string) {
    super(`the data keys of patient ${patientId} were destroyed (erased)`)
  }
}

export interface DataKeyStore {
  /** The patient's current data key, created (version 1) on first use. */
  current(patientId: string, q?: Queryable): Promise<DataKey>
  /** A given version, for opening values sealed before a re-encryption. */
  version(patientId: string, version: number, q?: Queryable): Promise<DataKey>
  /** A new data-key version for the patient (the re-encryption job seals under it). */
  addVersion(patientId: string, q?: Queryable): Promise<DataKey>
  /** Adds a KEK version and re-wraps every live data key under it; resumable (idempotent). */
  rotateKek(): Promise<{ kekVersion: number; rewrapped: number }>
  /** Re-wraps data keys still under an older KEK (what rotateKek does after adding a version). */
  rewrapAll(batchSize?: number): Promise<number>
  /** Root-keyring rotation: re-seals, under the root's current key, every KEK for which
   * needsRotation(sealed_key) is true (`keyring.needsRotation`); returns how many. */
  resealKeks(needsRotation: (sealed: string) => boolean): Promise<number>
  /** Crypto-shredding: destroys every data key of the patient, in q's transaction. */
  erase(patientId: string, q: Queryable): Promise<void>
  /** The data-key versions older than current still holding live keys (for the re-encryption job). */
  olderVersions(patientId: string): Promise<number[]>
  /** Destroys a superseded data-key version once nothing is sealed under it. */
  retireVersion(patientId: string, version: number): Promise<void>
  forget(patientId: string): void
}

export interface PatientCipher {
  seal(patientId: string, plaintext: string, aad: string, q?: Queryable): Promise<string>
  /** Many values of one patient under one fetch of the current key (a batch of readings). */
  sealMany(
    patientId: string,
    values: ReadonlyArray<{ readonly plaintext: string; readonly aad: string }>,
    q?: Queryable,
  ): Promise<string[]>
  open(patientId: string, sealed: string, aad: string, q?: Queryable): Promise<string>
}

interface Kek {
  readonly version: number
  readonly key: Buffer
}

const kekAad = (version: number) => `kek:${version}`
const dekAad = (patientId: string, version: number) => `dek:${patientId}:${version}`

export function createDataKeyStore(deps: {
  db: Database
  root: Sealer
  clock?: () => Date
  cacheMs?: number
}): DataKeyStore {
  const { db, root } = deps
  const clock = deps.clock ?? (() => new Date())
  const cacheMs = deps.cacheMs ?? DATA_KEY_CACHE_MS
  let keks = new Map<number, Kek>()
  let latestKek: Kek | undefined
  let keksLoadedAt = 0
  const cache = new Map<string, { key: DataKey; at: number }>()
  /**
   * Keys this store created inside a caller's transaction, by transaction: until it commits they
   * may never exist (a rollback), so they are kept for that transaction alone, never in `cache`.
   * Before, a first key made in a transaction that rolled back stayed cached for DATA_KEY_CACHE_MS,
   * and values sealed under it meanwhile could never be opened.
   */
  const createdIn = new WeakMap<Queryable, Map<string, DataKey>>()
  /** Fetches under way outside any transaction, shared by every caller waiting for the same key. */
  const loading = new Map<string, Promise<DataKey>>()

  async function loadKeks(q: Queryable = db): Promise<void> {
    const next = new Map<number, Kek>()
    for (const { version, sealedKey } of await repo.sealedKeks(q))
      next.set(version, { version, key: Buffer.from(root.unseal(sealedKey, kekAad(version)), 'base64') })
    keks = next
    latestKek = [...next.values()].at(-1)
    keksLoadedAt = Date.now()
  }

  async function addKekVersion(q: Queryable = db): Promise<Kek> {
    await loadKeks(q)
    const version = (latestKek?.version ?? 0) + 1
    const key = randomBytes(DATA_KEY_BYTES)
    await repo.insertKek(q, version, root.seal(key.toString('base64'), kekAad(version)))
    await loadKeks(q)
    return latestKek as Kek
  }

  async function currentKek(q: Queryable): Promise<Kek> {
    // Another process (`vigil keys rotate`) may have added a version: look again now and then, so
    // new data keys are not wrapped under a superseded KEK for the life of this instance.
    if (!latestKek || Date.now() - keksLoadedAt > cacheMs) await loadKeks(q)
    return latestKek ?? (await addKekVersion(q))
  }

  async function kek(version: number, q: Queryable): Promise<Kek> {
    let found = keks.get(version)
    if (!found) {
      await loadKeks(q)
      found = keks.get(version)
    }
    if (!found) throw new Error(`key-encryption key version ${version} is missing`)
    return found
  }

  const cacheKey = (patientId: string, version: number | 'current') => `${patientId}/${version}`
  function remember(name: string, key: DataKey): DataKey {
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string)
    cache.set(name, { key, at: Date.now() })
    return key
  }
  function cached(name: string): DataKey | undefined {
    const hit = cache.get(name)
    if (!hit) return undefined
    if (Date.now() - hit.at > cacheMs) {
      cache.delete(name)
      return undefined
    }
    return hit.key
  }

  async function unwrap(patientId: string, row: repo.WrappedKeyRow, q: Queryable): Promise<DataKey> {
    if (row.wrapped_key === null || row.kek_version === null) throw new PatientErasedError(patientId)
    const version = Number(row.version)
    const k = await kek(Number(row.kek_version), q)
    const key = Buffer.from(openWithDataKey(k.key, row.wrapped_key, dekAad(patientId, version)), 'base64')
    return { patientId, version, key }
  }

  /** A key this store created inside the caller's transaction q, for q alone (see `createdIn`). */
  const ownKey = (q: Queryable, name: string): DataKey | undefined =>
    q === db ? undefined : createdIn.get(q)?.get(name)

  async function insertVersion(patientId: string, version: number, q: Queryable): Promise<DataKey> {
    const k = await currentKek(q)
    const key = randomBytes(DATA_KEY_BYTES)
    const wrapped = sealWithDataKey(k.key, k.version, key.toString('base64'), dekAad(patientId, version))
    // Another process stored this version first (two first writes for a patient, two rotations):
    // its key is the patient's, not ours, which is stored nowhere and would seal values no one
    // could open. Its row is visible now (the insert waited for that transaction to commit).
    const made: DataKey = (await repo.insertDataKey(q, patientId, version, k.version, wrapped))
      ? { patientId, version, key }
      : await fetchVersion(patientId, version, q)
    if (q !== db) {
      const own = createdIn.get(q) ?? new Map<string, DataKey>()
      createdIn.set(q, own)
      own.set(cacheKey(patientId, version), made)
      own.set(cacheKey(patientId, 'current'), made)
    }
    return made
  }

  async function loadCurrent(patientId: string, q: Queryable): Promise<DataKey> {
    const own = ownKey(q, cacheKey(patientId, 'current'))
    if (own) return own
    const hit = cached(cacheKey(patientId, 'current'))
    if (hit) return hit
    let row = await repo.newestDataKey(q, patientId)
    if (!row) {
      const made = await insertVersion(patientId, 1, q)
      // Made in the caller's transaction: not in the shared cache, which would otherwise seal
      // others' values under a key that a rollback leaves stored nowhere.
      if (q !== db) return made
      row = await repo.newestDataKey(q, patientId)
    }
    if (!row) throw new Error('the first data key was not stored')
    const key = await unwrap(patientId, row, q)
    remember(cacheKey(patientId, key.version), key)
    return remember(cacheKey(patientId, 'current'), key)
  }

  async function fetchVersion(patientId: string, version: number, q: Queryable): Promise<DataKey> {
    const row = await repo.dataKeyVersion(q, patientId, version)
    if (!row) throw new PatientErasedError(patientId)
    return unwrap(patientId, row, q)
  }

  async function loadVersion(patientId: string, version: number, q: Queryable): Promise<DataKey> {
    const name = cacheKey(patientId, version)
    const own = ownKey(q, name)
    if (own) return own
    const hit = cached(name)
    if (hit) return hit
    // Inside a caller's transaction: its own read, on its connection (a shared fetch would tie
    // other callers to this transaction's fate). A version this store made in the transaction was
    // its `own` above, so what is read here is committed and may be cached.
    if (q !== db) return remember(name, await fetchVersion(patientId, version, q))
    // Outside one, one fetch per key however many values wait for it: a FHIR page opens its 50
    // readings at once, and each of them fetching the expired key would be 50 statements.
    const waiting = loading.get(name)
    if (waiting) return waiting
    const load = fetchVersion(patientId, version, q).then(
      (key) => {
        // Forgotten meanwhile (erasure, retirement): the key is handed to those already
        // waiting, as before, but not kept for anyone after.
        if (loading.get(name) !== load) return key
        loading.delete(name)
        return remember(name, key)
      },
      (err: unknown) => {
        if (loading.get(name) === load) loading.delete(name)
        throw err
      },
    )
    loading.set(name, load)
    return load
  }

  /** Drops every entry of the patient from a map keyed by `cacheKey`. */
  function dropPatient(names: Map<string, unknown> | undefined, patientId: string): void {
    if (names) for (const name of [...names.keys()]) if (name.startsWith(`${patientId}/`)) names.delete(name)
  }

  function forget(patientId: string): void {
    dropPatient(cache, patientId)
    dropPatient(loading, patientId)
  }

  async function rewrapAll(batchSize = 500): Promise<number> {
    // The newest KEK as stored now, not as cached: two rotations at once must both converge on it.
    await loadKeks(db)
    const target = await currentKek(db)
    let total = 0
    for (;;) {
      // Only keys under an OLDER version: with `<>`, two processes with different targets (two
      // rotations at once) would move the same keys back and forth forever.
      const rows = await repo.dataKeysUnderOlderKek(db, target.version, batchSize)
      if (rows.length === 0) return total
      for (const row of rows) {
        const dek = await unwrap(row.patient_id, row, db)
        const wrapped = sealWithDataKey(
          target.key,
          target.version,
          dek.key.toString('base64'),
          dekAad(row.patient_id, dek.version),
        )
        total += await repo.rewrapDataKey(db, {
          patientId: row.patient_id,
          version: dek.version,
          fromKekVersion: row.kek_version,
          toKekVersion: target.version,
          wrappedKey: wrapped,
        })
      }
    }
  }

  return {
    current: (patientId, q = db) => loadCurrent(patientId, q),
    version: (patientId, version, q = db) => loadVersion(patientId, version, q),
    async addVersion(patientId, q = db) {
      // From the stored current version, not a cached one another process may have superseded.
      forget(patientId)
      const current = await loadCurrent(patientId, q)
      await insertVersion(patientId, current.version + 1, q)
      forget(patientId)
      return loadCurrent(patientId, q)
    },
    async rotateKek() {
      const k = await addKekVersion(db)
      const rewrapped = await rewrapAll()
      return { kekVersion: k.version, rewrapped }
    },
    rewrapAll,
    async resealKeks(needsRotation) {
      let resealed = 0
      for (const { version, sealedKey } of await repo.sealedKeks(db)) {
        if (!needsRotation(sealedKey)) continue
        const plain = root.unseal(sealedKey, kekAad(version))
        resealed += await repo.resealKek(db, version, root.seal(plain, kekAad(version)), sealedKey)
      }
      await loadKeks(db)
      return resealed
    },
    async erase(patientId, q) {
      forget(patientId)
      dropPatient(createdIn.get(q), patientId)
      await repo.destroyAllDataKeys(q, patientId, clock())
    },
    async olderVersions(patientId) {
      return repo.olderLiveVersions(db, patientId)
    },
    async retireVersion(patientId, version) {
      forget(patientId)
      await repo.destroyDataKeyVersion(db, patientId, version, clock())
    },
    forget,
  }
}

/** Seals and opens a patient's PHI fields under their data keys; aad names the field's place. */
export function createPatientCipher(keys: DataKeyStore): PatientCipher {
  return {
    async seal(patientId, plaintext, aad, q) {
      const key = await keys.current(patientId, q)
      return sealWithDataKey(key.key, key.version, plaintext, `${patientId}:${aad}`)
    },
    async sealMany(patientId, values, q) {
      if (values.length === 0) return []
      const key = await keys.current(patientId, q)
      return sealManyWithDataKey(
        key.key,
        key.version,
        values.map((v) => ({ plaintext: v.plaintext, aad: `${patientId}:${v.aad}` })),
      )
    },
    async open(patientId, sealed, aad, q) {
      const key = await keys.version(patientId, envelopeKeyVersion(sealed), q)
      return openWithDataKey(key.key, sealed, `${patientId}:${aad}`)
    },
  }
}
