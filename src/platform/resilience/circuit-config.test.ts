// The circuit breakers' thresholds and cool-downs are configuration (issue 12): DATABASE_CIRCUIT_*
// and REDIS_CIRCUIT_* are parsed and validated by the config loader, and the Redis client built
// from them opens its circuit after exactly the configured number of failures (a real ioredis
// client on a port where nothing listens). The database breaker's configured threshold is shown
// against a frozen PostgreSQL in test/integration/faults-postgres-frozen.test.ts.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../../config/index.ts'
import { createRedisClient } from '../redis/client.ts'
import { CircuitOpenError } from './circuit-breaker.ts'

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

test('[SRS-OPS-503] DATABASE_CIRCUIT_* and REDIS_CIRCUIT_* configure the breakers; defaults 3 failures / 500 ms and 3 / 1000 ms', () => {
  const defaults = loadConfig({}, '/srv').resilience
  assert.deepEqual(defaults.databaseCircuit, { failureThreshold: 3, cooldownMs: 500 })
  assert.deepEqual(defaults.redisCircuit, { failureThreshold: 3, cooldownMs: 1_000 })
  const set = loadConfig(
    {
      DATABASE_CIRCUIT_FAILURE_THRESHOLD: '5',
      DATABASE_CIRCUIT_COOLDOWN_MS: '2000',
      REDIS_CIRCUIT_FAILURE_THRESHOLD: '1',
      REDIS_CIRCUIT_COOLDOWN_MS: '250',
    },
    '/srv',
  ).resilience
  assert.deepEqual(set.databaseCircuit, { failureThreshold: 5, cooldownMs: 2_000 })
  assert.deepEqual(set.redisCircuit, { failureThreshold: 1, cooldownMs: 250 })
})

test('[SRS-OPS-503] a zero, negative, fractional or out-of-range circuit setting is refused naming its variable', () => {
  for (const [name, value] of [
    ['DATABASE_CIRCUIT_FAILURE_THRESHOLD', '0'],
    ['DATABASE_CIRCUIT_FAILURE_THRESHOLD', '1001'],
    ['DATABASE_CIRCUIT_COOLDOWN_MS', '5'],
    ['DATABASE_CIRCUIT_COOLDOWN_MS', '1.5'],
    ['REDIS_CIRCUIT_FAILURE_THRESHOLD', '-1'],
    ['REDIS_CIRCUIT_COOLDOWN_MS', '600001'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }, '/srv'),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        err.problems[0]!.startsWith(`${name}: expected an integer`),
      `${name}=${value}`,
    )
  }
})

test('[SRS-OPS-503] the Redis client opens its circuit after exactly REDIS_CIRCUIT_FAILURE_THRESHOLD failures', async () => {
  const port = await closedPort()
  for (const threshold of [1, 4]) {
    const config = loadConfig(
      { REDIS_CIRCUIT_FAILURE_THRESHOLD: String(threshold), REDIS_CIRCUIT_COOLDOWN_MS: '600000' },
      '/srv',
    )
    const redis = createRedisClient(`redis://127.0.0.1:${port}`, {
      commandTimeoutMs: 200,
      circuit: config.resilience.redisCircuit,
      onError: () => undefined,
    })
    try {
      const failures: unknown[] = []
      for (let i = 0; i < threshold; i++) {
        assert.equal(redis.circuitState(), 'closed', `closed before failure ${i + 1} of ${threshold}`)
        failures.push(await redis.get('k').catch((err: unknown) => err))
      }
      assert.ok(
        failures.every((e) => e instanceof Error && !(e instanceof CircuitOpenError)),
        'the first failures reach the (absent) server',
      )
      assert.equal(redis.circuitState(), 'open', `open after ${threshold} failure(s)`)
      const refused = await redis.get('k').catch((err: unknown) => err)
      assert.ok(refused instanceof CircuitOpenError, 'then refused at once by the open circuit')
    } finally {
      redis.disconnect()
    }
  }
})
