// `vigil keys reencrypt` through the real CLI process (ADR-0009): killed with SIGKILL mid-way, a
// rerun finishes — every reading and every patient's demographics then open with the right
// value, nothing is left under an old data-key version, and the old versions are destroyed.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Database } from '../../src/platform/db/index.ts'
import { openReading } from '../../src/modules/device-data/index.ts'
import { CLI_ARGS, Proc } from './server-process.ts'
import { cliDatabase, insertReading, patientCrypto, type CliDatabase } from './keys-support.ts'

const PATIENTS = 4
const PER_PATIENT = 150

describe('vigil keys reencrypt', () => {
  let cdb: CliDatabase
  const readings: Array<{ id: string; patientId: string; value: number }> = []
  const patientIds: string[] = []

  async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const db = await cdb.open()
    try {
      return await fn(db)
    } finally {
      await db.close()
    }
  }

  const versionCounts = (db: Database) =>
    db
      .query<{ v: string; n: number }>(
        "SELECT split_part(value_sealed, '.', 2) AS v, count(*)::int AS n FROM readings GROUP BY 1 ORDER BY 1",
      )
      .then((r) => Object.fromEntries(r.rows.map((x) => [x.v, Number(x.n)])))

  before(async () => {
    cdb = await cliDatabase('keys-reencrypt')
    await withDb(async (db) => {
      const { patients, cipher } = patientCrypto(db)
      for (let p = 0; p < PATIENTS; p++) {
        const patient = await patients.create({
          demographics: { name: { family: `Reenc${p}` }, birthDate: `196${p}-02-03` },
        })
        patientIds.push(patient.id)
        for (let i = 0; i < PER_PATIENT; i++) {
          const value = p * 1000 + i + 0.5
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

  test('[SRS-CRYPTO-027] killed with SIGKILL mid-way, a rerun of `vigil keys reencrypt --new-data-keys` finishes: every value opens, none is left under an old version, old versions are destroyed', async () => {
    const first = new Proc(
      process.execPath,
      [...CLI_ARGS, 'keys', 'reencrypt', '--new-data-keys', '--batch-size', '5', '--retire-grace-ms', '0'],
      { env: cdb.env },
    )
    // A few committed batches, then kill -9 (the whole process group).
    await first.waitFor(
      'four committed batches',
      () => ((first.stderr.match(/^reencrypted \d+$/gm) ?? []).length >= 4 ? true : undefined),
      120_000,
    )
    await first.kill()
    assert.equal(first.exit?.signal, 'SIGKILL')

    await withDb(async (db) => {
      const counts = await versionCounts(db)
      assert.ok((counts['2'] ?? 0) >= 10, `some readings moved before the kill: ${JSON.stringify(counts)}`)
      assert.ok((counts['1'] ?? 0) > 0, `the run was interrupted before the end: ${JSON.stringify(counts)}`)
      // In between, every value still opens (old versions stay until retired).
      const { cipher } = patientCrypto(db)
      for (const r of readings.filter((_, i) => i % 7 === 0)) {
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

    const rerun = await cdb.cli([
      'keys',
      'reencrypt',
      '--new-data-keys',
      '--batch-size',
      '50',
      '--retire-grace-ms',
      '0',
    ])
    assert.equal(rerun.code, 0, rerun.stderr)
    const report = JSON.parse(rerun.stdout) as {
      newDataKeys: number
      reencrypted: number
      retired: number
      failed: number
    }
    assert.equal(
      report.newDataKeys,
      0,
      'the interrupted run already gave every patient a new version: the rerun adds none',
    )
    assert.equal(report.retired, PATIENTS)
    assert.equal(report.failed, 0)

    await withDb(async (db) => {
      assert.deepEqual(await versionCounts(db), { '2': PATIENTS * PER_PATIENT })
      const { rows: demo } = await db.query<{ v: string }>(
        "SELECT DISTINCT split_part(demographics_sealed, '.', 2) AS v FROM patients",
      )
      assert.deepEqual(
        demo.map((r) => r.v),
        ['2'],
      )
      const { rows: keys } = await db.query<{ version: number; live: boolean }>(
        'SELECT DISTINCT version, wrapped_key IS NOT NULL AS live FROM patient_data_keys ORDER BY version',
      )
      assert.deepEqual(
        keys.map((k) => [Number(k.version), k.live]),
        [
          [1, false],
          [2, true],
        ],
      )
      const { cipher, patients } = patientCrypto(db)
      const { rows } = await db.query<{ id: string; patient_id: string; value_sealed: string }>(
        'SELECT id, patient_id, value_sealed FROM readings',
      )
      const byId = new Map(rows.map((r) => [r.id, r]))
      for (const r of readings) {
        const row = byId.get(r.id)
        assert.ok(row)
        assert.equal((await openReading(cipher, r.patientId, r.id, row.value_sealed)).value, r.value)
      }
      for (const [p, id] of patientIds.entries())
        assert.equal((await patients.get(id))?.demographics?.name?.family, `Reenc${p}`)
      const { rows: audited } = await db.query<{ decision_rule: string }>(
        "SELECT decision_rule FROM audit_entries WHERE action = 'key.reencrypt'",
      )
      assert.equal(audited.length, 1, 'the killed run recorded nothing; the finished one did')
    })
  })
})
