// Migrations on the engine under test: in-memory PGlite, or PostgreSQL in an isolated schema
// when DATABASE_URL is set.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { migrate, MigrationError } from '../../src/platform/db/migrate.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { openIsolatedDatabase } from '../support/app.ts'

describe('migrations', () => {
  let dir: string
  let db: Database
  let drop: () => Promise<void>
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vigil-mig-'))
    ;({ db, drop } = await openIsolatedDatabase({ migrated: false }))
  })
  after(async () => {
    await drop()
    await rm(dir, { recursive: true, force: true })
  })

  test('[SRS-DB-001][SRS-DB-002] pending migrations are applied once, in order, and recorded', async () => {
    await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first_t (id integer PRIMARY KEY);')
    await writeFile(
      path.join(dir, '0002_second.sql'),
      'CREATE TABLE second_t (id integer REFERENCES first_t(id));\nINSERT INTO first_t VALUES (1);',
    )
    const first = await migrate(db, dir)
    assert.deepEqual(first.applied, ['0001_first', '0002_second'])
    const again = await migrate(db, dir)
    assert.deepEqual(again, { applied: [], alreadyApplied: 2 })
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM first_t')
    assert.equal(rows[0]?.n, 1, 'int8 comes back as a number on both engines')
  })

  test('[SRS-DB-001] concurrent runs apply each migration once', async () => {
    await writeFile(path.join(dir, '0003_third.sql'), 'INSERT INTO first_t VALUES (3);')
    const results = await Promise.all([migrate(db, dir), migrate(db, dir), migrate(db, dir)])
    assert.equal(results.flatMap((r) => r.applied).filter((id) => id === '0003_third').length, 1)
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM first_t WHERE id = 3')
    assert.equal(rows[0]?.n, 1)
  })

  test('[SRS-DB-001] a failing migration leaves nothing half-applied', async () => {
    await writeFile(
      path.join(dir, '0004_broken.sql'),
      'CREATE TABLE fourth_t (id integer);\nSELECT no_such_function();',
    )
    await assert.rejects(
      migrate(db, dir),
      (err: Error) => err instanceof MigrationError && /0004_broken failed/.test(err.message),
    )
    const { rows } = await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'fourth_t'")
    assert.equal(rows.length, 0, 'the partial table was rolled back')
    await rm(path.join(dir, '0004_broken.sql'))
  })

  test('[SRS-DB-001] an applied migration that was edited afterwards stops start-up', async () => {
    await writeFile(
      path.join(dir, '0001_first.sql'),
      'CREATE TABLE first_t (id integer PRIMARY KEY, extra text);',
    )
    await assert.rejects(migrate(db, dir), /0001_first was changed after it was applied/)
    await writeFile(path.join(dir, '0001_first.sql'), 'CREATE TABLE first_t (id integer PRIMARY KEY);')
    await rm(path.join(dir, '0002_second.sql'))
    await assert.rejects(migrate(db, dir), /0002_second is recorded in the database but its file is missing/)
  })
})
