import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { PGlite, types, type Transaction } from '@electric-sql/pglite'
import type { Database, Queryable, QueryResult } from './database.ts'
import { acquireDataDirLock } from './data-dir-lock.ts'
import { notify, PendingWrites, watchesFor } from './write-watch.ts'

// 64-bit integers: PGlite and pg disagree by default (number vs string); both return numbers
// here (HLD §11: normalise). Values beyond 2^53 are refused rather than rounded.
function parseInt8(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new RangeError('int8 value exceeds the safe integer range')
  return n
}

function wrap(q: PGlite | Transaction, pending?: PendingWrites): Queryable {
  return {
    async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      const res = await q.query<R>(sql, params as unknown[])
      if (pending) pending.note(sql)
      else notify(watchesFor(sql))
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length }
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql)
    },
  }
}

/** dataDir undefined → an in-memory database (tests), started from `image` when given (a data
 * directory dumped by pgliteImage: no initdb, no migrations to run again). */
export async function openPglite(dataDir: string | undefined, image?: Blob): Promise<Database> {
  let release = (): void => {}
  let pg: PGlite
  if (dataDir === undefined) {
    pg = await PGlite.create({
      parsers: { [types.INT8]: parseInt8 },
      ...(image ? { loadDataDir: image } : {}),
    })
  } else {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    release = acquireDataDirLock(path.join(dataDir, 'pglite.lock'), dataDir)
    try {
      pg = await PGlite.create({
        dataDir: path.join(dataDir, 'pglite'),
        parsers: { [types.INT8]: parseInt8 },
      })
    } catch (err) {
      release()
      throw err
    }
  }
  return asDatabase(pg, release)
}

function asDatabase(pg: PGlite, release: () => void): Database {
  const base = wrap(pg)
  return {
    kind: 'pglite',
    ...base,
    async transaction(fn) {
      const pending = new PendingWrites()
      try {
        return await pg.transaction((tx) => fn(wrap(tx, pending)))
      } finally {
        pending.flush()
      }
    },
    poolStats: () => ({ total: 1, idle: 1, waiting: 0, max: 1 }),
    async close() {
      try {
        if (!pg.closed) await pg.close()
      } finally {
        release()
      }
    },
  }
}

/** The data directory of a fresh in-memory database after `prepare` (the tests' migrated
 * template): a tarball openPglite(undefined, image) starts from in a fraction of initdb's time. */
export async function pgliteImage(prepare: (db: Database) => Promise<unknown>): Promise<Blob> {
  const pg = await PGlite.create({ parsers: { [types.INT8]: parseInt8 } })
  try {
    await prepare(asDatabase(pg, () => {}))
    return await pg.dumpDataDir('none')
  } finally {
    await pg.close()
  }
}
