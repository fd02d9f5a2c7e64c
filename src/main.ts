// Load config → open the database → migrate → build the app → listen; shut down gracefully.

import os from 'node:os'
import { Redis } from 'ioredis'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config/index.ts'
import { resolveSecrets } from './platform/crypto/dev-secrets.ts'
import { DatabaseLockedError, migrate, openDatabase } from './platform/db/index.ts'
import { tlsServerOptions } from './platform/http/tls.ts'
import { createLogger } from './platform/observability/logger.ts'
import { startTracing } from './platform/observability/tracing.ts'
import { VERSION } from './version.ts'

async function main(): Promise<void> {
  let config
  try {
    // eslint-disable-next-line no-restricted-properties -- the one place that reads the environment
    config = loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw err
  }

  const logger = createLogger({ level: config.logLevel })
  const resolved = await resolveSecrets(config)
  config = resolved.config
  if (resolved.devSecrets?.generated) {
    logger.warn({ file: resolved.devSecrets.file }, 'development keys and secrets generated on first start; NODE_ENV=production refuses them')
  } else if (resolved.devSecrets) {
    logger.warn({ file: resolved.devSecrets.file }, 'using development keys and secrets; never in production')
  }

  const tracing = startTracing({ endpoint: config.otel.endpoint, serviceName: config.otel.serviceName, version: VERSION })

  let db
  try {
    db = await openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: config.dataDir, poolMax: config.databasePoolMax })
  } catch (err) {
    if (err instanceof DatabaseLockedError) {
      logger.fatal(err.message)
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(75) // EX_TEMPFAIL
    }
    throw err
  }
  logger.info({ database: db.kind, ...(db.kind === 'pglite' ? { dataDir: config.dataDir } : {}) }, 'database opened')

  if (config.migrateOnStart) {
    const report = await migrate(db)
    logger.info({ applied: report.applied, alreadyApplied: report.alreadyApplied }, 'migrations checked')
  }

  const { rows } = await db.query<{ id: string }>('INSERT INTO service_instances (hostname, pid, version) VALUES ($1, $2, $3) RETURNING id', [
    os.hostname(),
    process.pid,
    VERSION,
  ])
  const instanceId = rows[0]?.id

  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 })
    : undefined
  redis?.on('error', (err) => logger.warn({ err: { message: err.message } }, 'redis connection error'))

  const app = await buildApp(config, {
    db,
    logger,
    redis,
    tracing,
    https: config.tls ? tlsServerOptions(config.tls) : undefined,
    processMetrics: true,
  })

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: refusing new requests, finishing those in flight')
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting')
      process.exit(1)
    }, config.shutdownTimeoutMs)
    force.unref()
    try {
      await app.close()
      await db.query('UPDATE service_instances SET stopped_at = now() WHERE id = $1', [instanceId])
      await db.close()
      redis?.disconnect()
      await tracing.shutdown()
      logger.info('stopped')
      process.exit(0)
    } catch (err) {
      logger.error({ err }, 'error during shutdown')
      process.exit(1)
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))

  const address = await app.listen({ port: config.port, host: config.host })
  logger.info({ address, publicUrl: config.publicUrl, instanceId, version: VERSION }, 'vigil is serving')
}

main().catch((err: unknown) => {
  process.stderr.write(`vigil: failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
