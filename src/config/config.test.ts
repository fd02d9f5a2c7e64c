// loadConfig: environment variables in, one typed and frozen Config out, or one ConfigError that
// names every bad variable and what was expected — never the value, which may be a secret.
// The last group keeps .env.example and the loader in step (SRS-CONF-002).

import { readFileSync } from 'node:fs'
import path from 'node:path'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, DEV_KEY_ID_PREFIX, DEV_SECRET_PREFIX, loadConfig, type Config } from './index.ts'

const CWD = path.resolve('/srv/vigil')
const key = (fill: number, bytes = 32): string => Buffer.alloc(bytes, fill).toString('base64')

/** A secret-looking fragment planted in bad values: it must never appear in a message. */
const SECRET = 'S3cr3tValue9f8e7d'

/** The ConfigError that loading env throws; fails the test when loading succeeds. */
function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env, CWD)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
    return err
  }
  assert.fail('expected the configuration to be refused')
}

/** The problems about one variable (each message starts with "NAME: "). */
function problemsFor(err: ConfigError, name: string): string[] {
  return err.problems.filter((p) => p.startsWith(`${name}: `))
}

/** A production environment that starts: the baseline each production refusal changes one thing in. */
const PRODUCTION: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://vigil.example.com',
  ENCRYPTION_KEYRING: `2025-01:${key(1)}`,
  COOKIE_SECRET: 'c'.repeat(48),
  METRICS_TOKEN: 'm'.repeat(48),
  SMTP_URL: 'smtp://mail.example.com:587',
}

// ---------------------------------------------------------------------------------------------
// Defaults and valid values
// ---------------------------------------------------------------------------------------------

test('[SRS-CONF-001] an empty environment gives the documented development defaults', () => {
  const config = loadConfig({}, CWD)
  const expected: Config = {
    nodeEnv: 'development',
    host: '127.0.0.1',
    port: 8080,
    publicUrl: 'http://127.0.0.1:8080',
    dataDir: path.join(CWD, 'var'),
    databaseUrl: undefined,
    databasePoolMax: 10,
    databasePoolMin: 10,
    databasePoolIdleSeconds: 60,
    databasePreparedStatements: true,
    redisUrl: undefined,
    resilience: {
      statementTimeoutMs: 15_000,
      lockTimeoutMs: 5_000,
      idleInTransactionTimeoutMs: 30_000,
      connectTimeoutMs: 3_000,
      databaseStartupWaitSeconds: 300,
      redisCommandTimeoutMs: 500,
      databaseCircuit: { failureThreshold: 3, cooldownMs: 500 },
      redisCircuit: { failureThreshold: 3, cooldownMs: 1_000 },
    },
    migrateOnStart: true,
    logLevel: 'info',
    bodyLimitBytes: 1024 * 1024,
    corsOrigins: [],
    trustProxy: [],
    tls: undefined,
    shutdownTimeoutMs: 10_000,
    readinessTimeoutMs: 2_000,
    metricsToken: undefined,
    rateLimitPerMinute: 600,
    mail: { smtpUrl: undefined, from: 'Vigil <no-reply@vigil.localhost>' },
    oauth: { accessTokenTtlSeconds: 900, refreshTokenTtlSeconds: 2592000, authorizationCodeTtlSeconds: 60 },
    otel: { endpoint: undefined, serviceName: 'vigil' },
    audit: {
      checkpointFile: path.join(CWD, 'var', 'audit-checkpoints.jsonl'),
      checkpointIntervalSeconds: 300,
      checkpointCommand: undefined,
    },
    deviceData: {
      v1Sunset: '2027-12-31',
      dailyQuota: 100_000,
      deviceRequestsPerMinute: 600,
      groupCommit: true,
    },
    retention: { readingsDays: 3650, tokensDays: 30, auditDays: 2190, intervalSeconds: 86_400 },
    anomalies: {
      intervalSeconds: 60,
      webhookUrl: undefined,
      patientsThreshold: 50,
      patientsWindowSeconds: 600,
    },
    events: {
      relay: true,
      relayIntervalMs: 500,
      retryBaseMs: 5_000,
      retryMaxDelayMs: 3_600_000,
      retryForSeconds: 86_400,
      retentionHours: 168,
      webhookTimeoutMs: 10_000,
      allowPrivateDestinations: true,
      webhookCaFile: undefined,
      natsUrl: undefined,
      natsStream: 'VIGIL_EVENTS',
    },
    secrets: { keyring: undefined, cookieSecret: undefined },
  }
  assert.deepEqual(config, expected)
  assert.ok(Object.isFrozen(config), 'the config object is frozen')
})

test('[SRS-CONF-001] an empty value counts as unset and takes the default', () => {
  const config = loadConfig({ PORT: '', LOG_LEVEL: '', DATA_DIR: '', ENCRYPTION_KEYRING: '' }, CWD)
  assert.equal(config.port, 8080)
  assert.equal(config.logLevel, 'info')
  assert.equal(config.dataDir, path.join(CWD, 'var'))
  assert.equal(config.secrets.keyring, undefined)
})

test('[SRS-CONF-001] valid values are parsed into typed fields', () => {
  const keyring = `2024-06:${key(1)},2025-01:${key(2)}`
  const config = loadConfig(
    {
      NODE_ENV: 'test',
      HOST: '0.0.0.0',
      PORT: '0',
      DATA_DIR: 'state/db',
      DATABASE_URL: 'postgresql://vigil@db.internal:5432/vigil',
      DATABASE_POOL_MAX: '25',
      REDIS_URL: 'rediss://cache.internal:6380',
      MIGRATE_ON_START: '0',
      LOG_LEVEL: 'debug',
      BODY_LIMIT_BYTES: '2048',
      CORS_ORIGINS: ' https://console.example.com , http://localhost:5173,',
      TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      SHUTDOWN_TIMEOUT_MS: '0',
      READINESS_TIMEOUT_MS: '750',
      METRICS_TOKEN: 'm'.repeat(32),
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SERVICE_NAME: 'vigil-eu-1',
      ENCRYPTION_KEYRING: keyring,
      COOKIE_SECRET: 'c'.repeat(32),
    },
    CWD,
  )
  assert.equal(config.nodeEnv, 'test')
  assert.equal(config.host, '0.0.0.0')
  assert.equal(config.port, 0)
  // A wildcard listen address is not a place a client can reach: the default link base uses loopback.
  assert.equal(config.publicUrl, 'http://127.0.0.1:0')
  assert.equal(config.dataDir, path.join(CWD, 'state', 'db'))
  assert.equal(config.databaseUrl, 'postgresql://vigil@db.internal:5432/vigil')
  assert.equal(config.databasePoolMax, 25)
  assert.equal(config.databasePoolMin, 25, 'the pool keeps what it opened, up to its maximum')
  assert.equal(config.redisUrl, 'rediss://cache.internal:6380')
  assert.equal(config.migrateOnStart, false)
  assert.equal(config.logLevel, 'debug')
  assert.equal(config.bodyLimitBytes, 2048)
  assert.deepEqual(config.corsOrigins, ['https://console.example.com', 'http://localhost:5173'])
  assert.deepEqual(config.trustProxy, ['10.0.0.0/8', '127.0.0.1'])
  assert.equal(config.shutdownTimeoutMs, 0)
  assert.equal(config.readinessTimeoutMs, 750)
  assert.equal(config.metricsToken, 'm'.repeat(32))
  assert.deepEqual(config.otel, { endpoint: 'http://collector:4318', serviceName: 'vigil-eu-1' })
  assert.deepEqual(config.secrets, { keyring, cookieSecret: 'c'.repeat(32) })
})

test('[SRS-CONF-001] booleans accept true/false and 1/0', () => {
  assert.equal(loadConfig({ MIGRATE_ON_START: 'true' }, CWD).migrateOnStart, true)
  assert.equal(loadConfig({ MIGRATE_ON_START: '1' }, CWD).migrateOnStart, true)
  assert.equal(loadConfig({ MIGRATE_ON_START: 'false' }, CWD).migrateOnStart, false)
  assert.equal(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'false' }, CWD).databasePreparedStatements, false)
})

test('[SRS-CONF-001] PUBLIC_URL loses its trailing slash; the default follows HOST, PORT and TLS', () => {
  assert.equal(
    loadConfig({ PUBLIC_URL: 'https://vigil.example.com/base/' }, CWD).publicUrl,
    'https://vigil.example.com/base',
  )
  assert.equal(loadConfig({ HOST: '::1', PORT: '9000' }, CWD).publicUrl, 'http://[::1]:9000')
  const tls = loadConfig({ TLS_CERT_FILE: 'certs/server.pem', TLS_KEY_FILE: '/etc/vigil/server.key' }, CWD)
  assert.equal(tls.publicUrl, 'https://127.0.0.1:8080')
  assert.deepEqual(tls.tls, {
    certFile: path.join(CWD, 'certs', 'server.pem'),
    keyFile: '/etc/vigil/server.key',
  })
})

test('[SRS-CONF-001] development keys and secrets are accepted outside production', () => {
  const config = loadConfig(
    {
      ENCRYPTION_KEYRING: `${DEV_KEY_ID_PREFIX}1:${key(3)}`,
      COOKIE_SECRET: `${DEV_SECRET_PREFIX}${'d'.repeat(43)}`,
    },
    CWD,
  )
  assert.equal(config.secrets.keyring, `${DEV_KEY_ID_PREFIX}1:${key(3)}`)
})

// ---------------------------------------------------------------------------------------------
// Bad values: refused, naming the variable and what was expected, never echoing the value
// ---------------------------------------------------------------------------------------------

test('[SRS-CONF-001] PORT=not-a-port is refused naming PORT', () => {
  const err = refusal({ PORT: 'not-a-port' })
  assert.deepEqual(err.problems, ['PORT: expected an integer from 0 to 65535'])
  assert.match(err.message, /^Invalid configuration:\n {2}- PORT: expected an integer from 0 to 65535$/)
})

/** For each variable that can be wrong: how, and a bad value carrying the secret-looking fragment. */
const BAD_VALUES: readonly (readonly [name: string, how: string, value: string, expected: RegExp])[] = [
  ['NODE_ENV', 'not an environment', SECRET, /one of development, test, production/],
  ['HOST', 'with a slash', `${SECRET}/x`, /a host name or IP address/],
  ['PORT', 'not a number', SECRET, /an integer from 0 to 65535/],
  ['PUBLIC_URL', 'with a query', `https://vigil.example.com/?token=${SECRET}`, /without query or fragment/],
  ['PUBLIC_URL', 'with an ftp scheme', `ftp://admin:${SECRET}@vigil.example.com`, /scheme http: or https:/],
  ['DATABASE_URL', 'for MySQL', `mysql://vigil:${SECRET}@db:3306/vigil`, /scheme postgres: or postgresql:/],
  ['DATABASE_URL', 'not a URL', SECRET, /scheme postgres: or postgresql:/],
  ['DATABASE_POOL_MAX', 'not a number', SECRET, /an integer from 1 to 1000/],
  ['DATABASE_POOL_MIN', 'not a number', SECRET, /an integer from 0 to 1000/],
  ['DATABASE_POOL_IDLE_SECONDS', 'not a number', SECRET, /an integer from 1 to 86400/],
  ['DATABASE_PREPARED_STATEMENTS', 'not a boolean', SECRET, /true or false/],
  ['REDIS_URL', 'with an http scheme', `http://:${SECRET}@cache:6379`, /scheme redis: or rediss:/],
  ['MIGRATE_ON_START', 'not a boolean', SECRET, /true or false/],
  ['LOG_LEVEL', 'not a level', SECRET, /one of fatal, error, warn, info, debug, trace, silent/],
  ['BODY_LIMIT_BYTES', 'not a number', SECRET, /an integer from 1024 to 67108864/],
  ['SHUTDOWN_TIMEOUT_MS', 'negative', `-${SECRET}`, /an integer from 0 to 600000/],
  ['METRICS_TOKEN', 'shorter than 32 characters', SECRET, /at least 32 characters/],
  [
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'with a grpc scheme',
    `grpc://${SECRET}@collector:4317`,
    /scheme http: or https:/,
  ],
  ['ENCRYPTION_KEYRING', 'with a short key', `k1:${SECRET}`, /each key exactly 32 bytes/],
  ['COOKIE_SECRET', 'shorter than 32 characters', SECRET, /at least 32 characters/],
  ['AUDIT_CHECKPOINT_COMMAND', 'a relative path', `bin/${SECRET}`, /an absolute path to an executable/],
]

for (const [name, how, value, expected] of BAD_VALUES) {
  test(`[SRS-CONF-001] ${name} ${how} is refused naming ${name} and what is expected, without echoing the value`, () => {
    const err = refusal({ [name]: value })
    assert.equal(err.problems.length, 1, `one message: ${JSON.stringify(err.problems)}`)
    const problem = err.problems[0] ?? ''
    assert.ok(problem.startsWith(`${name}: expected `), `names ${name}: ${problem}`)
    assert.match(problem, expected)
    assert.ok(!err.message.includes(SECRET), `the value is not echoed: ${err.message}`)
  })
}

test('[SRS-PERF-606] DATABASE_POOL_MIN may lower the connections kept, never above DATABASE_POOL_MAX', () => {
  const lowered = loadConfig(
    { DATABASE_POOL_MAX: '20', DATABASE_POOL_MIN: '2', DATABASE_POOL_IDLE_SECONDS: '30' },
    CWD,
  )
  assert.equal(lowered.databasePoolMin, 2)
  assert.equal(lowered.databasePoolIdleSeconds, 30)
  assert.equal(loadConfig({ DATABASE_POOL_MIN: '0' }, CWD).databasePoolMin, 0)
  assert.deepEqual(refusal({ DATABASE_POOL_MAX: '4', DATABASE_POOL_MIN: '5' }).problems, [
    'DATABASE_POOL_MIN: expected at most DATABASE_POOL_MAX (4)',
  ])
})

test('[SRS-CONF-001] a bad CORS_ORIGINS is refused without echoing the value', () => {
  const err = refusal({ CORS_ORIGINS: SECRET })
  assert.equal(problemsFor(err, 'CORS_ORIGINS').length, 1)
  assert.ok(!err.message.includes(SECRET), `the value is not echoed: ${err.message}`)
})

test('[SRS-CONF-001] numbers out of range, signed, fractional or padded with text are refused', () => {
  for (const [name, value] of [
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '8080abc'],
    ['PORT', ' 8080'],
    ['DATABASE_POOL_MAX', '0'],
    ['DATABASE_POOL_MIN', '-1'],
    ['DATABASE_POOL_IDLE_SECONDS', '0'],
    ['BODY_LIMIT_BYTES', '1023'],
    ['BODY_LIMIT_BYTES', String(64 * 1024 * 1024 + 1)],
    ['SHUTDOWN_TIMEOUT_MS', '600001'],
    ['READINESS_TIMEOUT_MS', '99'],
  ] as const) {
    assert.deepEqual(
      refusal({ [name]: value }).problems.map((p) => p.split(':')[0]),
      [name],
      `${name}=${value}`,
    )
  }
})

test('[SRS-CONF-001] several bad variables are reported together, one message each', () => {
  const err = refusal({
    PORT: 'eighty',
    LOG_LEVEL: 'loud',
    DATABASE_URL: 'mysql://db/vigil',
    MIGRATE_ON_START: 'yes',
    NODE_ENV: 'staging',
  })
  assert.deepEqual(err.problems.map((p) => p.split(':')[0]).sort(), [
    'DATABASE_URL',
    'LOG_LEVEL',
    'MIGRATE_ON_START',
    'NODE_ENV',
    'PORT',
  ])
  for (const p of err.problems)
    assert.match(err.message, new RegExp(`^ {2}- ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
})

test('[SRS-CONF-001] TLS_CERT_FILE without TLS_KEY_FILE is refused, and the reverse', () => {
  assert.deepEqual(refusal({ TLS_CERT_FILE: 'server.pem' }).problems, [
    'TLS_KEY_FILE: expected to be set together with TLS_CERT_FILE',
  ])
  assert.deepEqual(refusal({ TLS_KEY_FILE: 'server.key' }).problems, [
    'TLS_CERT_FILE: expected to be set together with TLS_KEY_FILE',
  ])
})

test('[SRS-CONF-001] CORS_ORIGINS with a path, a trailing slash or a non-URL is refused naming CORS_ORIGINS', () => {
  for (const value of [
    'https://console.example.com/app',
    'https://console.example.com/',
    'console.example.com',
    'https://a.example.com,https://b.example.com/x',
  ]) {
    const err = refusal({ CORS_ORIGINS: value })
    assert.equal(err.problems.length, 1, value)
    assert.match(err.problems[0] ?? '', /^CORS_ORIGINS: expected a comma-separated list of origins/, value)
  }
})

test('[SRS-CONF-001] ENCRYPTION_KEYRING with a wrong-length key, a duplicate kid or a malformed entry is refused', () => {
  for (const [why, value] of [
    ['31-byte key', `k1:${key(1, 31)}`],
    ['33-byte key', `k1:${key(1, 33)}`],
    ['16-byte key', `k1:${key(1, 16)}`],
    ['duplicate kid', `k1:${key(1)},k1:${key(2)}`],
    ['no kid', key(1)],
    ['empty kid', `:${key(1)}`],
    ['kid with a space', `key one:${key(1)}`],
    ['kid longer than 64', `${'k'.repeat(65)}:${key(1)}`],
    ['not base64', `k1:${'*'.repeat(44)}`],
    ['empty entry', `k1:${key(1)},`],
  ] as const) {
    assert.deepEqual(
      refusal({ ENCRYPTION_KEYRING: value }).problems,
      ['ENCRYPTION_KEYRING: expected comma-separated unique kid:base64 entries, each key exactly 32 bytes'],
      why,
    )
  }
  // The same keys with distinct kids are a valid rotation history.
  assert.equal(
    loadConfig({ ENCRYPTION_KEYRING: `k1:${key(1)}, k2:${key(2)}` }, CWD).secrets.keyring,
    `k1:${key(1)}, k2:${key(2)}`,
  )
})

// ---------------------------------------------------------------------------------------------
// Production refuses missing and development keys and secrets
// ---------------------------------------------------------------------------------------------

test('[SRS-SETUP-004] a complete production environment is accepted', () => {
  const config = loadConfig(PRODUCTION, CWD)
  assert.equal(config.nodeEnv, 'production')
  assert.equal(config.publicUrl, 'https://vigil.example.com')
})

test('[SRS-SETUP-004] production without ENCRYPTION_KEYRING, COOKIE_SECRET, METRICS_TOKEN, SMTP_URL and PUBLIC_URL is refused naming each', () => {
  assert.deepEqual(
    refusal({ NODE_ENV: 'production' })
      .problems.map((p) => p.split(':')[0])
      .sort(),
    ['COOKIE_SECRET', 'ENCRYPTION_KEYRING', 'METRICS_TOKEN', 'PUBLIC_URL', 'SMTP_URL'],
  )
  for (const name of ['ENCRYPTION_KEYRING', 'COOKIE_SECRET', 'METRICS_TOKEN', 'SMTP_URL', 'PUBLIC_URL']) {
    const err = refusal({ ...PRODUCTION, [name]: undefined })
    assert.equal(err.problems.length, 1, `${name}: ${JSON.stringify(err.problems)}`)
    assert.match(err.problems[0] ?? '', new RegExp(`^${name}: expected .*production`))
    // An empty value is as missing as an absent one.
    assert.deepEqual(refusal({ ...PRODUCTION, [name]: '' }).problems, err.problems)
  }
})

test('[SRS-SETUP-004] production refuses a development key (kid "dev-…") anywhere in ENCRYPTION_KEYRING', () => {
  for (const keyring of [
    `${DEV_KEY_ID_PREFIX}1:${key(4)}`,
    `2025-01:${key(1)},${DEV_KEY_ID_PREFIX}1:${key(4)}`,
  ]) {
    const err = refusal({ ...PRODUCTION, ENCRYPTION_KEYRING: keyring })
    assert.deepEqual(err.problems, [
      'ENCRYPTION_KEYRING: expected production keys; development keys (kid "dev-…") are refused',
    ])
    assert.ok(!err.message.includes(key(4)), 'the key is not echoed')
  }
})

test('[SRS-SETUP-004] production refuses a development key after a comma and a space', () => {
  refusal({ ...PRODUCTION, ENCRYPTION_KEYRING: `2025-01:${key(1)}, ${DEV_KEY_ID_PREFIX}1:${key(4)}` })
})

test('[SRS-SETUP-004] production refuses a development COOKIE_SECRET ("dev." prefix)', () => {
  const secret = `${DEV_SECRET_PREFIX}${SECRET}${'x'.repeat(32)}`
  const err = refusal({ ...PRODUCTION, COOKIE_SECRET: secret })
  assert.deepEqual(err.problems, [
    'COOKIE_SECRET: expected a production secret; a development secret is refused',
  ])
  assert.ok(!err.message.includes(SECRET))
})

test('[SRS-SETUP-004] production refuses a development METRICS_TOKEN ("dev." prefix)', () => {
  refusal({ ...PRODUCTION, METRICS_TOKEN: `${DEV_SECRET_PREFIX}${'x'.repeat(40)}` })
})

test('[SRS-SETUP-004] production refuses an http:// PUBLIC_URL', () => {
  assert.deepEqual(refusal({ ...PRODUCTION, PUBLIC_URL: 'http://vigil.example.com' }).problems, [
    'PUBLIC_URL: expected an https:// URL in production',
  ])
})

test('[SRS-CONF-001] production reports a malformed secret or URL once, not also as missing', () => {
  for (const [name, value] of [
    ['ENCRYPTION_KEYRING', 'k1:short'],
    ['COOKIE_SECRET', 'short'],
    ['METRICS_TOKEN', 'short'],
    ['PUBLIC_URL', 'ftp://vigil.example.com'],
  ] as const) {
    assert.equal(problemsFor(refusal({ ...PRODUCTION, [name]: value }), name).length, 1, name)
  }
})

// ---------------------------------------------------------------------------------------------
// .env.example documents every variable the loader reads, with its default
// ---------------------------------------------------------------------------------------------

const CONFIG_SOURCE = readFileSync(new URL('./index.ts', import.meta.url), 'utf8')
const ENV_EXAMPLE = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')

/** Variables the loader reads: read('NAME', …) and direct env.NAME / env['NAME'] look-ups. */
function variablesRead(): Set<string> {
  const names = new Set<string>()
  for (const m of CONFIG_SOURCE.matchAll(/\bread\(\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1] ?? '')
  for (const m of CONFIG_SOURCE.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[\s*'([A-Z][A-Z0-9_]*)'\s*\])/g))
    names.add(m[1] ?? m[2] ?? '')
  return names
}

/** .env.example's settings: lines of the form `# NAME=default`, in file order, with the line index. */
function documentedVariables(): { name: string; value: string; line: number }[] {
  return ENV_EXAMPLE.split('\n').flatMap((text, line) => {
    const m = /^# ([A-Z][A-Z0-9_]*)=(.*)$/.exec(text)
    return m ? [{ name: m[1] ?? '', value: m[2] ?? '', line }] : []
  })
}

test('[SRS-CONF-002] every variable read in src/config/index.ts is documented in .env.example', () => {
  const read = variablesRead()
  assert.ok(read.size >= 20, `found the read() calls (${read.size})`)
  const documented = new Set(documentedVariables().map((v) => v.name))
  assert.deepEqual([...read].filter((n) => !documented.has(n)).sort(), [], 'read but not documented')
})

test('[SRS-CONF-002] every variable in .env.example is read by the loader (no stale entries), once', () => {
  const read = variablesRead()
  const names = documentedVariables().map((v) => v.name)
  assert.deepEqual(names.filter((n) => !read.has(n)).sort(), [], 'documented but not read')
  assert.deepEqual(
    names.filter((n, i) => names.indexOf(n) !== i),
    [],
    'documented twice',
  )
})

test('[SRS-CONF-002] .env.example overrides nothing and explains every variable', () => {
  const lines = ENV_EXAMPLE.split('\n')
  assert.deepEqual(
    lines.filter((l) => l.trim() !== '' && !l.startsWith('#')),
    [],
    'only comments',
  )
  for (const { name, line } of documentedVariables()) {
    // The explanation is the comment block right above (TLS_KEY_FILE shares TLS_CERT_FILE's).
    let above = line - 1
    while (above >= 0 && /^# [A-Z][A-Z0-9_]*=/.test(lines[above] ?? '')) above--
    assert.match(lines[above] ?? '', /^# \S/, `${name} has a comment above it`)
  }
})

test("[SRS-CONF-002] each default written in .env.example is the loader's default", () => {
  const defaults = loadConfig({}, CWD)
  for (const { name, value } of documentedVariables()) {
    assert.deepEqual(loadConfig({ [name]: value }, CWD), defaults, `${name}=${value} is the default`)
  }
})

test('[SRS-CONF-001] HOST=:: (every interface) gives a default PUBLIC_URL on the reachable loopback address', () => {
  assert.equal(loadConfig({ HOST: '::', PORT: '9000' }).publicUrl, 'http://[::1]:9000')
  assert.equal(loadConfig({ HOST: '0.0.0.0', PORT: '9000' }).publicUrl, 'http://127.0.0.1:9000')
})

test('[SRS-MAIL-001] production refuses SMTP credentials over a connection that may stay unencrypted', () => {
  assert.deepEqual(
    refusal({ ...PRODUCTION, SMTP_URL: 'smtp://user:secret-pass@mail.example.com:587' }).problems,
    ['SMTP_URL: expected smtps:// or ?requireTLS=true in production when the URL carries credentials'],
  )
  assert.equal(
    loadConfig({
      ...PRODUCTION,
      SMTP_URL: 'smtp://user:secret-pass@mail.example.com:587?requireTLS=true',
    }).mail.smtpUrl?.startsWith('smtp://'),
    true,
  )
  assert.equal(
    loadConfig({ ...PRODUCTION, SMTP_URL: 'smtps://user:secret-pass@mail.example.com:465' }).nodeEnv,
    'production',
  )
})

test('[SRS-EVT-356] events: retries last a day by default and are configurable (EVENTS_RETRY_FOR_SECONDS); production refuses less than a day, private webhook destinations and a test CA, naming each', () => {
  assert.equal(loadConfig(PRODUCTION, CWD).events.retryForSeconds, 86_400)
  assert.equal(
    loadConfig(PRODUCTION, CWD).events.allowPrivateDestinations,
    false,
    'production judges destinations as public-only by default',
  )
  assert.equal(
    loadConfig({ ...PRODUCTION, EVENTS_RETRY_FOR_SECONDS: '259200' }, CWD).events.retryForSeconds,
    259_200,
    'three days',
  )
  assert.equal(
    loadConfig({ EVENTS_RETRY_FOR_SECONDS: '60' }, CWD).events.retryForSeconds,
    60,
    'shorter outside production (tests)',
  )
  assert.deepEqual(
    problemsFor(refusal({ ...PRODUCTION, EVENTS_RETRY_FOR_SECONDS: '86399' }), 'EVENTS_RETRY_FOR_SECONDS'),
    ['EVENTS_RETRY_FOR_SECONDS: expected at least 86400 (24 hours) in production'],
  )
  assert.equal(
    problemsFor(
      refusal({ ...PRODUCTION, EVENTS_ALLOW_PRIVATE_DESTINATIONS: 'true' }),
      'EVENTS_ALLOW_PRIVATE_DESTINATIONS',
    ).length,
    1,
  )
  assert.equal(
    problemsFor(refusal({ ...PRODUCTION, EVENTS_WEBHOOK_CA_FILE: '/tmp/ca.pem' }), 'EVENTS_WEBHOOK_CA_FILE')
      .length,
    1,
  )
})
