// The PostgreSQL pool keeps a connection after an error the server reported (ADR-0036): a unique
// violation, or a statement written for the common outcome that raises on purpose, leaves the
// session as good as before, and a new connection would cost a backend's start (pg's pool.query
// destroys the connection on any error). A connection the server ended is still dropped. Common
// statements are prepared on each connection (ADR-0037). The server's pool keeps the connections it
// opened, so the next burst does not pay for them again (ADR-0039). On a cluster of the test's own,
// so both halves of the suite run it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { migrate, openDatabase, type Database } from '../../src/platform/db/index.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { childEnv, get, removeDir, startServer, stopServer, tempDir } from './server-process.ts'

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

  const prepared = async (q: Pick<Database, 'query'> = db) =>
    (
      await q.query<{ name: string; statement: string }>(
        'SELECT name, statement FROM pg_prepared_statements ORDER BY prepare_time',
      )
    ).rows

  test('[SRS-PERF-604] a statement with parameters is prepared on the connection from its second sending on; one without parameters is not', async () => {
    const text = 'SELECT $1::int + 1 AS n'
    assert.equal((await db.query<{ n: number }>(text, [1])).rows[0]?.n, 2)
    const of = async (t: string, q: Pick<Database, 'query'> = db) =>
      (await prepared(q)).filter((s) => s.statement === t)
    assert.deepEqual(await of(text), [], 'sent once: not prepared')
    assert.equal((await db.query<{ n: number }>(text, [2])).rows[0]?.n, 3)
    const [p] = await of(text)
    assert.match(p?.name ?? '', /^vigil_[0-9a-f]{32}$/)
    assert.equal(p?.statement, text)
    assert.equal(
      (await db.query<{ n: number }>(text, [41])).rows[0]?.n,
      42,
      'the prepared statement, run again',
    )
    await db.query('SELECT 1 AS one')
    await db.query('SELECT 1 AS one')
    assert.deepEqual(await of('SELECT 1 AS one'), [], 'a statement without parameters stays unnamed')
    // Inside a transaction too, on the transaction's connection.
    await db.transaction(async (tx) => {
      await tx.query('SELECT $1::text AS t', ['a'])
      await tx.query('SELECT $1::text AS t', ['b'])
      assert.equal((await of('SELECT $1::text AS t', tx)).length, 1)
    })
  })

  test('[SRS-PERF-604] a prepared statement survives a column added to its table, its own errors and a failed preparation', async () => {
    await db.exec('CREATE TABLE prep_t (a int)')
    const insert = 'INSERT INTO prep_t (a) VALUES ($1) RETURNING a'
    for (const a of [1, 2, 3]) assert.equal((await db.query<{ a: number }>(insert, [a])).rows[0]?.a, a)
    await db.exec('ALTER TABLE prep_t ADD COLUMN b int DEFAULT 7')
    assert.equal((await db.query<{ a: number }>(insert, [4])).rows[0]?.a, 4, 'replanned after the change')
    const read = 'SELECT a, b FROM prep_t WHERE a = $1'
    for (let i = 0; i < 3; i++) assert.deepEqual((await db.query(read, [4])).rows, [{ a: 4, b: 7 }])
    // An error while it runs leaves it prepared and usable.
    const divide = 'SELECT 10 / $1::int AS q'
    await db.query(divide, [5])
    await assert.rejects(db.query(divide, [0]), { code: '22012' })
    assert.deepEqual((await db.query(divide, [2])).rows, [{ q: 5 }])
    // A statement that does not parse fails as itself every time, never as a missing prepared statement.
    const broken = 'SELECT no_such_column FROM prep_t WHERE a = $1'
    for (let i = 0; i < 3; i++) await assert.rejects(db.query(broken, [1]), { code: '42703' })
    assert.ok(!(await prepared()).some((s) => s.statement === broken))
  })

  test('[SRS-PERF-604] with DATABASE_PREPARED_STATEMENTS off, nothing is prepared', async () => {
    const off = await openDatabase({
      databaseUrl: await cluster.createDatabase('vigil_pool_unprepared'),
      poolMax: 1,
      preparedStatements: false,
    })
    try {
      for (let i = 0; i < 3; i++) await off.query('SELECT $1::int AS n', [i])
      assert.deepEqual(await prepared(off), [])
    } finally {
      await off.close()
    }
  })

  /** Pool connections on `database`: not this test's own, a server's LISTEN session or its leader lock's. */
  const backendsOn = async (database: string) =>
    Number(
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid() AND query NOT ILIKE 'LISTEN %'
              AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')`,
          [database],
        )
      ).rows[0]?.n,
    )

  /** The backends that serve `n` statements sent at once, each sleeping `seconds`. */
  const backendsAtOnce = (pool: Database, n: number, seconds: number) =>
    Promise.all(
      Array.from({ length: n }, async () =>
        Number(
          (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep($1)', [seconds]))
            .rows[0]?.pid,
        ),
      ),
    )

  test('[SRS-PERF-606] idle connections above the pool minimum close; the minimum stays open with the same sessions', async () => {
    const opened = async (poolMin: number) => {
      const name = `vigil_pool_min_${poolMin}`
      const pool = await openDatabase({
        databaseUrl: await cluster.createDatabase(name),
        poolMax: 4,
        poolMin,
        poolIdleMs: 200,
      })
      // Four statements at once: the pool opens its four connections.
      const pids = await backendsAtOnce(pool, 4, 0.2)
      assert.equal(new Set(pids).size, 4, 'four connections opened')
      assert.equal(await backendsOn(name), 4)
      await new Promise((r) => setTimeout(r, 1_000))
      const left = await backendsOn(name)
      const kept = await backendsAtOnce(pool, 2, 0.05)
      await pool.close()
      return { left, kept: kept.filter((pid) => pids.includes(pid)).length }
    }
    assert.deepEqual(await opened(2), { left: 2, kept: 2 }, 'two kept, and they are sessions opened before')
    assert.deepEqual(await opened(0), { left: 0, kept: 0 }, 'without a minimum, every idle one closes')
  })

  test('[SRS-PERF-606] the server keeps every connection a burst opened, unless DATABASE_POOL_MIN lowers it', async () => {
    const name = 'vigil_pool_server'
    const url = await cluster.createDatabase(name)
    // One data directory for both servers: the development keys sealing the database's secrets.
    const dir = tempDir('pg-pool-server')
    const burst = async (overrides: Record<string, string>) => {
      const serving = await startServer(
        childEnv(dir, {
          DATABASE_URL: url,
          DATABASE_POOL_MAX: '4',
          DATABASE_POOL_IDLE_SECONDS: '1',
          AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
          ANOMALY_INTERVAL_SECONDS: '0',
          // The outbox relay's session of its own is not the pool's; between its connection and its
          // advisory lock it would count as one (a CI run on a loaded machine saw 5 of 4).
          EVENTS_RELAY: 'false',
          ...overrides,
        }),
      )
      try {
        // Readiness asks the database each time: rounds of forty at once until the pool has opened
        // its maximum (the connections start-up opened may serve a round alone, if it trickles in).
        let opened = 0
        for (let round = 0; round < 20 && opened < 4; round++) {
          const answers = await Promise.all(
            Array.from({ length: 40 }, () => get(`${serving.address}/health/ready`)),
          )
          assert.ok(answers.every((r) => r.status === 200))
          opened = await backendsOn(name)
        }
        await new Promise((r) => setTimeout(r, 2_500))
        return { opened, after: await backendsOn(name) }
      } finally {
        await stopServer(serving.proc)
      }
    }
    try {
      const kept = await burst({})
      // At least the whole pool: a session that start-up closed can still be listed for a moment.
      assert.ok(kept.opened >= 4, `the burst opened the whole pool (${kept.opened} sessions seen)`)
      assert.equal(kept.after, 4, 'and the pool kept it, idle past DATABASE_POOL_IDLE_SECONDS')
      const lowered = await burst({ DATABASE_POOL_MIN: '1' })
      assert.ok(lowered.opened >= 4, `the burst opened the whole pool again (${lowered.opened} seen)`)
      assert.ok(lowered.after < 4, `with DATABASE_POOL_MIN=1 idle ones close (${lowered.after} left)`)
    } finally {
      removeDir(dir)
    }
  })
})
