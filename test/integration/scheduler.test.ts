// One run per period across instances (ADR-0017): claims on scheduled_jobs, on PGlite or the
// PostgreSQL in DATABASE_URL. Twenty claimants at once stand for twenty instances ticking together.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { Database } from '../../src/platform/db/index.ts'
import { createJobClaimer } from '../../src/platform/db/scheduler.ts'
import { publicUrlDisagreement, registerInstance } from '../../src/platform/db/instances.ts'
import { openTestDatabase } from '../support/app.ts'
import { testConfig } from '../support/config.ts'

describe('scheduler: one run per period across instances', () => {
  let db: Database
  before(async () => {
    db = await openTestDatabase(testConfig())
  })
  after(() => db.close())

  test('[SRS-OPS-254] twenty instances claiming the same period: exactly one runs; none again within the period; one again after it', async () => {
    const job = `test-job-${randomUUID()}`
    const instances = Array.from({ length: 20 }, () => createJobClaimer(db, randomUUID()))
    const first = await Promise.all(instances.map((i) => i.claim(job, 1)))
    assert.equal(first.filter(Boolean).length, 1, 'exactly one claim per period')
    const again = await Promise.all(instances.map((i) => i.claim(job, 1)))
    assert.equal(again.filter(Boolean).length, 0, 'no second run within the period')
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const next = await Promise.all(instances.map((i) => i.claim(job, 1)))
    assert.equal(next.filter(Boolean).length, 1, 'the next period is claimed by one')
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM scheduled_jobs WHERE name = $1',
      [job],
    )
    assert.equal(rows[0]?.n, 1)
    await db.query('DELETE FROM scheduled_jobs WHERE name = $1', [job])
  })
})

describe('instance registry', () => {
  let db: Database
  before(async () => {
    db = await openTestDatabase(testConfig())
  })
  after(() => db.close())

  test('[SRS-OPS-256] a live instance on the same database with another PUBLIC_URL is found and named; a stopped one is not', async () => {
    const a = await registerInstance(db, { version: 'test', publicUrl: `https://a-${randomUUID()}.test` })
    assert.ok(a)
    const same = await registerInstance(db, { version: 'test', publicUrl: `https://b-${randomUUID()}.test` })
    assert.ok(same)
    const found = same.others.find((o) => o.id === a.id)
    assert.ok(found, 'the first instance is live')
    const message = publicUrlDisagreement({ others: [found] }, 'https://other.test')
    assert.match(message ?? '', /another live instance shares this database with PUBLIC_URL https:\/\/a-/)
    assert.equal(
      publicUrlDisagreement({ others: [found] }, found.publicUrl!),
      undefined,
      'agreeing instances pass',
    )
    await a.stop()
    await same.stop()
    const later = await registerInstance(db, { version: 'test', publicUrl: 'https://later.test' })
    assert.ok(later)
    assert.ok(!later.others.some((o) => o.id === a.id || o.id === same.id), 'stopped instances are not live')
    await later.stop()
  })
})
