// The one place that reads the environment (conventions C5). Every variable is parsed once into a
// typed, frozen object; every bad value is reported at once, each naming its variable and what
// was expected, so an operator fixes a deployment in one round rather than one error at a time.
// Each variable is documented in .env.example; config.test.ts keeps the two in step.

import path from 'node:path'

export type NodeEnv = 'development' | 'test' | 'production'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface TlsConfig {
  readonly certFile: string
  readonly keyFile: string
}

export interface CircuitConfig {
  /** Consecutive connection failures or timeouts that open the circuit. */
  readonly failureThreshold: number
  /** Milliseconds the circuit stays open before one trial call probes the dependency. */
  readonly cooldownMs: number
}

export interface Config {
  readonly nodeEnv: NodeEnv
  readonly host: string
  readonly port: number
  /** The public base URL (scheme, host, port, no trailing slash): the OAuth issuer and link base. */
  readonly publicUrl: string
  readonly dataDir: string
  readonly databaseUrl: string | undefined
  readonly databasePoolMax: number
  /** Connections each instance keeps open once opened (default DATABASE_POOL_MAX: a pool that never shrinks; ADR-0039). */
  readonly databasePoolMin: number
  /** Seconds a connection above databasePoolMin stays idle before it is closed. */
  readonly databasePoolIdleSeconds: number
  /** Send common statements as named (prepared) statements (ADR-0037); off behind a pooler that cannot keep them. */
  readonly databasePreparedStatements: boolean
  readonly redisUrl: string | undefined
  /** Resilience when PostgreSQL or Redis goes away (ADR-0017). Timeouts in ms; 0 = none. */
  readonly resilience: {
    readonly statementTimeoutMs: number
    readonly lockTimeoutMs: number
    readonly idleInTransactionTimeoutMs: number
    readonly connectTimeoutMs: number
    /** How long start-up waits for an unreachable PostgreSQL before giving up (0 = not at all). */
    readonly databaseStartupWaitSeconds: number
    readonly redisCommandTimeoutMs: number
    /** Circuit breakers (ADR-0017, ADR-0025): consecutive failures that open each circuit, and its cool-down. */
    readonly databaseCircuit: CircuitConfig
    readonly redisCircuit: CircuitConfig
  }
  readonly migrateOnStart: boolean
  readonly logLevel: LogLevel
  readonly bodyLimitBytes: number
  readonly corsOrigins: readonly string[]
  /** Proxy addresses/CIDRs whose X-Forwarded-* headers are believed; empty = none. */
  readonly trustProxy: readonly string[]
  readonly tls: TlsConfig | undefined
  readonly shutdownTimeoutMs: number
  /** Deadline of each dependency check of the readiness probe; keep it under the orchestrator's probe timeout. */
  readonly readinessTimeoutMs: number
  readonly metricsToken: string | undefined
  /** Requests per minute per client address (0 = no limit); shared across instances through Redis when REDIS_URL is set. */
  readonly rateLimitPerMinute: number
  readonly deviceData: {
    /** When /api/v1/device-data stops being served (ISO 8601 date, UTC): announced in Sunset headers and OpenAPI. */
    readonly v1Sunset: string
    /** Readings a device may send per UTC day unless its own daily_quota says otherwise. */
    readonly dailyQuota: number
    /** Requests per minute per device to the device-data routes (0 = no limit). */
    readonly deviceRequestsPerMinute: number
    /** Concurrent small device writes share one transaction (ADR-0036). */
    readonly groupCommit: boolean
  }
  readonly mail: {
    /** smtp:// or smtps:// URL of the mail relay; unset → mail is written under DATA_DIR/mail (development only). */
    readonly smtpUrl: string | undefined
    readonly from: string
  }
  readonly oauth: {
    readonly accessTokenTtlSeconds: number
    readonly refreshTokenTtlSeconds: number
    readonly authorizationCodeTtlSeconds: number
  }
  readonly otel: {
    readonly endpoint: string | undefined
    readonly serviceName: string
  }
  readonly audit: {
    /** Signed audit checkpoints are appended here as JSON lines (outside the database). */
    readonly checkpointFile: string
    /** Seconds between the server's audit checkpoints; 0 = none. */
    readonly checkpointIntervalSeconds: number
    /** An executable given each signed checkpoint as one JSON line on standard input (shipping to write-once storage). */
    readonly checkpointCommand: string | undefined
  }
  /** Retention per data class, in days (`vigil retention run`; ADR-0009, ADR-0006 addendum). */
  readonly retention: {
    readonly readingsDays: number
    /** Expired OAuth payloads, used or expired mail tokens, idempotency keys, login throttle rows. */
    readonly tokensDays: number
    /** At least 2190 (six years): audit entries are never pruned earlier. */
    readonly auditDays: number
    /** Seconds between the server's retention runs, once per period across instances; 0 = none (CLI only). */
    readonly intervalSeconds: number
  }
  /** Anomaly detection over the audit trail (ADR-0006 addendum). */
  readonly anomalies: {
    /** Seconds between detector runs; 0 = none (on demand only). */
    readonly intervalSeconds: number
    /** Security events are POSTed here as JSON when set. */
    readonly webhookUrl: string | undefined
    /** One user touching at least this many distinct patients within the window raises an event. */
    readonly patientsThreshold: number
    readonly patientsWindowSeconds: number
  }
  /** Event delivery from the outbox: webhooks, FHIR Subscriptions, NATS JetStream (ADR-0020). */
  readonly events: {
    /** Run the outbox relay in this process (one instance is active at a time). */
    readonly relay: boolean
    readonly relayIntervalMs: number
    /** First retry delay; doubled per attempt (with jitter) up to retryMaxDelayMs. */
    readonly retryBaseMs: number
    readonly retryMaxDelayMs: number
    /** How long an event is retried before it is dead-lettered (at least a day in production). */
    readonly retryForSeconds: number
    /** Hours delivered events stay in the outbox (for replay) before they are pruned. */
    readonly retentionHours: number
    readonly webhookTimeoutMs: number
    /** Deliver to private, loopback and link-local addresses and over plain http (never in production). */
    readonly allowPrivateDestinations: boolean
    /** An extra CA certificate (PEM file) trusted for webhook TLS: test receivers only, refused in production. */
    readonly webhookCaFile: string | undefined
    /** nats:// or tls:// URL of a NATS server with JetStream; unset → no stream. */
    readonly natsUrl: string | undefined
    readonly natsStream: string
  }
  readonly secrets: {
    /** Comma-separated `kid:base64(32 bytes)` key-encryption keys, newest last. */
    readonly keyring: string | undefined
    readonly cookieSecret: string | undefined
  }
}

export class ConfigError extends Error {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

type Env = Readonly<Record<string, string | undefined>>
type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string }

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const bad = (expected: string): Parsed<never> => ({ ok: false, expected })

function integer(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    if (!/^\d+$/.test(raw)) return bad(`an integer from ${min} to ${max}`)
    const n = Number(raw)
    return n >= min && n <= max ? ok(n) : bad(`an integer from ${min} to ${max}`)
  }
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): Parsed<T> =>
    (values as readonly string[]).includes(raw) ? ok(raw as T) : bad(`one of ${values.join(', ')}`)
}

function boolean(raw: string): Parsed<boolean> {
  if (raw === 'true' || raw === '1') return ok(true)
  if (raw === 'false' || raw === '0') return ok(false)
  return bad('true or false')
}

function url(protocols: readonly string[]) {
  return (raw: string): Parsed<string> => {
    try {
      const u = new URL(raw)
      if (!protocols.includes(u.protocol)) return bad(`a URL with scheme ${protocols.join(' or ')}`)
      return ok(raw)
    } catch {
      return bad(`a URL with scheme ${protocols.join(' or ')}`)
    }
  }
}

function publicUrl(raw: string): Parsed<string> {
  const parsed = url(['http:', 'https:'])(raw)
  if (!parsed.ok) return parsed
  const u = new URL(raw)
  if (u.search || u.hash) return bad('an http(s) base URL without query or fragment')
  return ok(raw.replace(/\/+$/, ''))
}

function list(raw: string): Parsed<string[]> {
  return ok(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
}

function origins(raw: string): Parsed<string[]> {
  const items = list(raw)
  if (!items.ok) return items
  for (const item of items.value) {
    let u: URL
    try {
      u = new URL(item)
    } catch {
      return bad('a comma-separated list of origins such as https://app.example.com')
    }
    if (u.origin !== item)
      return bad('a comma-separated list of origins (scheme, host and port) without path or trailing slash')
  }
  return ok(items.value)
}

function isoDate(raw: string): Parsed<string> {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw)
  const d = m ? new Date(`${raw}T00:00:00Z`) : undefined
  return d && !Number.isNaN(d.getTime()) && d.toISOString().startsWith(raw)
    ? ok(raw)
    : bad('a date as YYYY-MM-DD (UTC)')
}

function text(minLength: number, what: string) {
  return (raw: string): Parsed<string> => (raw.length >= minLength ? ok(raw) : bad(what))
}

function absolutePath(raw: string): Parsed<string> {
  return path.isAbsolute(raw) ? ok(raw) : bad('an absolute path to an executable')
}

function host(raw: string): Parsed<string> {
  return /^[A-Za-z0-9.:\-[\]]+$/.test(raw) ? ok(raw) : bad('a host name or IP address to listen on')
}

/** Development-generated secrets carry this prefix so production can recognise and refuse them. */
export const DEV_SECRET_PREFIX = 'dev.'
export const DEV_KEY_ID_PREFIX = 'dev-'

export function loadConfig(env: Env, cwd = process.cwd()): Config {
  const problems: string[] = []
  const invalid = new Set<string>()

  function read<T>(name: string, parse: (raw: string) => Parsed<T>, fallback: T): T
  function read<T>(name: string, parse: (raw: string) => Parsed<T>): T | undefined
  function read<T>(name: string, parse: (raw: string) => Parsed<T>, fallback?: T): T | undefined {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const parsed = parse(raw)
    if (parsed.ok) return parsed.value
    // The value itself is never echoed: it may be a secret.
    problems.push(`${name}: expected ${parsed.expected}`)
    invalid.add(name)
    return fallback
  }

  const nodeEnv = read('NODE_ENV', oneOf(['development', 'test', 'production'] as const), 'development')
  const host_ = read('HOST', host, '127.0.0.1')
  const port = read('PORT', integer(0, 65535), 8080)
  const tlsCert = read('TLS_CERT_FILE', text(1, 'a path to a PEM certificate file'))
  const tlsKey = read('TLS_KEY_FILE', text(1, 'a path to a PEM private key file'))
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    problems.push(
      `${tlsCert === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'}: expected to be set together with ${tlsCert === undefined ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'}`,
    )
  }
  const tls =
    tlsCert !== undefined && tlsKey !== undefined
      ? { certFile: path.resolve(cwd, tlsCert), keyFile: path.resolve(cwd, tlsKey) }
      : undefined
  // Listening on every interface: the default public URL names the loopback one clients can reach.
  const reachableHost = host_ === '0.0.0.0' ? '127.0.0.1' : host_ === '::' ? '::1' : host_
  const defaultPublicUrl = `${tls ? 'https' : 'http'}://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}`

  const keyring = read('ENCRYPTION_KEYRING', keyringFormat)
  const cookieSecret = read('COOKIE_SECRET', text(32, 'a random string of at least 32 characters'))
  const metricsToken = read('METRICS_TOKEN', text(32, 'a random string of at least 32 characters'))

  const dataDir = path.resolve(cwd, read('DATA_DIR', text(1, 'a directory path'), './var'))

  // A pool that shrinks opens its connections again under the next burst, each a backend's start
  // and its prepared statements: by default it keeps every connection it opened (ADR-0039).
  const databasePoolMax = read('DATABASE_POOL_MAX', integer(1, 1000), 10)
  const databasePoolMin = read('DATABASE_POOL_MIN', integer(0, 1000), databasePoolMax)
  if (databasePoolMin > databasePoolMax && !invalid.has('DATABASE_POOL_MAX'))
    problems.push(`DATABASE_POOL_MIN: expected at most DATABASE_POOL_MAX (${databasePoolMax})`)

  const config: Config = {
    nodeEnv,
    host: host_,
    port,
    publicUrl: read('PUBLIC_URL', publicUrl, defaultPublicUrl),
    dataDir,
    databaseUrl: read('DATABASE_URL', url(['postgres:', 'postgresql:'])),
    databasePoolMax,
    databasePoolMin,
    databasePoolIdleSeconds: read('DATABASE_POOL_IDLE_SECONDS', integer(1, 86_400), 60),
    databasePreparedStatements: read('DATABASE_PREPARED_STATEMENTS', boolean, true),
    redisUrl: read('REDIS_URL', url(['redis:', 'rediss:'])),
    resilience: {
      statementTimeoutMs: read('DATABASE_STATEMENT_TIMEOUT_MS', integer(0, 3_600_000), 15_000),
      lockTimeoutMs: read('DATABASE_LOCK_TIMEOUT_MS', integer(0, 3_600_000), 5_000),
      idleInTransactionTimeoutMs: read(
        'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
        integer(0, 3_600_000),
        30_000,
      ),
      connectTimeoutMs: read('DATABASE_CONNECT_TIMEOUT_MS', integer(100, 60_000), 3_000),
      databaseStartupWaitSeconds: read('DATABASE_STARTUP_WAIT_SECONDS', integer(0, 86_400), 300),
      redisCommandTimeoutMs: read('REDIS_COMMAND_TIMEOUT_MS', integer(10, 60_000), 500),
      databaseCircuit: {
        failureThreshold: read('DATABASE_CIRCUIT_FAILURE_THRESHOLD', integer(1, 1_000), 3),
        cooldownMs: read('DATABASE_CIRCUIT_COOLDOWN_MS', integer(10, 600_000), 500),
      },
      redisCircuit: {
        failureThreshold: read('REDIS_CIRCUIT_FAILURE_THRESHOLD', integer(1, 1_000), 3),
        cooldownMs: read('REDIS_CIRCUIT_COOLDOWN_MS', integer(10, 600_000), 1_000),
      },
    },
    rateLimitPerMinute: read('RATE_LIMIT_PER_MINUTE', integer(0, 1_000_000), 600),
    deviceData: {
      v1Sunset: read('API_V1_SUNSET', isoDate, '2027-12-31'),
      dailyQuota: read('DEVICE_DAILY_QUOTA', integer(1, 100_000_000), 100_000),
      deviceRequestsPerMinute: read('DEVICE_RATE_LIMIT_PER_MINUTE', integer(0, 1_000_000), 600),
      groupCommit: read('INGEST_GROUP_COMMIT', boolean, true),
    },
    migrateOnStart: read('MIGRATE_ON_START', boolean, true),
    logLevel: read(
      'LOG_LEVEL',
      oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
      'info',
    ),
    bodyLimitBytes: read('BODY_LIMIT_BYTES', integer(1024, 64 * 1024 * 1024), 1024 * 1024),
    corsOrigins: read('CORS_ORIGINS', origins, []),
    trustProxy: read('TRUST_PROXY', list, []),
    tls,
    shutdownTimeoutMs: read('SHUTDOWN_TIMEOUT_MS', integer(0, 600_000), 10_000),
    readinessTimeoutMs: read('READINESS_TIMEOUT_MS', integer(100, 60_000), 2_000),
    metricsToken,
    mail: {
      smtpUrl: read('SMTP_URL', url(['smtp:', 'smtps:'])),
      from: read(
        'MAIL_FROM',
        text(3, 'a sender address such as "Vigil <no-reply@example.com>"'),
        'Vigil <no-reply@vigil.localhost>',
      ),
    },
    oauth: {
      // Access tokens ≤ 15 min by default (issue 3); codes single-use and ≤ 60 s.
      accessTokenTtlSeconds: read('ACCESS_TOKEN_TTL_SECONDS', integer(60, 3600), 900),
      refreshTokenTtlSeconds: read('REFRESH_TOKEN_TTL_SECONDS', integer(300, 90 * 24 * 3600), 30 * 24 * 3600),
      authorizationCodeTtlSeconds: read('AUTHORIZATION_CODE_TTL_SECONDS', integer(10, 60), 60),
    },
    otel: {
      endpoint: read('OTEL_EXPORTER_OTLP_ENDPOINT', url(['http:', 'https:'])),
      serviceName: read('OTEL_SERVICE_NAME', text(1, 'a service name'), 'vigil'),
    },
    audit: {
      checkpointFile: path.resolve(
        cwd,
        read('AUDIT_CHECKPOINT_FILE', text(1, 'a file path')) ??
          path.join(dataDir, 'audit-checkpoints.jsonl'),
      ),
      checkpointIntervalSeconds: read('AUDIT_CHECKPOINT_INTERVAL_SECONDS', integer(0, 86_400), 300),
      checkpointCommand: read('AUDIT_CHECKPOINT_COMMAND', absolutePath),
    },
    retention: {
      readingsDays: read('RETENTION_READINGS_DAYS', integer(1, 36_500), 3650),
      tokensDays: read('RETENTION_TOKENS_DAYS', integer(1, 36_500), 30),
      auditDays: read('RETENTION_AUDIT_DAYS', integer(2190, 36_500), 2190),
      intervalSeconds: read('RETENTION_INTERVAL_SECONDS', integer(0, 30 * 86_400), 86_400),
    },
    anomalies: {
      intervalSeconds: read('ANOMALY_INTERVAL_SECONDS', integer(0, 86_400), 60),
      webhookUrl: read('SECURITY_EVENTS_WEBHOOK_URL', url(['http:', 'https:'])),
      patientsThreshold: read('ANOMALY_PATIENTS_THRESHOLD', integer(2, 1_000_000), 50),
      patientsWindowSeconds: read('ANOMALY_PATIENTS_WINDOW_SECONDS', integer(60, 86_400), 600),
    },
    events: {
      relay: read('EVENTS_RELAY', boolean, true),
      relayIntervalMs: read('EVENTS_RELAY_INTERVAL_MS', integer(10, 60_000), 500),
      retryBaseMs: read('EVENTS_RETRY_BASE_MS', integer(10, 3_600_000), 5_000),
      retryMaxDelayMs: read('EVENTS_RETRY_MAX_DELAY_MS', integer(10, 86_400_000), 3_600_000),
      retryForSeconds: read('EVENTS_RETRY_FOR_SECONDS', integer(1, 30 * 86_400), 86_400),
      retentionHours: read('EVENTS_RETENTION_HOURS', integer(1, 24 * 365), 168),
      webhookTimeoutMs: read('EVENTS_WEBHOOK_TIMEOUT_MS', integer(100, 60_000), 10_000),
      allowPrivateDestinations: read('EVENTS_ALLOW_PRIVATE_DESTINATIONS', boolean, nodeEnv !== 'production'),
      webhookCaFile: read('EVENTS_WEBHOOK_CA_FILE', text(1, 'a path to a PEM CA certificate file')),
      natsUrl: read('NATS_URL', url(['nats:', 'tls:'])),
      natsStream: read('NATS_STREAM', streamName, 'VIGIL_EVENTS'),
    },
    secrets: { keyring, cookieSecret },
  }

  if (nodeEnv === 'production') {
    // Production never runs on generated or missing secrets (SRS §Product contract: set-up). A variable
    // that already failed its format check gets no second message.
    const missing = (name: string) => !invalid.has(name) && (env[name] === undefined || env[name] === '')
    const refuse = (name: string, expected: string) => {
      if (!invalid.has(name)) problems.push(`${name}: expected ${expected}`)
    }
    if (missing('ENCRYPTION_KEYRING'))
      refuse('ENCRYPTION_KEYRING', 'in production (comma-separated kid:base64 32-byte keys)')
    else if (keyring?.split(',').some((k) => k.trim().startsWith(DEV_KEY_ID_PREFIX)))
      refuse('ENCRYPTION_KEYRING', 'production keys; development keys (kid "dev-…") are refused')
    if (missing('COOKIE_SECRET')) refuse('COOKIE_SECRET', 'in production (at least 32 random characters)')
    else if (cookieSecret?.startsWith(DEV_SECRET_PREFIX))
      refuse('COOKIE_SECRET', 'a production secret; a development secret is refused')
    if (missing('METRICS_TOKEN')) refuse('METRICS_TOKEN', 'in production so /metrics is not public')
    else if (metricsToken?.startsWith(DEV_SECRET_PREFIX))
      refuse('METRICS_TOKEN', 'a production secret; a development secret is refused')
    if (missing('SMTP_URL'))
      refuse('SMTP_URL', 'in production (password reset and verification mail must be delivered)')
    else if (config.mail.smtpUrl) {
      // Credentials must never cross the network in clear: smtps://, or STARTTLS made mandatory.
      const u = new URL(config.mail.smtpUrl)
      if (u.protocol === 'smtp:' && (u.username || u.password) && u.searchParams.get('requireTLS') !== 'true')
        refuse('SMTP_URL', 'smtps:// or ?requireTLS=true in production when the URL carries credentials')
    }
    // Webhook destinations: https to public addresses only (SSRF), and at least a day of retries (ADR-0020).
    if (config.events.allowPrivateDestinations)
      refuse(
        'EVENTS_ALLOW_PRIVATE_DESTINATIONS',
        'false in production (webhooks reach public https addresses only)',
      )
    if (config.events.webhookCaFile !== undefined)
      refuse('EVENTS_WEBHOOK_CA_FILE', "unset in production (a test receiver's CA only)")
    if (config.events.retryForSeconds < 86_400)
      refuse('EVENTS_RETRY_FOR_SECONDS', 'at least 86400 (24 hours) in production')
    if (missing('PUBLIC_URL')) refuse('PUBLIC_URL', 'in production (the https base URL clients reach)')
    else if (!config.publicUrl.startsWith('https://')) refuse('PUBLIC_URL', 'an https:// URL in production')
  }

  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(config)
}

/** The entry points' one read of the environment (main.ts, cli/main.ts). */
export function loadConfigFromProcess(): Config {
  return loadConfig(process.env)
}

function streamName(raw: string): Parsed<string> {
  return /^[A-Za-z0-9_-]{1,64}$/.test(raw)
    ? ok(raw)
    : bad('a JetStream stream name (letters, digits, _ and -)')
}

function keyringFormat(raw: string): Parsed<string> {
  const entries = raw.split(',').map((s) => s.trim())
  const ids = new Set<string>()
  for (const entry of entries) {
    const m = /^([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9+/]+={0,2})$/.exec(entry)
    if (!m || Buffer.from(m[2] ?? '', 'base64').length !== 32 || ids.has(m[1] ?? '')) {
      return bad('comma-separated unique kid:base64 entries, each key exactly 32 bytes')
    }
    ids.add(m[1] ?? '')
  }
  return ok(raw)
}
