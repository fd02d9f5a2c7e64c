// Load config → open the database → migrate → build the app → listen; shut down gracefully.

import { buildApp } from './app.ts'
import { ConfigError, loadConfigFromProcess } from './config/index.ts'
import { resolveSecrets } from './platform/crypto/dev-secrets.ts'
import {
  DatabaseLockedError,
  DatabaseUnavailableError,
  databaseOptions,
  migrate,
  openDatabase,
  pendingMigrations,
} from './platform/db/index.ts'
import { TlsMaterialError, tlsServerOptions } from './platform/http/tls.ts'
import { createRedisClient } from './platform/redis/client.ts'
import { HEARTBEAT_SECONDS, publicUrlDisagreement, registerInstance } from './platform/db/instances.ts'
import { createJobClaimer } from './platform/db/scheduler.ts'
import { createLogger } from './platform/observability/logger.ts'
import { startTracing } from './platform/observability/tracing.ts'
import { VERSION } from './version.ts'

async function main(): Promise<void> {
  let config
  try {
    config = loadConfigFromProcess()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw err
  }

  const logger = createLogger({ level: config.logLevel })
  // The certificate and key are checked before anything else starts: an expired, weak or
  // mismatched pair refuses to start, naming the reason (ADR-0013).
  const tlsConfig = config.tls
  let https
  try {
    https = tlsConfig
      ? tlsServerOptions(tlsConfig, (warning) => logger.warn({ certFile: tlsConfig.certFile }, warning))
      : undefined
  } catch (err) {
    if (err instanceof TlsMaterialError) {
      logger.fatal(err.message)
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw err
  }
  const resolved = await resolveSecrets(config)
  config = resolved.config
  if (resolved.devSecrets?.generated) {
    logger.warn(
      { file: resolved.devSecrets.file },
      'development keys and secrets generated on first start; NODE_ENV=production refuses them',
    )
  } else if (resolved.devSecrets) {
    logger.warn({ file: resolved.devSecrets.file }, 'using development keys and secrets; never in production')
  }

  const tracing = startTracing({
    endpoint: config.otel.endpoint,
    serviceName: config.otel.serviceName,
    version: VERSION,
  })

  let db
  try {
    db = await openDatabase({
      ...databaseOptions(config),
      // Never the error object itself: a driver message can carry a connection string.
      onEvent: (event) => {
        if (event.type === 'waiting')
          logger.warn(
            { attempt: event.attempt, retryInMs: event.retryInMs, reason: event.reason },
            'waiting for the database',
          )
        else if (event.type === 'circuit')
          logger[event.state === 'closed' ? 'info' : 'warn'](
            { dependency: 'database', circuit: event.state, previous: event.previous },
            `database circuit ${event.state}`,
          )
        else
          logger.warn(
            {
              where: event.where,
              err: { message: event.error.message, code: (event.error as { code?: unknown }).code },
            },
            'database connection error',
          )
      },
    })
  } catch (err) {
    if (err instanceof DatabaseLockedError) {
      logger.fatal(err.message)
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(75) // EX_TEMPFAIL
    }
    if (err instanceof DatabaseUnavailableError) {
      logger.fatal({ reason: err.reason }, err.message)
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(69) // EX_UNAVAILABLE
    }
    throw err
  }
  logger.info(
    { database: db.kind, ...(db.kind === 'pglite' ? { dataDir: config.dataDir } : {}) },
    'database opened',
  )

  if (config.migrateOnStart) {
    const report = await migrate(db)
    logger.info({ applied: report.applied, alreadyApplied: report.alreadyApplied }, 'migrations checked')
  } else {
    // Migrations run elsewhere (a release job): refuse to serve a schema older than this code,
    // rather than fail request by request. Nothing is created here.
    const pending = await pendingMigrations(db)
    if (pending.length > 0) {
      const message = `the database schema is not up to date (pending: ${pending.join(', ')}) and MIGRATE_ON_START=false: run \`vigil migrate\` first`
      logger.fatal({ pending }, message)
      process.stderr.write(`vigil: ${message}\n`)
      await db.close()
      process.exit(78)
    }
  }

  const instance = await registerInstance(db, { version: VERSION, publicUrl: config.publicUrl })
  const instanceId = instance?.id
  // Instances on one database must name themselves alike: PUBLIC_URL is the OAuth issuer and the
  // audience base, so a token from one is refused by another that differs (ADR-0017).
  const message = publicUrlDisagreement(instance, config.publicUrl)
  if (message) {
    if (config.nodeEnv === 'production') {
      logger.fatal({ instanceId }, message)
      process.stderr.write(`vigil: ${message}\n`)
      await instance?.stop().catch(() => undefined)
      await db.close()
      process.exit(78)
    }
    logger.warn({ instanceId }, message)
  }
  const heartbeat = setInterval(() => {
    instance
      ?.heartbeat()
      .catch((err: unknown) =>
        logger.debug(
          { err: { message: err instanceof Error ? err.message : String(err) } },
          'instance heartbeat failed',
        ),
      )
  }, HEARTBEAT_SECONDS * 1000)
  heartbeat.unref()

  const redis = config.redisUrl
    ? createRedisClient(config.redisUrl, {
        commandTimeoutMs: config.resilience.redisCommandTimeoutMs,
        circuit: config.resilience.redisCircuit,
        onError: (err) => logger.warn({ err: { message: err.message } }, 'redis connection error'),
        onCircuit: (state, previous) =>
          logger[state === 'closed' ? 'info' : 'warn'](
            { dependency: 'redis', circuit: state, previous },
            `redis circuit ${state}`,
          ),
      })
    : undefined

  const app = await buildApp(config, {
    db,
    logger,
    redis,
    tracing,
    https,
    processMetrics: true,
    jobs: createJobClaimer(db, instanceId),
    signingKeyRefreshMs: 30_000,
  })

  let stopping = false
  // Keep-alive connections busy when the signal came turn idle once their response is sent, and
  // server.close() would then wait the whole keep-alive timeout for them (past SHUTDOWN_TIMEOUT_MS):
  // responses sent while stopping tell the client to close, and connections that go idle are reaped.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (stopping) reply.header('connection', 'close')
    return payload
  })
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
      const reaper = setInterval(() => app.server.closeIdleConnections(), 100)
      try {
        await app.close()
      } finally {
        clearInterval(reaper)
      }
      clearInterval(heartbeat)
      await instance
        ?.stop()
        .catch((err: unknown) =>
          logger.warn(
            { err: { message: err instanceof Error ? err.message : String(err) } },
            'could not record the stop',
          ),
        )
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
