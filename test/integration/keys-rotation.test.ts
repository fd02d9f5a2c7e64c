// `vigil keys rotate`, `rotate-checkpoint` and `rotate-signing` through the real CLI process
// (ADR-0009, ADR-0006): a new KEK version re-wraps every data key and old data stay readable; a
// root-keyring rotation re-seals the KEKs; the checkpoint key rotates with its old public key kept,
// so `vigil audit verify` still passes; every key operation leaves a system audit entry.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Database } from '../../src/platform/db/index.ts'
import { openReading } from '../../src/modules/device-data/index.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { cliDatabase, insertReading, patientCrypto, type CliDatabase } from './keys-support.ts'

describe('vigil keys rotate / rotate-checkpoint / rotate-signing', () => {
  let cdb: CliDatabase
  const readings: Array<{ id: string; patientId: string; value: number }> = []

  async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const db = await cdb.open()
    try {
      return await fn(db)
    } finally {
      await db.close()
    }
  }

  async function allReadable(ring = TEST_KEYRING): Promise<void> {
    await withDb(async (db) => {
      const { cipher } = patientCrypto(db, ring)
      for (const r of readings) {
        const { rows } = await db.query<{ value_sealed: string }>(
          'SELECT value_sealed FROM readings WHERE id = $1',
          [r.id],
        )
        assert.equal(
          (await openReading(cipher, r.patientId, r.id, (rows[0] as { value_sealed: string }).value_sealed))
            .value,
          r.value,
        )
      }
    })
  }

  async function entries(
    action: string,
  ): Promise<Array<{ actor_kind: string; resource_id: string | null; decision_rule: string | null }>> {
    return withDb(
      async (db) =>
        (
          await db.query<{ actor_kind: string; resource_id: string | null; decision_rule: string | null }>(
            'SELECT actor_kind, resource_id, decision_rule FROM audit_entries WHERE action = $1 ORDER BY occurred_at',
            [action],
          )
        ).rows,
    )
  }

  before(async () => {
    cdb = await cliDatabase('keys-rotate')
    await withDb(async (db) => {
      const { patients, cipher } = patientCrypto(db)
      for (let p = 0; p < 3; p++) {
        const patient = await patients.create({
          demographics: { name: { family: `Rotate${p}` }, birthDate: '1970-01-01' },
        })
        for (let i = 0; i < 4; i++) {
          const value = 100 + p * 10 + i
          readings.push({
            id: await insertReading(db, cipher, patient.id, value),
            patientId: patient.id,
            value,
          })
        }
      }
    })
  })
  after(() => cdb.drop())

  test('[SRS-CRYPTO-025] `vigil keys rotate` adds a KEK version, re-wraps every data key, prints { kekVersion, rewrapped } and audits key.rotate; old data stay readable', async () => {
    const out = await cdb.cli(['keys', 'rotate'])
    assert.equal(out.code, 0, out.stderr)
    const result = JSON.parse(out.stdout) as { kekVersion: number; rewrapped: number }
    assert.equal(result.kekVersion, 2)
    assert.equal(result.rewrapped, 3, 'one data key per patient')
    await withDb(async (db) => {
      const { rows } = await db.query<{ kek_version: number }>(
        'SELECT DISTINCT kek_version FROM patient_data_keys WHERE wrapped_key IS NOT NULL',
      )
      assert.deepEqual(
        rows.map((r) => Number(r.kek_version)),
        [2],
      )
    })
    await allReadable()
    const audited = await entries('key.rotate')
    assert.equal(audited.length, 1)
    assert.equal(audited[0]?.actor_kind, 'system')
    assert.equal(audited[0]?.resource_id, '2')
    assert.match(audited[0]?.decision_rule ?? '', /rewrapped=3/)
  })

  test('[SRS-CRYPTO-026] with a new root key appended to ENCRYPTION_KEYRING, `vigil keys rotate` re-seals every KEK under it; the data then open without the old root key', async () => {
    const newKey = `test-2:${randomBytes(32).toString('base64')}`
    const ring = `${TEST_KEYRING},${newKey}`
    const out = await cdb.cli(['keys', 'rotate'], { ENCRYPTION_KEYRING: ring })
    assert.equal(out.code, 0, out.stderr)
    const result = JSON.parse(out.stdout) as { kekVersion: number; resealedKeks: number }
    assert.equal(result.kekVersion, 3)
    assert.equal(result.resealedKeks, 2, 'KEK versions 1 and 2 were sealed under test-1')
    await withDb(async (db) => {
      const { rows } = await db.query<{ sealed_key: string }>('SELECT sealed_key FROM kek_versions')
      assert.ok(rows.every((r) => r.sealed_key.startsWith('v1.test-2.')))
    })
    await allReadable(newKey)
  })

  test('[SRS-AUDIT-020] `vigil keys rotate-checkpoint` retires the checkpoint key but keeps its public key: `vigil audit verify` passes before and after a checkpoint under the new key', async () => {
    const first = await cdb.cli(['audit', 'checkpoint'])
    assert.equal(first.code, 0, first.stderr)
    const rotated = await cdb.cli(['keys', 'rotate-checkpoint'])
    assert.equal(rotated.code, 0, rotated.stderr)
    const kid = /^new checkpoint key (\S+)$/m.exec(rotated.stdout)?.[1]
    assert.ok(kid)
    const verifyOld = await cdb.cli(['audit', 'verify'])
    assert.equal(verifyOld.code, 0, verifyOld.stderr + verifyOld.stdout)
    const second = await cdb.cli(['audit', 'checkpoint'])
    assert.equal(second.code, 0, second.stderr)
    await withDb(async (db) => {
      const { rows } = await db.query<{ kid: string; retired: boolean }>(
        'SELECT kid, retired_at IS NOT NULL AS retired FROM audit_signing_keys ORDER BY created_at',
      )
      assert.equal(rows.length, 2)
      assert.equal(rows[0]?.retired, true)
      assert.deepEqual(rows[1], { kid, retired: false })
      const { rows: cps } = await db.query<{ kid: string }>(
        'SELECT kid FROM audit_checkpoints ORDER BY created_at',
      )
      assert.deepEqual(
        cps.map((c) => c.kid),
        [rows[0]?.kid, kid],
        'one checkpoint under each key',
      )
    })
    const verifyNew = await cdb.cli(['audit', 'verify'])
    assert.equal(verifyNew.code, 0, verifyNew.stderr + verifyNew.stdout)
    const audited = await entries('key.rotate-checkpoint')
    assert.equal(audited.length, 1)
    assert.equal(audited[0]?.resource_id, kid)
  })

  test('[SRS-AUDIT-021] `vigil keys rotate-signing` writes a key.rotate-signing audit entry naming the new key', async () => {
    const out = await cdb.cli(['keys', 'rotate-signing'])
    assert.equal(out.code, 0, out.stderr)
    const kid = /^new signing key (\S+)$/m.exec(out.stdout)?.[1]
    assert.ok(kid)
    const audited = await entries('key.rotate-signing')
    assert.equal(audited.length, 1)
    assert.equal(audited[0]?.actor_kind, 'system')
    assert.equal(audited[0]?.resource_id, kid)
    const verify = await cdb.cli(['audit', 'verify'])
    assert.equal(verify.code, 0, verify.stderr)
  })
})
