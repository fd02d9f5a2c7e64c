// arrayParam against the real database (PGlite, or PostgreSQL when DATABASE_URL is set): whatever a
// string holds comes back unchanged through $1::text[], null stays null, and the other column
// types of a reading batch parse.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { openTestDatabase } from '../support/app.ts'
import { testConfig } from '../support/config.ts'
import { arrayParam, type Database } from '../../src/platform/db/index.ts'

let db: Database
before(async () => {
  db = await openTestDatabase(testConfig())
})
after(() => db.close())

const roundTrip = async (values: readonly (string | null)[]) =>
  (
    await db.query<{ v: string | null }>(
      'SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n',
      [arrayParam(values, (v) => v)],
    )
  ).rows.map((r) => r.v)

test('[SRS-PERF-595] a column of strings as one array parameter: quotes, backslashes, braces, commas, spaces, "NULL", empty strings and null round-trip', async () => {
  const hostile = [
    '"',
    '\\',
    '\\"',
    '{a,b}',
    'a,b',
    ' lead and trail ',
    'NULL',
    'null',
    '',
    null,
    'é ✓ 𝄞',
    'x\ny\tz',
  ]
  assert.deepEqual(await roundTrip(hostile), hostile)
  assert.deepEqual(await roundTrip([]), [])
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.option(
          fc.string({ unit: 'binary' }).map((s) => s.replace(/\0/g, '')),
          { nil: null },
        ),
        { maxLength: 20 },
      ),
      async (values) => {
        assert.deepEqual(await roundTrip(values), values)
      },
    ),
    { numRuns: 100 },
  )
})

test('[SRS-PERF-595] uuid, timestamptz, smallint and bigint columns parse from the same encoding; a non-finite number is refused before the database', async () => {
  const rows = [
    {
      id: '3f0c1c1e-1b7a-4d0e-9a57-2b1f7d0c9a11',
      at: new Date('2026-11-01T08:00:00.123Z'),
      n: -120,
      seq: 9_007_199_254_740_991,
    },
    { id: 'b6a1f5e2-0c2d-4a4b-8f0e-6c7d8e9f0a1b', at: new Date('1999-12-31T23:59:59.000Z'), n: 0, seq: null },
  ]
  const { rows: back } = await db.query<{ id: string; at: Date | string; n: number; seq: number | null }>(
    'SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::smallint[], $4::bigint[]) AS t(id, at, n, seq)',
    [
      arrayParam(rows, (r) => r.id),
      arrayParam(rows, (r) => r.at.toISOString()),
      arrayParam(rows, (r) => r.n),
      arrayParam(rows, (r) => r.seq),
    ],
  )
  assert.deepEqual(
    back.map((r) => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      n: Number(r.n),
      seq: r.seq === null ? null : Number(r.seq),
    })),
    rows.map((r) => ({ ...r, at: r.at.toISOString() })),
  )
  assert.throws(() => arrayParam([Number.NaN], (v) => v), RangeError)
  assert.throws(() => arrayParam([Infinity], (v) => v), RangeError)
})
