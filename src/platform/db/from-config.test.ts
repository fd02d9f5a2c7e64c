import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../config/index.ts'
import { databaseOptions } from './from-config.ts'

test('[SRS-PERF-606] the server opens its database with every pool, statement and timeout setting it was given', () => {
  const config = loadConfig(
    {
      DATABASE_URL: 'postgres://vigil@db.internal:5432/vigil',
      DATABASE_POOL_MAX: '12',
      DATABASE_POOL_MIN: '3',
      DATABASE_POOL_IDLE_SECONDS: '45',
      DATABASE_PREPARED_STATEMENTS: 'false',
      DATABASE_STATEMENT_TIMEOUT_MS: '7000',
      DATABASE_LOCK_TIMEOUT_MS: '700',
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '9000',
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
      DATABASE_STARTUP_WAIT_SECONDS: '20',
      DATABASE_CIRCUIT_FAILURE_THRESHOLD: '4',
      DATABASE_CIRCUIT_COOLDOWN_MS: '250',
    },
    '/srv/vigil',
  )
  assert.deepEqual(databaseOptions(config), {
    databaseUrl: 'postgres://vigil@db.internal:5432/vigil',
    pgliteDir: '/srv/vigil/var',
    poolMax: 12,
    poolMin: 3,
    poolIdleMs: 45_000,
    preparedStatements: false,
    statementTimeoutMs: 7000,
    lockTimeoutMs: 700,
    idleInTransactionTimeoutMs: 9000,
    connectTimeoutMs: 1500,
    startupWaitMs: 20_000,
    circuit: { failureThreshold: 4, cooldownMs: 250 },
  })
})
