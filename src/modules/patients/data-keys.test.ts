// Per-patient data keys (ADR-0009) on a real (in-memory PGlite) database: KEK rotation re-wraps
// without touching PHI, two rotations at once converge, the root keyring can rotate under the
// KEKs, superseded versions are destroyed only when asked, erasure destroys every version.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { migrate, openDatabase, type Database, type Queryable } from '../../platform/db/index.ts'
import { createKeyring, keyringSealer } from '../../platform/crypto/keyring.ts'
import { createDataKeyStore, createPatientCipher, PatientErasedError } from './data-keys.ts'

const k = () => randomBytes(32).toString('base64')

describe('data keys', () => {
  let db: Database
  const ring1 = `root-1:${k()}`
  const ring2 = `${ring1},root-2:${k()}`
  before(async () => {
    db = await openDatabase({})
    await migrate(db)
  })
  after(() => db.close())

  async function patient(): Promise<string> {
    const id = randomUUID()
    await db.query('INSERT INTO patients (id) VALUES ($1)', [id])
    return id
  }

  test('[SRS-CRYPTO-021] rotateKek adds a KEK version and re-wraps every live data key; values sealed before stay readable', async () => {
    const keys = createDataKeyStore({ db, root: keyringSealer(createKeyring(ring1)) })
    const cipher = createPatientCipher(keys)
    const ids = [await patient(), await patient(), await patient()]
    const sealed = await Promise.all(ids.map((id) => cipher.seal(id, `value of ${id}`, 'x')))
    const before = Number(
      (await db.query<{ v: number }>('SELECT max(version) AS v FROM kek_versions')).rows[0]?.v,
    )
    const { kekVersion, rewrapped } = await keys.rotateKek()
    assert.equal(kekVersion, before + 1)
    assert.ok(rewrapped >= 3)
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM patient_data_keys WHERE wrapped_key IS NOT NULL AND kek_version <> $1',
      [kekVersion],
    )
    assert.equal(Number(rows[0]?.n), 0, 'no live data key is left under an older KEK')
    // A fresh store (another instance, no cache) opens the old values through the new wrapping.
    const fresh = createPatientCipher(createDataKeyStore({ db, root: keyringSealer(createKeyring(ring1)) }))
    for (const [i, id] of ids.entries())
      assert.equal(await fresh.open(id, sealed[i] as string, 'x'), `value of ${id}`)
  })

  test('[SRS-CRYPTO-021] two stores rotating at once converge on the newest KEK (no livelock, nothing lost)', async () => {
    const a = createDataKeyStore({ db, root: keyringSealer(createKeyring(ring1)) })
    const b = createDataKeyStore({ db, root: keyringSealer(createKeyring(ring1)) })
    const id = await patient()
    const sealed = await createPatientCipher(a).seal(id, 'v', 'x')
    const [ra, rb] = await Promise.all([a.rotateKek(), b.rotateKek()])
    const newest = Math.max(ra.kekVersion, rb.kekVersion)
    await a.rewrapAll()
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM patient_data_keys WHERE wrapped_key IS NOT NULL AND kek_version < $1',
      [newest],
    )
    assert.equal(Number(rows[0]?.n), 0)
    assert.equal(
      await createPatientCipher(createDataKeyStore({ db, root: keyringSealer(createKeyring(ring1)) })).open(
        id,
        sealed,
        'x',
      ),
      'v',
    )
  })

  test('[SRS-CRYPTO-022] root keyring rotation: KEKs sealed under an older root key are re-sealed under the newest, and the old root key can then be dropped', async () => {
    const id = await patient()
    const sealed = await createPatientCipher(
      createDataKeyStore({ db, root: keyringSealer(createKeyring(ring1)) }),
    ).seal(id, 'before', 'x')
    const rotated = createKeyring(ring2)
    const keys = createDataKeyStore({ db, root: keyringSealer(rotated) })
    const resealed = await keys.resealKeks((s) => rotated.needsRotation(s))
    assert.ok(resealed >= 1)
    const { rows } = await db.query<{ sealed_key: string }>('SELECT sealed_key FROM kek_versions')
    assert.ok(rows.every((r) => !rotated.needsRotation(r.sealed_key)))
    assert.equal(await keys.resealKeks((s) => rotated.needsRotation(s)), 0, 'idempotent')
    // Only the new root key in the ring: everything still opens.
    const onlyNew = createKeyring(ring2.split(',')[1] as string)
    assert.equal(
      await createPatientCipher(createDataKeyStore({ db, root: keyringSealer(onlyNew) })).open(
        id,
        sealed,
        'x',
      ),
      'before',
    )
  })

  test('[SRS-CRYPTO-023] a new data-key version seals new values; the old version opens old ones until retired, and the current version cannot be retired', async () => {
    const keys = createDataKeyStore({ db, root: keyringSealer(createKeyring(ring2)) })
    const cipher = createPatientCipher(keys)
    const id = await patient()
    const v1 = await cipher.seal(id, 'old', 'x')
    const added = await keys.addVersion(id)
    assert.equal(added.version, 2)
    const v2 = await cipher.seal(id, 'new', 'x')
    assert.match(v2, /^e1\.2\./)
    assert.deepEqual(await keys.olderVersions(id), [1])
    assert.equal(await cipher.open(id, v1, 'x'), 'old')
    await keys.retireVersion(id, 2)
    assert.equal(await cipher.open(id, v2, 'x'), 'new', 'the current version is never retired')
    await keys.retireVersion(id, 1)
    assert.deepEqual(await keys.olderVersions(id), [])
    await assert.rejects(cipher.open(id, v1, 'x'), PatientErasedError)
  })

  test('[SRS-CRYPTO-024] erase destroys every data key of the patient: nothing of theirs opens, on this or a fresh instance', async () => {
    const keys = createDataKeyStore({ db, root: keyringSealer(createKeyring(ring2)) })
    const cipher = createPatientCipher(keys)
    const id = await patient()
    const sealed = await cipher.seal(id, 'gone', 'x')
    await keys.addVersion(id)
    await db.transaction((tx) => keys.erase(id, tx))
    await assert.rejects(cipher.open(id, sealed, 'x'), PatientErasedError)
    await assert.rejects(cipher.seal(id, 'new', 'x'), PatientErasedError)
    await assert.rejects(
      createPatientCipher(createDataKeyStore({ db, root: keyringSealer(createKeyring(ring2)) })).open(
        id,
        sealed,
        'x',
      ),
      PatientErasedError,
    )
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM patient_data_keys WHERE patient_id = $1 AND wrapped_key IS NOT NULL',
      [id],
    )
    assert.equal(Number(rows[0]?.n), 0)
  })

  test('[SRS-PERF-596] values of one patient opened at once fetch the expired key once; a fetch under way when the patient is erased is not kept', async () => {
    const id = await patient()
    const writer = createPatientCipher(createDataKeyStore({ db, root: keyringSealer(createKeyring(ring2)) }))
    const sealed = await Promise.all(Array.from({ length: 50 }, (_, i) => writer.seal(id, `v${i}`, `r${i}`)))
    // A reader whose cache is cold (another instance, or the key's time in the cache ran out).
    const fetches: string[] = []
    const counted: Database = {
      ...db,
      query(sql, params) {
        if (sql.includes('FROM patient_data_keys')) fetches.push(sql)
        return db.query(sql, params)
      },
    }
    const keys = createDataKeyStore({ db: counted, root: keyringSealer(createKeyring(ring2)) })
    const reader = createPatientCipher(keys)
    const opened = await Promise.all(sealed.map((v, i) => reader.open(id, v, `r${i}`)))
    assert.deepEqual(
      opened,
      sealed.map((_, i) => `v${i}`),
    )
    assert.equal(fetches.length, 1, 'fifty values waiting for one key: one fetch')
    // A failed fetch is not shared with later callers: the next one fetches again.
    const stranger = randomUUID()
    await assert.rejects(reader.open(stranger, sealed[0] as string, 'r0'), PatientErasedError)
    await assert.rejects(reader.open(stranger, sealed[0] as string, 'r0'), PatientErasedError)
    assert.equal(fetches.length, 3)
    // Erased while a fetch is under way: those already waiting get the key they asked for before
    // the erasure, but it is not kept, so the next open goes to the database and finds it gone.
    const other = await patient()
    const value = await writer.seal(other, 'kept?', 'x')
    const fresh = createDataKeyStore({ db, root: keyringSealer(createKeyring(ring2)) })
    const inFlight = createPatientCipher(fresh).open(other, value, 'x')
    await db.transaction((tx) => fresh.erase(other, tx))
    assert.equal(await inFlight, 'kept?')
    await assert.rejects(createPatientCipher(fresh).open(other, value, 'x'), PatientErasedError)
  })

  test('[SRS-CRYPTO-032] a data key made inside a transaction that rolls back is never used afterwards: what is sealed next is stored under a key that exists, and opens on a fresh instance', async () => {
    const keys = createDataKeyStore({ db, root: keyringSealer(createKeyring(ring2)) })
    const cipher = createPatientCipher(keys)
    const fresh = () =>
      createPatientCipher(createDataKeyStore({ db, root: keyringSealer(createKeyring(ring2)) }))
    const rollback = async (fn: (tx: Queryable) => Promise<unknown>) =>
      assert.rejects(
        db.transaction(async (tx) => {
          await fn(tx)
          throw new Error('rolled back on purpose')
        }),
        /rolled back on purpose/,
      )

    // The patient's first key, made in a transaction that rolls back (a failed registration).
    const id = await patient()
    await rollback(async (tx) => {
      const inside = await cipher.seal(id, 'in the rolled-back transaction', 'a', tx)
      assert.equal(await cipher.open(id, inside, 'a', tx), 'in the rolled-back transaction')
    })
    const after = await cipher.seal(id, 'sealed after the rollback', 'b')
    assert.equal(await fresh().open(id, after, 'b'), 'sealed after the rollback')

    // A new version made in a transaction that rolls back: the committed version stays current.
    await rollback((tx) => keys.addVersion(id, tx))
    const later = await cipher.seal(id, 'sealed after the second rollback', 'c')
    assert.equal(await fresh().open(id, later, 'c'), 'sealed after the second rollback')
    assert.deepEqual(await keys.olderVersions(id), [])

    // Committed, the same transaction's key serves everyone: values sealed inside open outside.
    const other = await patient()
    const committed = await db.transaction((tx) => cipher.seal(other, 'committed', 'd', tx))
    assert.equal(await cipher.open(other, committed, 'd'), 'committed')
    assert.equal(await fresh().open(other, committed, 'd'), 'committed')
  })

  test('[SRS-CRYPTO-033] when another instance stores a patient’s key version first, inside a transaction, what is sealed uses the stored key, never one stored nowhere', async () => {
    const root = () => keyringSealer(createKeyring(ring2))
    const ours = createDataKeyStore({ db, root: root() })
    const theirs = createDataKeyStore({ db, root: root() })
    const fresh = () => createPatientCipher(createDataKeyStore({ db, root: root() }))

    // The transaction as our store sees it: just before our store's first insert of a key, the
    // other instance does its part on the same transaction.
    const racingOn = (tx: Queryable, theirPart: () => Promise<unknown>) => {
      const racing = {
        raced: false,
        query: async (text: string, params?: unknown[]) => {
          if (!racing.raced && text.startsWith('INSERT INTO patient_data_keys')) {
            racing.raced = true
            await theirPart()
          }
          return tx.query(text, params)
        },
      }
      return racing as Queryable & { raced: boolean }
    }

    // Two instances write a new patient's first values at once. Ours reads "no key yet"; theirs
    // stores version 1 before ours inserts it. On PostgreSQL the second insert waits for the first
    // transaction and finds the version taken; here the other instance writes on the same
    // transaction just before our insert, which meets the same taken version.
    const id = await patient()
    const sealed = await db.transaction(async (tx) => {
      const racing = racingOn(tx, () => theirs.current(id, tx))
      const value = await createPatientCipher(ours).seal(id, 'first reading', 'r', racing)
      assert.ok(racing.raced, 'the other instance stored its key first')
      return value
    })
    assert.equal(await fresh().open(id, sealed, 'r'), 'first reading')
    assert.equal(await createPatientCipher(ours).open(id, sealed, 'r'), 'first reading')

    // The same for a new version: a rotation that meets the version already added by another.
    const other = await patient()
    await createPatientCipher(ours).seal(other, 'v1', 'r')
    const rotated = await db.transaction(async (tx) => {
      const racing = racingOn(tx, () => theirs.addVersion(other, tx))
      const key = await ours.addVersion(other, racing)
      assert.ok(racing.raced, 'the other instance added the version first')
      const v = await createPatientCipher(ours).seal(other, 'after rotation', 'r', racing)
      return { v, key }
    })
    assert.equal(rotated.key.version, 2)
    assert.equal(await fresh().open(other, rotated.v, 'r'), 'after rotation')
  })
})
