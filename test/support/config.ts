// Test configuration: the same loader as production, fed a controlled environment. DATABASE_URL
// and REDIS_URL pass through, so the whole suite runs against real servers when they are set.
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, type Config } from '../../src/config/index.ts'

/** Where each test configuration's audit checkpoints go unless a test names a file. */
export const TEST_CHECKPOINT_PREFIX = path.join(os.tmpdir(), 'vigil-test-checkpoints-')

export const TEST_KEYRING = `test-1:${Buffer.alloc(32, 7).toString('base64')}`
export const TEST_COOKIE_SECRET = 'test-cookie-secret-0123456789abcdef0123'

export function testEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    ENCRYPTION_KEYRING: TEST_KEYRING,
    COOKIE_SECRET: TEST_COOKIE_SECRET,
    // Every test request comes from 127.0.0.1 (and, with Redis, shares one counter across the
    // suite): the rate limit is off unless a test turns it on (rate-limit.test.ts).
    RATE_LIMIT_PER_MINUTE: '0',
    // The anomaly detector runs only where a test asks for it (anomaly-detection.test.ts): on a
    // shared PostgreSQL database every other test app would otherwise scan the whole suite's trail.
    ANOMALY_INTERVAL_SECONDS: '0',
    // The outbox relay likewise runs only in the event tests (test/integration/events-*.test.ts):
    // one relay per database schema, so test apps on a shared database would contend for it.
    EVENTS_RELAY: 'false',
    // Scheduled retention deletes across the whole database: only the retention-job test runs it.
    RETENTION_INTERVAL_SECONDS: '0',
    // A checkpoint file of its own: the default (DATA_DIR/audit-checkpoints.jsonl, ./var in the
    // checkout) is shared by every test process, and the verifier checks each database against
    // the latest checkpoint there — one test's checkpoint made every later verification fail.
    AUDIT_CHECKPOINT_FILE: `${TEST_CHECKPOINT_PREFIX}${randomUUID()}.jsonl`,
    ...overrides,
  }
}

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(overrides))
}

export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL)
