// The `vigil` command-line tool through the real process: `vigil migrate` applies each migration
// once; `vigil openapi` prints the document /openapi.json serves; MIGRATE_ON_START=false leaves the
// schema alone.

import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { openDatabase, type Database } from '../../src/platform/db/index.ts'
import { createTestApp } from '../support/app.ts'
import { TEST_COOKIE_SECRET, TEST_KEYRING } from '../support/config.ts'
import {
  childEnv,
  CLI_ARGS,
  get,
  removeDir,
  REPO_ROOT,
  run,
  startServer,
  stopServer,
  tempDir,
  type Proc,
} from './server-process.ts'

const MIGRATION_IDS = readdirSync(path.join(REPO_ROOT, 'migrations'))
  .filter((n) => /^\d{4}_[a-z0-9_]+\.sql$/.test(n))
  .sort()
  .map((n) => n.replace(/\.sql$/, ''))

async function tableExists(db: Database, name: string): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    name,
  ])
  return rows[0]?.present === true
}

describe('vigil migrate', () => {
  const dirs: string[] = []
  after(() => dirs.forEach(removeDir))

  test('[SRS-DB-001] `npm run vigil -- migrate` on a fresh DATA_DIR applies 0001 once; a second run reports up to date', async () => {
    assert.ok(MIGRATION_IDS.includes('0001_service_instances'))
    const dataDir = tempDir('cli-migrate')
    dirs.push(dataDir)
    // PGlite-specific: a fresh embedded database, whatever DATABASE_URL the suite runs with.
    const env = childEnv(dataDir)

    const first = await run('npm', ['run', 'vigil', '--', 'migrate'], { env })
    assert.equal(first.code, 0, first.stderr)
    assert.match(
      first.stdout,
      new RegExp(`^applied ${MIGRATION_IDS.length} migration\\(s\\): ${MIGRATION_IDS.join(', ')}$`, 'm'),
    )

    const second = await run(process.execPath, [...CLI_ARGS, 'migrate'], { env })
    assert.equal(second.code, 0, second.stderr)
    assert.equal(
      second.stdout,
      `database is up to date (${MIGRATION_IDS.length} migrations applied earlier)\n`,
    )

    const db = await openDatabase({ pgliteDir: dataDir })
    try {
      const { rows } = await db.query<{ id: string; checksum: string }>(
        'SELECT id, checksum FROM vigil_migrations ORDER BY id',
      )
      assert.deepEqual(
        rows.map((r) => r.id),
        MIGRATION_IDS,
        'each migration recorded exactly once',
      )
      for (const r of rows) assert.match(r.checksum, /^[0-9a-f]{64}$/)
      assert.ok(await tableExists(db, 'service_instances'))
    } finally {
      await db.close()
    }
  })

  test('[SRS-DB-001] `vigil migrate` against the configured database leaves it up to date and a second run applies nothing', async () => {
    const dataDir = tempDir('cli-migrate-configured')
    dirs.push(dataDir)
    // With DATABASE_URL this is the suite's PostgreSQL (possibly migrated already by other tests);
    // without it, the embedded database in a fresh DATA_DIR.
    const env = childEnv(dataDir, {}, { externalServices: true })
    const first = await run(process.execPath, [...CLI_ARGS, 'migrate'], { env })
    assert.equal(first.code, 0, first.stderr)
    assert.match(
      first.stdout,
      /^(applied \d+ migration\(s\): .+|database is up to date \(\d+ migrations applied earlier\))\n$/,
    )
    const second = await run(process.execPath, [...CLI_ARGS, 'migrate'], { env })
    assert.equal(second.code, 0, second.stderr)
    assert.equal(
      second.stdout,
      `database is up to date (${MIGRATION_IDS.length} migrations applied earlier)\n`,
    )
  })
})

describe('vigil openapi', () => {
  const dirs: string[] = []
  after(() => dirs.forEach(removeDir))

  test('[SRS-DOC-001] `vigil openapi` prints an OpenAPI 3.1 document whose paths are those GET /openapi.json serves', async () => {
    const dataDir = tempDir('cli-openapi')
    dirs.push(dataDir)
    const env = childEnv(dataDir, {
      NODE_ENV: 'test',
      PORT: undefined,
      ENCRYPTION_KEYRING: TEST_KEYRING,
      COOKIE_SECRET: TEST_COOKIE_SECRET,
    })
    const result = await run(process.execPath, [...CLI_ARGS, 'openapi'], { env })
    assert.equal(result.code, 0, result.stderr)
    // stdout is the document and nothing else (no log line mixed in), so it pipes into tools.
    const printed = JSON.parse(result.stdout) as { openapi: string; paths: Record<string, unknown> }
    assert.equal(printed.openapi, '3.1.0')
    assert.ok(Object.keys(printed.paths).length > 0)

    const served = await createTestApp()
    try {
      const res = await served.app.inject({ method: 'GET', url: '/openapi.json' })
      assert.equal(res.statusCode, 200)
      const doc = res.json<{ openapi: string; paths: Record<string, unknown> }>()
      assert.deepEqual(Object.keys(printed.paths).sort(), Object.keys(doc.paths).sort())
      assert.deepEqual(printed.paths, doc.paths, 'the same operations, generated from the same route code')
      assert.ok('/health/ready' in doc.paths && '/openapi.json' in doc.paths)
    } finally {
      await served.close()
    }
  })
})

describe('MIGRATE_ON_START=false', () => {
  let dataDir: string | undefined
  let proc: Proc | undefined

  after(async () => {
    await proc?.kill()
    removeDir(dataDir)
  })

  test('[SRS-DB-001] with MIGRATE_ON_START=false an unmigrated database is refused with a message naming `vigil migrate`, and nothing is created; after `vigil migrate` it serves', async () => {
    dataDir = tempDir('no-migrate')
    // PGlite-specific (a fresh, empty database): DATABASE_URL is not passed to the child.
    const env = childEnv(dataDir, { MIGRATE_ON_START: 'false' })
    const refused = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env,
      timeoutMs: 60_000,
    })
    assert.equal(refused.code, 78, refused.stdout + refused.stderr)
    assert.match(
      refused.stderr,
      /not up to date \(pending: 0001_service_instances, .*\).*run `vigil migrate` first/,
    )

    const db = await openDatabase({ pgliteDir: dataDir })
    try {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'",
      )
      assert.equal(rows[0]?.n, 0, 'no table at all in the public schema')
    } finally {
      await db.close()
    }

    const migrated = await run(process.execPath, [...CLI_ARGS, 'migrate'], { env })
    assert.equal(migrated.code, 0, migrated.stderr)
    const serving = await startServer(env)
    proc = serving.proc
    assert.ok(!proc.entries().some((e) => e.msg === 'migrations checked'), 'no migration ran at start')
    const res = await get(`${serving.address}/health/ready`)
    assert.equal(res.status, 200)
    assert.deepEqual(await stopServer(proc), { code: 0, signal: null }, proc.stdout + proc.stderr)
  })
})
