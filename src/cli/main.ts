// The `vigil` command-line tool (SPEC: command-line contract). Each command loads the same
// configuration as the server and fails with the same messages on a bad one.

import { Command } from 'commander'
import { ConfigError, loadConfigFromProcess, type Config } from '../config/index.ts'
import { resolveSecrets } from '../platform/crypto/dev-secrets.ts'
import { migrate, openDatabase, type Database } from '../platform/db/index.ts'
import { VERSION } from '../version.ts'
import { buildOpenApiDocument } from './openapi-document.ts'

function config(): Config {
  try {
    return loadConfigFromProcess()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(78)
    }
    throw err
  }
}

async function withDatabase<T>(cfg: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: cfg.databaseUrl, pgliteDir: cfg.dataDir, poolMax: 2 })
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

const program = new Command()
  .name('vigil')
  .description('Vigil command-line tool')
  .version(VERSION)
  .showHelpAfterError()

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    const cfg = config()
    const report = await withDatabase(cfg, migrate)
    process.stdout.write(
      report.applied.length === 0
        ? `database is up to date (${report.alreadyApplied} migrations applied earlier)\n`
        : `applied ${report.applied.length} migration(s): ${report.applied.join(', ')}\n`,
    )
  })

program
  .command('openapi')
  .description('print the OpenAPI 3.1 document')
  .action(async () => {
    const cfg = (await resolveSecrets(config())).config
    const doc = await buildOpenApiDocument(cfg)
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
  })

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
