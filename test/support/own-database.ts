// A PostgreSQL database of the test's own, on the server DATABASE_URL names, for tests whose
// server processes seed fixed-name data (the demo world's users and clients) that would collide
// with another test file running at the same time on the suite's shared database. Without
// DATABASE_URL (the embedded run) there is nothing to create: each process has its own DATA_DIR.
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export interface OwnDatabase {
  /** Its URL, or undefined on the embedded run. */
  readonly url: string | undefined
  drop(): Promise<void>
}

async function onServer(base: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: base })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

export async function ownDatabase(prefix: string): Promise<OwnDatabase> {
  const base = process.env.DATABASE_URL
  if (!base) return { url: undefined, drop: async () => {} }
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error('plain lower-case prefixes only')
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  await onServer(base, `CREATE DATABASE ${name}`)
  const url = new URL(base)
  url.pathname = `/${name}`
  return {
    url: url.href,
    drop: () => onServer(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  }
}
