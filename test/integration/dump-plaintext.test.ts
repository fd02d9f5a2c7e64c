// The plaintext-free dump (issue 7 acceptance): a database seeded with `seed-demo` and patients
// with known names, birth dates and reading values, dumped with the real pg_dump (PostgreSQL) or
// table by table (PGlite), contains none of them in plaintext. After an erasure, someone holding
// that dump AND the root keyring still cannot open the erased patient's data: no wrapped data key
// of theirs is left to unwrap (a control patient's data do open the same way).

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import { openIsolatedDatabase } from '../support/app.ts'
import { TEST_KEYRING } from '../support/config.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { openWithDataKey } from '../../src/platform/crypto/envelope.ts'
import { seedDemo } from '../../src/modules/demo/seed-demo.ts'
import { createAuditTrail } from '../../src/audit/index.ts'
import { erasePatient } from '../../src/modules/erasure/index.ts'
import { PatientErasedError } from '../../src/modules/patients/index.ts'
import { openReading } from '../../src/modules/device-data/index.ts'
import { insertReading, patientCrypto } from './keys-support.ts'

const run = promisify(execFile)

async function dump(db: Database): Promise<string> {
  const schema = (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string
  if (process.env.DATABASE_URL) {
    const { stdout } = await run(
      '/usr/bin/pg_dump',
      ['--dbname', process.env.DATABASE_URL, '--schema', schema, '--no-owner'],
      { maxBuffer: 256 * 1024 * 1024 },
    )
    assert.match(stdout, /PostgreSQL database dump/)
    return stdout
  }
  const { rows: tables } = await db.query<{ t: string }>(
    'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1',
    [schema],
  )
  assert.ok(tables.length > 20, 'every table of the schema')
  let out = ''
  for (const { t } of tables)
    for (const row of (await db.query<{ r: string }>(`SELECT x::text AS r FROM "${t}" x`)).rows)
      out += `${t}\t${row.r}\n`
  return out
}

/** An attacker with a dump and the root keyring: unseal every KEK, then try to unwrap any data key
 * of the patient found in the dump, and open the given ciphertext with it. */
function openFromDump(
  text: string,
  patientId: string,
  readingId: string,
  sealedReading: string,
): string | undefined {
  const keyring = createKeyring(TEST_KEYRING)
  const keks: Buffer[] = []
  for (const m of text.matchAll(
    /v1\.[A-Za-z0-9_.-]+?\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}/g,
  )) {
    for (let v = 1; v <= 5; v++) {
      try {
        keks.push(Buffer.from(keyring.decryptString(m[0], `kek:${v}`), 'base64'))
      } catch {
        // not a KEK of this version
      }
    }
  }
  assert.ok(keks.length >= 1, 'the KEKs are in the dump (sealed by the root keyring)')
  for (const m of text.matchAll(/e1\.\d+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}/g)) {
    for (const kek of keks) {
      for (let v = 1; v <= 3; v++) {
        try {
          const dek = Buffer.from(openWithDataKey(kek, m[0], `dek:${patientId}:${v}`), 'base64')
          return openWithDataKey(dek, sealedReading, `${patientId}:reading:${readingId}`)
        } catch {
          // not this patient's data key under this KEK
        }
      }
    }
  }
  return undefined
}

describe('the plaintext-free dump', () => {
  let db: Database
  let drop: () => Promise<void>
  const suffix = randomBytes(4).toString('hex')
  const names = [`Zorbafamily${suffix}`, `Quillgiven${suffix}`, `Xandrafamily${suffix}`]
  const birthDates = ['1913-07-19', '1927-11-03']
  const values = [187.4127, 64.9183, 133.7071, 99.1234]
  const ids = { erased: '', control: '', erasedReading: '', controlReading: '' }

  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase())
    await seedDemo({ db, keyring: createKeyring(TEST_KEYRING), password: 'demo-password-for-the-dump-1' })
    const { patients, cipher } = patientCrypto(db)
    ids.erased = (
      await patients.create({
        demographics: {
          name: { given: [names[1] as string], family: names[0] as string },
          birthDate: birthDates[0] as string,
          identifiers: [{ system: 'urn:vigil:mrn', value: `MRN-${suffix}` }],
        },
      })
    ).id
    ids.control = (
      await patients.create({
        demographics: { name: { family: names[2] as string }, birthDate: birthDates[1] as string },
      })
    ).id
    ids.erasedReading = await insertReading(db, cipher, ids.erased, values[0] as number)
    await insertReading(db, cipher, ids.erased, values[1] as number)
    ids.controlReading = await insertReading(db, cipher, ids.control, values[2] as number)
    await insertReading(db, cipher, ids.control, values[3] as number)
  })
  after(() => drop())

  test('[SRS-CRYPTO-029] a dump of a seeded database holds no patient name, birth date or reading value in plaintext (and no patient name in users.display_name)', async () => {
    const text = await dump(db)
    for (const secret of [
      ...names,
      ...birthDates,
      ...values.map(String),
      `MRN-${suffix}`,
      'Demo Patient',
      'Other Patient',
    ]) {
      assert.ok(!text.includes(secret), `"${secret}" appears in the dump`)
    }
    // The sealed values are there (the dump is complete), and so are the demo users' rows.
    assert.ok(text.includes('patient@demo.test'))
    assert.ok((text.match(/e1\.\d+\./g) ?? []).length >= 4)
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM users u JOIN user_roles r ON r.user_id = u.id WHERE r.role = 'patient' AND u.display_name IS NOT NULL",
    )
    assert.equal(Number(rows[0]?.n), 0, 'patients have no plaintext display name')
  })

  test("[SRS-CRYPTO-030] after erasure, the dump plus the root keyring cannot open the erased patient's data, while the same attack opens a control patient's", async () => {
    const sealedOf = async (id: string) =>
      (await db.query<{ v: string }>('SELECT value_sealed AS v FROM readings WHERE id = $1', [id])).rows[0]
        ?.v as string
    const erasedSealed = await sealedOf(ids.erasedReading)
    const controlSealed = await sealedOf(ids.controlReading)
    const before = await dump(db)
    assert.equal(
      JSON.parse(openFromDump(before, ids.erased, ids.erasedReading, erasedSealed) as string).value,
      values[0],
      'before erasure the attack works',
    )

    const { patients, cipher } = patientCrypto(db)
    const result = await erasePatient({ db, audit: createAuditTrail({ db }), patients }, ids.erased, {
      kind: 'system',
    })
    assert.equal(result.status, 'erased')

    const afterText = await dump(db)
    assert.ok(afterText.includes(erasedSealed), 'the ciphertext itself is still in the dump')
    assert.equal(openFromDump(afterText, ids.erased, ids.erasedReading, erasedSealed), undefined)
    assert.equal(
      JSON.parse(openFromDump(afterText, ids.control, ids.controlReading, controlSealed) as string).value,
      values[2],
    )
    await assert.rejects(openReading(cipher, ids.erased, ids.erasedReading, erasedSealed), PatientErasedError)
    assert.equal((await createAuditTrail({ db }).verify()).ok, true)
  })
})
