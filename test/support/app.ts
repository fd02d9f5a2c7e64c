// Builds the real app for a test: real Fastify, real database (in-memory PGlite, or the
// PostgreSQL in DATABASE_URL), real migrations, and a log sink the test can read.
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'
import { buildApp, type App, type AppDeps } from '../../src/app.ts'
import type { Config } from '../../src/config/index.ts'
import { migrate, openDatabase, type Database } from '../../src/platform/db/index.ts'
import { createLogger } from '../../src/platform/observability/logger.ts'
import { createRedisClient } from '../../src/platform/redis/client.ts'
import { TEST_CHECKPOINT_PREFIX, testConfig } from './config.ts'
import { LogSink } from './log-sink.ts'
import { migratedPgliteImage } from './pglite-template.ts'

export { LogSink }

export interface TestApp {
  readonly app: App
  readonly db: Database
  readonly config: Config
  readonly logs: LogSink
  close(): Promise<void>
}

export interface TestAppOptions {
  readonly env?: Record<string, string | undefined>
  readonly deps?: Partial<AppDeps>
  /** Route plugins registered at the root before ready() (test-only routes). */
  readonly routes?: readonly FastifyPluginAsync[]
}

export async function openTestDatabase(
  config: Config,
  options: { poolMax?: number } = {},
): Promise<Database> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    poolMax: options.poolMax ?? 4,
    pgliteImage: config.databaseUrl ? undefined : await migratedPgliteImage(),
  })
  await migrate(db)
  return db
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(options.env)
  const logs = new LogSink()
  const db = options.deps?.db ?? (await openTestDatabase(config))
  const redis = config.redisUrl
    ? createRedisClient(config.redisUrl, { commandTimeoutMs: config.resilience.redisCommandTimeoutMs })
    : undefined
  let app: App
  try {
    app = await buildApp(config, {
      db,
      logger: createLogger({ level: config.logLevel, destination: logs }),
      redis,
      ...options.deps,
    })
    for (const routes of options.routes ?? []) await app.register(routes)
    await app.ready()
  } catch (err) {
    // A start-up failure (the point of some tests) must not leave connections holding the process open.
    redis?.disconnect()
    if (!options.deps?.db) await db.close()
    throw err
  }
  return {
    app,
    db,
    config,
    logs,
    async close() {
      await app.close()
      redis?.disconnect()
      if (!options.deps?.db) await db.close()
      if (config.audit.checkpointFile.startsWith(TEST_CHECKPOINT_PREFIX))
        rmSync(config.audit.checkpointFile, { force: true })
    },
  }
}

/** A database of its own for a test that changes shared state (signing keys, migrations):
 * in-memory PGlite, or on PostgreSQL a fresh schema (search_path) dropped afterwards.
 * Migrated unless `migrated: false`. */
export async function openIsolatedDatabase(
  options: { migrated?: boolean; poolMax?: number; databaseUrl?: string | undefined } = {},
): Promise<{ db: Database; drop: () => Promise<void>; url?: string }> {
  const url = 'databaseUrl' in options ? options.databaseUrl : process.env.DATABASE_URL
  if (!url) {
    const migrated = options.migrated !== false
    const db = await openDatabase({ pgliteImage: migrated ? await migratedPgliteImage() : undefined })
    if (migrated) await migrate(db)
    return { db, drop: () => db.close() }
  }
  const schema = `test_${randomBytes(6).toString('hex')}`
  const admin = await openDatabase({ databaseUrl: url, poolMax: 1 })
  await admin.exec(`CREATE SCHEMA ${schema}`)
  const scoped = new URL(url)
  scoped.searchParams.set('options', `-c search_path=${schema}`)
  const db = await openDatabase({ databaseUrl: scoped.toString(), poolMax: options.poolMax ?? 4 })
  if (options.migrated !== false) await migrate(db)
  return {
    db,
    url: scoped.toString(),
    drop: async () => {
      await db.close()
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
      await admin.close()
    },
  }
}
