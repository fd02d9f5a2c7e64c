// The server's database options from its configuration: one mapping for src/main.ts and the
// benchmark's server (bench/server.ts), so a setting measured is a setting the server applies.
import type { Config } from '../../config/index.ts'
import type { DatabaseOptions } from './index.ts'

export function databaseOptions(config: Config): DatabaseOptions {
  const r = config.resilience
  return {
    databaseUrl: config.databaseUrl,
    pgliteDir: config.dataDir,
    poolMax: config.databasePoolMax,
    poolMin: config.databasePoolMin,
    poolIdleMs: config.databasePoolIdleSeconds * 1000,
    preparedStatements: config.databasePreparedStatements,
    statementTimeoutMs: r.statementTimeoutMs,
    lockTimeoutMs: r.lockTimeoutMs,
    idleInTransactionTimeoutMs: r.idleInTransactionTimeoutMs,
    connectTimeoutMs: r.connectTimeoutMs,
    startupWaitMs: r.databaseStartupWaitSeconds * 1000,
    circuit: r.databaseCircuit,
  }
}
