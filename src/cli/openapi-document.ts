import { buildApp } from '../app.ts'
import type { Config } from '../config/index.ts'
import { migrate, openDatabase } from '../platform/db/index.ts'
import { createLogger } from '../platform/observability/logger.ts'

/** The same document /openapi.json serves, built from the route code without listening. */
export async function buildOpenApiDocument(config: Config): Promise<unknown> {
  // An in-memory database, migrated: generating the document touches no real data.
  const db = await openDatabase({})
  await migrate(db)
  const app = await buildApp(config, { db, logger: createLogger({ level: 'silent' }) })
  try {
    await app.ready()
    return app.swagger()
  } finally {
    await app.close()
    await db.close()
  }
}
