// The PostgreSQL pool keeps a connection after an error the server reported (ADR-0036): a unique
// violation, or a statement written for the common outcome that raises on purpose, leaves the
// session as good as before, and a new connection would cost a backend's start (pg's pool.query
// destroys the connection on any error). A connection the server ended is still dropped. On a
// cluster of the test's own, so both halves of the suite run it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { migrate, openDatabase, type Database } from '../../src/platform/db/index.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { removeDir, tempDir } from './server-process.ts'

describe('the PostgreSQL pool and errors', () => {
  let base: string
  let cluster: PgCluster
  let db: Database

  before(async () => {
    base = tempDir('pg-pool')
    cluster = await PgCluster.create(base)
    cluster.start()
    db = await openDatabase({ databaseUrl: await cluster.createDatabase('vigil_pool'), poolMax: 1 })
    await migrate(db)
  })
  after(async () => {
    await db?.close().catch(() => undefined)
    await cluster?.destroy()
    removeDir(base)
  })

  const backend = async () =>
    Number((await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid)

  test('[SRS-PERF-603] an error the server reports returns the connection to the pool; a connection the server ends is replaced', async () => {
    const first = await backend()
    await assert.rejects(db.query('SELECT 1 / 0'), { code: '22012' })
    await assert.rejects(db.query("SELECT vigil_expect(false, 'not-common')"), {
      code: 'VG001',
      message: /not-common/,
    })
    assert.equal(await backend(), first, 'the same session after two reported errors')
    await assert.rejects(db.query('SELECT pg_terminate_backend(pg_backend_pid())'))
    const next = await backend()
    assert.notEqual(next, first, 'a session the server ended is not reused')
  })
})
