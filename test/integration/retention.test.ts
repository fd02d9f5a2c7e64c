// Retention per data class (`vigil retention run`): readings and spent credentials past their
// periods are deleted, fresh ones kept; audit entries are never deleted, only counted when past
// RETENTION_AUDIT_DAYS (at least six years); each real run records one audit entry with counts.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { openIsolatedDatabase } from '../support/app.ts'
import { testConfig, testEnv } from '../support/config.ts'
import { loadConfig, ConfigError } from '../../src/config/index.ts'
import { createAuditTrail } from '../../src/audit/index.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { runRetention } from '../../src/modules/erasure/index.ts'
import { cliDatabase, insertReading, patientCrypto } from './keys-support.ts'

const DAY = 86_400_000

describe('vigil retention run', () => {
  let db: Database
  let drop: () => Promise<void>
  const ids = { oldReading: '', newReading: '' }
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase())
    const { patients, cipher } = patientCrypto(db)
    const p = (await patients.create({ demographics: { name: { family: 'Retained' } } })).id
    ids.oldReading = await insertReading(db, cipher, p, 1, new Date(Date.now() - 3651 * DAY))
    ids.newReading = await insertReading(db, cipher, p, 2, new Date(Date.now() - 3649 * DAY))
    const old = new Date(Date.now() - 31 * DAY)
    const recent = new Date(Date.now() - 29 * DAY)
    for (const [id, at] of [
      ['old', old],
      ['recent', recent],
    ] as const) {
      await db.query(
        "INSERT INTO oidc_payloads (model, id, payload, expires_at) VALUES ('AccessToken', $1, '{}', $2)",
        [`${id}-${randomUUID()}`, at],
      )
      await db.query(
        "INSERT INTO idempotency_keys (principal, key, request_hash, status_code, response_body, expires_at) VALUES ('client:x', $1, 'h', 201, '{}', $2)",
        [`${id}-${randomUUID()}`, at],
      )
      await db.query(
        'INSERT INTO login_throttle (key, failures, window_started_at, last_failure_at) VALUES ($1, 1, $2, $2)',
        [`ip:${id}-${randomUUID()}`, at],
      )
    }
    await db.query("INSERT INTO oidc_payloads (model, id, payload) VALUES ('Client', $1, '{}')", [
      `never-expires-${randomUUID()}`,
    ])
    // A device's daily quota counters: one from 31 days ago (pruned), one from today (kept).
    const device = randomUUID()
    await db.query(
      "INSERT INTO devices (id, manufacturer, model, serial, type) VALUES ($1, 'Acme', 'Retention', $2, 'scale')",
      [device, `SN-${device}`],
    )
    await db.query(
      'INSERT INTO device_daily_usage (device_id, day, readings) VALUES ($1, $2::date, 5), ($1, $3::date, 2)',
      [device, old.toISOString().slice(0, 10), new Date().toISOString().slice(0, 10)],
    )
    // Two audit entries dated seven years ago (an old deployment's), one today.
    const longAgo = new Date(Date.now() - 7 * 365 * DAY)
    const oldTrail = createAuditTrail({ db, clock: () => longAgo })
    await oldTrail.record({ actorKind: 'system', action: 'test.old', outcome: 'success' })
    await oldTrail.record({ actorKind: 'system', action: 'test.old', outcome: 'success' })
    await createAuditTrail({ db }).record({ actorKind: 'system', action: 'test.new', outcome: 'success' })
  })
  after(() => drop())

  const count = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]?.n)

  test('[SRS-AUDIT-025] a dry run counts per class and deletes nothing; a real run deletes only what is past its period, keeps every audit entry and records one retention.run entry', async () => {
    const retention = testConfig().retention
    assert.deepEqual(retention, { readingsDays: 3650, tokensDays: 30, auditDays: 2190, intervalSeconds: 0 })
    const audit = createAuditTrail({ db })
    const dry = await runRetention({ db, audit, retention }, { dryRun: true })
    assert.equal(dry.dryRun, true)
    assert.equal(dry.readings, 1)
    assert.deepEqual(dry.tokens, {
      oidcPayloads: 1,
      emailVerificationTokens: 0,
      passwordResetTokens: 0,
      idempotencyKeys: 1,
      loginThrottle: 1,
      deviceDailyUsage: 1,
    })
    assert.equal(dry.auditPastRetention, 2)
    assert.equal(await count('SELECT count(*)::int AS n FROM readings'), 2, 'a dry run deletes nothing')

    const entriesBefore = await count('SELECT count(*)::int AS n FROM audit_entries')
    const real = await runRetention({ db, audit, retention })
    assert.equal(real.readings, 1)
    assert.deepEqual(real.tokens, dry.tokens)
    const { rows } = await db.query<{ id: string }>('SELECT id FROM readings')
    assert.deepEqual(
      rows.map((r) => r.id),
      [ids.newReading],
    )
    assert.equal(
      await count('SELECT count(*)::int AS n FROM oidc_payloads'),
      2,
      'the unexpired token and the never-expiring row stay',
    )
    assert.equal(await count('SELECT count(*)::int AS n FROM idempotency_keys'), 1)
    assert.equal(await count('SELECT count(*)::int AS n FROM login_throttle'), 1)
    assert.equal(
      await count('SELECT count(*)::int AS n FROM audit_entries'),
      entriesBefore + 1,
      'no audit entry deleted; one added for the run',
    )
    const { rows: run } = await db.query<{ actor_kind: string; decision_rule: string }>(
      "SELECT actor_kind, decision_rule FROM audit_entries WHERE action = 'retention.run'",
    )
    assert.deepEqual(run, [
      { actor_kind: 'system', decision_rule: 'readings=1 tokens=4 audit-past-retention=2' },
    ])
    assert.equal((await audit.verify()).ok, true)
  })

  test('[SRS-AUDIT-026] RETENTION_AUDIT_DAYS below 2190 (six years) is refused at start-up, naming the variable', () => {
    assert.throws(
      () => loadConfig(testEnv({ RETENTION_AUDIT_DAYS: '2189' })),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some((p) => p.startsWith('RETENTION_AUDIT_DAYS') && p.includes('2190')),
    )
    assert.equal(
      loadConfig(testEnv({ RETENTION_AUDIT_DAYS: '3000', RETENTION_READINGS_DAYS: '30' })).retention
        .readingsDays,
      30,
    )
  })

  test('[SRS-AUDIT-025] `vigil retention run --dry-run` prints the counts per class as JSON', async () => {
    const cdb = await cliDatabase('retention-cli')
    try {
      const d = await cdb.open()
      await d.close()
      const out = await cdb.cli(['retention', 'run', '--dry-run'])
      assert.equal(out.code, 0, out.stderr)
      const report = JSON.parse(out.stdout) as {
        dryRun: boolean
        readings: number
        tokens: Record<string, number>
        auditPastRetention: number
      }
      assert.equal(report.dryRun, true)
      assert.equal(report.readings, 0)
      assert.deepEqual(Object.keys(report.tokens).sort(), [
        'deviceDailyUsage',
        'emailVerificationTokens',
        'idempotencyKeys',
        'loginThrottle',
        'oidcPayloads',
        'passwordResetTokens',
      ])
    } finally {
      await cdb.drop()
    }
  })
})
