// The re-encryption job must know every column sealed with a patient's data key: one it missed
// would be left under a data-key version the job then destroys. This checks the schema itself.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { reencrypt, SEALED_COLUMNS } from '../../src/modules/erasure/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'

// Sealed by the keyring (platform secrets: TOTP, client and webhook secrets, signing keys), not by a patient's data key.
const KEYRING_SEALED = new Set([
  'totp_credentials.secret_sealed',
  'oauth_clients.secret_sealed',
  'signing_keys.private_jwk_sealed',
  'audit_signing_keys.private_key_sealed',
  'kek_versions.sealed_key',
  'event_subscriptions.secret_sealed',
  'event_subscriptions.previous_secret_sealed',
])

describe('sealed PHI columns', () => {
  let t: TestApp
  before(async () => {
    t = await createTestApp()
  })
  after(() => t.close())

  test('[SRS-CRYPTO-027] every *_sealed column of the schema is either a keyring secret or known to the re-encryption job', async () => {
    const { rows } = await t.db.query<{ table_name: string; column_name: string }>(
      // Tables only: a published view (ADR-0034) shows a table's column, it holds no value of its own.
      `SELECT c.table_name, c.column_name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          AND (c.column_name LIKE '%\\_sealed' OR c.column_name LIKE 'sealed\\_%') ORDER BY 1, 2`,
    )
    const known = new Set(SEALED_COLUMNS.map((c) => `${c.table}.${c.column}`))
    const unknown = rows
      .map((r) => `${r.table_name}.${r.column_name}`)
      .filter((c) => !known.has(c) && !KEYRING_SEALED.has(c))
    assert.deepEqual(
      unknown,
      [],
      'add these to SEALED_COLUMNS (src/modules/erasure/reencrypt.ts) or to the keyring list here',
    )
    assert.ok(known.has('diagnostic_reports.conclusion_sealed'))
  })

  test('[SRS-CRYPTO-027] a DiagnosticReport conclusion still opens after re-encryption onto new data keys destroyed the old version', async () => {
    const { patients, cipher, db, dataKeys } = t.app.vigil.modules
    const patient = await patients.create({ demographics: { name: { family: 'Reencrypted' } } })
    const id = randomUUID()
    const sealed = await cipher.seal(patient.id, 'Conclusion before re-encryption', `diagnostic-report:${id}`)
    await db.query(
      "INSERT INTO diagnostic_reports (id, patient_id, code, effective_at, issued_at, conclusion_sealed) VALUES ($1, $2, '11502-2', now(), now(), $3)",
      [id, patient.id, sealed],
    )
    const report = await reencrypt({ db, dataKeys, cipher }, { newDataKeys: true, retireGraceMs: 0 })
    assert.ok(report.retired >= 1, 'the old version was destroyed')
    const { rows } = await db.query<{ conclusion_sealed: string }>(
      'SELECT conclusion_sealed FROM diagnostic_reports WHERE id = $1',
      [id],
    )
    const now = rows[0]?.conclusion_sealed as string
    assert.notEqual(now, sealed, 'moved onto the new data key')
    assert.equal(
      await cipher.open(patient.id, now, `diagnostic-report:${id}`),
      'Conclusion before re-encryption',
    )
  })
})
