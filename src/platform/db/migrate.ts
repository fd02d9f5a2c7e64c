// Migrations are plain, reviewed SQL files in migrations/ (NNNN_name.sql), applied in order
// in one transaction (all pending files land, or none), and recorded with a checksum: an applied file that was edited
// afterwards stops start-up instead of silently diverging (see ADR-0003). On PostgreSQL an
// advisory lock lets several instances start at once without applying a file twice.

import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Database } from './database.ts'
import { lockForTransaction } from './advisory-lock.ts'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url))
const LOCK_KEY = 727_000_001 // pg_advisory_lock key reserved for migrations

export interface MigrationReport {
  readonly applied: readonly string[]
  readonly alreadyApplied: number
}

export class MigrationError extends Error {
  override name = 'MigrationError'
}

interface MigrationFile {
  readonly id: string
  readonly sql: string
  readonly checksum: string
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => /^\d{4}_[a-z0-9_]+\.sql$/.test(n)).sort()
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name), 'utf8')
      return { id: name.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') }
    }),
  )
}

export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<MigrationReport> {
  const files = await readMigrations(dir)
  return db.transaction(async (tx) => {
    // A migration may rewrite a large table and wait for another instance's: the session's
    // statement and lock timeouts (ADR-0017) do not apply to it.
    await tx.exec('SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0')
    await lockForTransaction(tx, LOCK_KEY)
    await tx.exec(`CREATE TABLE IF NOT EXISTS vigil_migrations (
      id text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await tx.query<{ id: string; checksum: string }>(
      'SELECT id, checksum FROM vigil_migrations ORDER BY id',
    )
    const applied = new Map(rows.map((r) => [r.id, r.checksum]))
    for (const [id, checksum] of applied) {
      const file = files.find((f) => f.id === id)
      if (!file)
        throw new MigrationError(
          `Migration ${id} is recorded in the database but its file is missing from ${dir}`,
        )
      if (file.checksum !== checksum)
        throw new MigrationError(
          `Migration ${id} was changed after it was applied (checksum mismatch); add a new migration instead`,
        )
    }
    const pending = files.filter((f) => !applied.has(f.id))
    for (const file of pending) {
      try {
        await tx.exec(file.sql)
      } catch (err) {
        throw new MigrationError(`Migration ${file.id} failed: ${(err as Error).message}`)
      }
      await tx.query('INSERT INTO vigil_migrations (id, checksum) VALUES ($1, $2)', [file.id, file.checksum])
    }
    return { applied: pending.map((f) => f.id), alreadyApplied: applied.size }
  })
}

/** Migration files not yet applied (without applying anything or creating any table). */
export async function pendingMigrations(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await readMigrations(dir)
  const { rows: present } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('vigil_migrations') IS NOT NULL AS present",
  )
  if (present[0]?.present !== true) return files.map((f) => f.id)
  const { rows } = await db.query<{ id: string }>('SELECT id FROM vigil_migrations')
  const applied = new Set(rows.map((r) => r.id))
  return files.filter((f) => !applied.has(f.id)).map((f) => f.id)
}
