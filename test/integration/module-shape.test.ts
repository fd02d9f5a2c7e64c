// The module shape (issue 14; ADR-0030), checked on the tree: every module has an index.ts, and the
// app's services are built once, in the composition root (src/compose.ts).
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { test } from 'node:test'

const ROOT = join(import.meta.dirname, '..', '..')
const SRC = join(ROOT, 'src')

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : []
  })
}

test('[SRS-ARCH-602] every module under src/modules has an index.ts, its only public face', () => {
  const modules = readdirSync(join(SRC, 'modules')).filter((name) =>
    statSync(join(SRC, 'modules', name)).isDirectory(),
  )
  assert.ok(modules.length > 10)
  const missing = modules.filter((name) => !existsSync(join(SRC, 'modules', name, 'index.ts')))
  assert.deepEqual(missing, [], `modules without index.ts: ${missing.join(', ')}`)
})

test('[SRS-ARCH-603] the app builds each service once, in src/compose.ts; app.ts and the modules build none of them', () => {
  // The CLI (src/cli, and the demo seeder it runs) is another process with its own composition; the
  // account directory builds a user service only when none is passed (tests that build one alone).
  const elsewhere: Record<string, string[]> = {
    createUserService: ['src/modules/identity/account-directory.ts'],
  }
  const files = sources(SRC)
    .map((path) => [relative(ROOT, path), readFileSync(path, 'utf8')] as const)
    .filter(([path]) => !path.startsWith('src/cli/') && !path.startsWith('src/modules/demo/'))
  for (const factory of [
    'createUserService',
    'createDeviceService',
    'createPatientService',
    'createPdp',
    'createAccountDirectory',
    'createProvider',
    'createClientService',
    'createEmailVerification',
  ]) {
    const call = new RegExp(`(?<!function )\\b${factory}\\(`)
    const callers = files
      .filter(([path, text]) => call.test(text) && !(elsewhere[factory] ?? []).includes(path))
      .map(([path]) => path)
    assert.deepEqual(callers, ['src/compose.ts'], `${factory} is called from ${callers.join(', ')}`)
  }
  assert.doesNotMatch(readFileSync(join(SRC, 'app.ts'), 'utf8'), /\bcreate[A-Z]\w*Service\(/)
})

test('[SRS-ARCH-604] the linter refuses a deep import into another module, SQL outside a repository, and a cast of request.body/query/params', async () => {
  const { ESLint } = await import('eslint')
  const eslint = new ESLint({ cwd: ROOT })
  const messages = async (filePath: string, code: string) =>
    (await eslint.lintText(code, { filePath: join(ROOT, filePath) })).flatMap((r) =>
      r.messages.filter((m) => m.severity === 2).map((m) => m.message),
    )
  // A deep import from one module into another; through index.ts it passes.
  assert.match(
    (
      await messages(
        'src/modules/care/example.ts',
        "import { createUserService } from '../users/service.ts'\nexport const f = createUserService\n",
      )
    ).join('\n'),
    /index\.ts/,
  )
  assert.deepEqual(
    await messages(
      'src/modules/care/example.ts',
      "import { createUserService } from '../users/index.ts'\nexport const f = createUserService\n",
    ),
    [],
  )
  assert.match(
    (
      await messages('src/example.ts', "import { x } from './modules/users/service.ts'\nexport const f = x\n")
    ).join('\n'),
    /index\.ts/,
  )
  // SQL: refused in a service, accepted in a repository.
  const sql =
    "import type { Queryable } from '../../platform/db/index.ts'\nexport const f = (db: Queryable) => db.query<{ n: number }>('SELECT 1 AS n')\n"
  assert.match((await messages('src/modules/care/service.ts', sql)).join('\n'), /repository/)
  assert.deepEqual(await messages('src/modules/care/repository.ts', sql), [])
  // A hand cast of the request.
  assert.match(
    (
      await messages(
        'src/modules/care/example.routes.ts',
        'export const f = (request: { body: unknown }) => request.body as { a: string }\n',
      )
    ).join('\n'),
    /schema/,
  )
})

test('[SRS-ARCH-620] every module, the audit trail and the security layer run SQL only in repositories, with no allowlist; the device registry writes no oauth_clients row itself', async () => {
  const { ESLint } = await import('eslint')
  const eslint = new ESLint({ cwd: ROOT })
  const errors = async (filePath: string, code: string) =>
    (await eslint.lintText(code, { filePath: join(ROOT, filePath) })).flatMap((r) =>
      r.messages.filter((m) => m.severity === 2).map((m) => m.message),
    )
  const sql =
    "import type { Queryable } from '../../platform/db/index.ts'\nexport const f = (db: Queryable) => db.query<{ n: number }>('SELECT 1 AS n')\n"
  for (const file of [
    'src/modules/devices/service.ts',
    'src/modules/erasure/erasure.ts',
    'src/modules/auditor/service.ts',
    'src/modules/clients/service.ts',
    'src/modules/demo/seed-demo.ts',
    'src/modules/fhir/observation.ts',
    'src/audit/anomalies.ts',
    'src/security/oauth-server/provider.ts',
  ])
    assert.match((await errors(file, sql)).join('\n'), /repository/, file)
  assert.deepEqual(await errors('src/modules/devices/repository.ts', sql), [])
  assert.deepEqual(await errors('src/security/oauth-server/smart-launch.repository.ts', sql), [])
  // No file of src/ outside a repository, the database platform and unit tests calls .query( at all.
  const offenders = sources(SRC)
    .map((p) => relative(ROOT, p))
    .filter((p) => !/repository\.ts$/.test(p) && !p.startsWith('src/platform/db/'))
    .filter((p) => /\.query(<[^>]*>)?\(/.test(readFileSync(join(ROOT, p), 'utf8')))
  assert.deepEqual(offenders, [], 'SQL outside a repository')
  const deviceCode = sources(join(SRC, 'modules', 'devices'))
    .map((p) => readFileSync(p, 'utf8'))
    .join('\n')
  assert.doesNotMatch(deviceCode, /\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|FROM)\s+oauth_clients\b/i)
})

// Template and single-quoted literals (written with escapes: a quote or backtick inside a regular
// expression literal would read as a string to the traceability script's tokenizer).
const STRING_LITERALS = new RegExp('\\x60[^\\x60]*\\x60|\\x27[^\\x27\\n]*\\x27', 'g')

test('[SRS-ARCH-621] the security layer reads and writes only the tables the authorization server owns; the user\u2019s FHIR identity comes through the AccountDirectory port', () => {
  const OWN = new Set([
    'oauth_clients',
    'oidc_payloads',
    'pending_logins',
    'signing_keys',
    'smart_launch_contexts',
    'smart_grant_contexts',
  ])
  const touched = new Set<string>()
  for (const path of sources(join(SRC, 'security')))
    for (const m of readFileSync(path, 'utf8').matchAll(STRING_LITERALS))
      for (const t of m[0].matchAll(/\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_]+)\b/g))
        if (/^(?:SELECT|INSERT|UPDATE|DELETE)\b/.test(m[0].slice(1).trimStart())) touched.add(t[1] as string)
  assert.ok(touched.has('oidc_payloads') && touched.has('oauth_clients'), [...touched].join(', '))
  assert.deepEqual(
    [...touched].filter((t) => !OWN.has(t)),
    [],
    'security/ reads a module table',
  )
  const port = readFileSync(join(SRC, 'security', 'oauth-server', 'account-directory.ts'), 'utf8')
  assert.match(port, /fhirIdentity\(accountId: string\)/)
})

test('[SRS-ARCH-622] no file that registers a route opens a transaction: the use case behind it does, with the request\u2019s audit entry passed in', () => {
  const routeFiles = sources(join(SRC, 'modules')).filter((p) =>
    /\bapp\.(get|post|put|patch|delete)\(/.test(readFileSync(p, 'utf8')),
  )
  assert.ok(routeFiles.length > 20, `route files found: ${routeFiles.length}`)
  const opening = routeFiles
    .filter((p) => /\.transaction\(/.test(readFileSync(p, 'utf8')))
    .map((p) => relative(ROOT, p))
  assert.deepEqual(opening, [], 'routes that open a transaction themselves')
})

test('[SRS-ARCH-627] no file that registers a route imports a repository, its own module\u2019s or another\u2019s (nor a type from one): a route calls its module\u2019s service, which calls the repository', () => {
  const routeFiles = sources(join(SRC, 'modules')).filter((p) =>
    /\bapp\.(get|post|put|patch|delete)\(/.test(readFileSync(p, 'utf8')),
  )
  assert.ok(routeFiles.length > 20, `route files found: ${routeFiles.length}`)
  const reaching: string[] = []
  for (const path of routeFiles) {
    const text = readFileSync(path, 'utf8')
    for (const m of text.matchAll(/^import\s+(?:type\s+)?([\s\S]*?)\s+from\s+'([^']+)'/gm)) {
      const [, names, spec] = m as unknown as [string, string, string]
      // A repository file, or a repository handed out by another module's index.ts.
      if (
        /repository\.ts$/.test(spec) ||
        /\bRepository\b|\bcreate\w*Repository\b|\w+Repository\b/.test(names)
      )
        reaching.push(`${relative(ROOT, path)}: import ${names.replace(/\s+/g, ' ')} from '${spec}'`)
    }
  }
  assert.deepEqual(
    reaching,
    [],
    'call the module\u2019s service (re-export the record types it returns from there)',
  )
})

test('[SRS-ARCH-625] no file that registers a route builds SQL: search filters reach the repository typed, and the repository writes the WHERE clause', () => {
  const routeFiles = sources(join(SRC, 'modules')).filter((p) =>
    /\bapp\.(get|post|put|patch|delete)\(/.test(readFileSync(p, 'utf8')),
  )
  assert.ok(routeFiles.length > 20, `route files found: ${routeFiles.length}`)
  // A bound parameter's placeholder built in code, a cast to an array type, or a clause keyword
  // followed by a column: the marks of SQL text in the making.
  const SQL_TEXT = new RegExp(
    [
      '\\$\\$\\{',
      '::(?:uuid|text|timestamptz)\\[\\]',
      '\\b(?:WHERE|AND|OR)\\s+[a-z]\\.[a-z_]+\\s*(?:=|<|>)',
    ].join('|'),
  )
  const building = routeFiles
    .filter((p) => SQL_TEXT.test(readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '')))
    .map((p) => relative(ROOT, p))
  assert.deepEqual(building, [], 'route files that build SQL text')
})

/** Each table's owner: the one module (or layer) whose repository writes it (HLD §10, table ownership). */
const TABLE_OWNERS: Record<string, string> = {
  ...Object.fromEntries(
    [
      'anomaly_cursor',
      'audit_chain_heads',
      'audit_checkpoints',
      'audit_entries',
      'audit_signing_keys',
      'security_events',
    ].map((t) => [t, 'audit']),
  ),
  ...Object.fromEntries(['break_glass_sessions', 'care_team_members', 'consents'].map((t) => [t, 'care'])),
  ...Object.fromEntries(['device_bindings', 'devices'].map((t) => [t, 'devices'])),
  ...Object.fromEntries(
    ['device_daily_usage', 'idempotency_keys', 'readings'].map((t) => [t, 'device-data']),
  ),
  diagnostic_reports: 'fhir',
  ...Object.fromEntries(
    [
      'email_verification_tokens',
      'login_throttle',
      'login_unlock_tokens',
      'organisations',
      'password_reset_tokens',
      'recovery_codes',
      'totp_credentials',
      'user_roles',
      'users',
    ].map((t) => [t, 'users']),
  ),
  ...Object.fromEntries(['event_deliveries', 'event_subscriptions', 'outbox'].map((t) => [t, 'events'])),
  ...Object.fromEntries(
    [
      'oauth_clients',
      'oidc_payloads',
      'pending_logins',
      'signing_keys',
      'smart_grant_contexts',
      'smart_launch_contexts',
    ].map((t) => [t, 'security']),
  ),
  ...Object.fromEntries(['kek_versions', 'patient_data_keys', 'patients'].map((t) => [t, 'patients'])),
  patient_target_ranges: 'reading-summaries',
  ...Object.fromEntries(
    ['scheduled_jobs', 'service_instances', 'vigil_migrations'].map((t) => [t, 'platform']),
  ),
}

/** The writers beside the owner that the HLD names, each with its reason. */
const OTHER_WRITERS: Record<string, string[]> = {
  // The ingest statement writes the readings and their outbox rows at once (ADR-0029).
  outbox: ['device-data'],
  // The auditor module acknowledges events and leases their delivery; the detector raises them.
  security_events: ['auditor'],
  // The demo seed, a fixture loader no request path calls (ADR-0030).
  care_team_members: ['demo'],
  device_bindings: ['demo'],
  devices: ['demo'],
  readings: ['demo'],
}

test('[SRS-ARCH-623] every table has one owning writer: no repository writes a table another module owns, beyond the writers the HLD names', () => {
  const layerOf = (path: string): string => {
    const parts = relative(SRC, path).split('/')
    return parts[0] === 'modules' ? (parts[1] as string) : (parts[0] as string)
  }
  const writers = new Map<string, Set<string>>()
  for (const path of sources(SRC).filter((p) => /repository\.ts$/.test(p) || p.includes('/platform/db/')))
    for (const m of readFileSync(path, 'utf8')
      .replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '') // comments are prose, not statements
      .matchAll(/\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)\b/g)) {
      const table = m[1] as string
      if (!writers.has(table)) writers.set(table, new Set())
      writers.get(table)?.add(layerOf(path))
    }
  assert.ok(writers.size > 30, `tables written: ${writers.size}`)
  const unowned = [...writers.keys()].filter((t) => !(t in TABLE_OWNERS))
  assert.deepEqual(unowned, [], 'a table no module owns: give it an owner in the HLD and here')
  const trespass = [...writers].flatMap(([table, by]) =>
    [...by]
      .filter((w) => w !== TABLE_OWNERS[table] && !(OTHER_WRITERS[table] ?? []).includes(w))
      .map((w) => `${w} writes ${table} (owner ${TABLE_OWNERS[table]})`),
  )
  assert.deepEqual(trespass, [])
})

/** The views of migrations/: `published_<table>` → the table it shows (ADR-0034). */
function publishedViews(): Map<string, string> {
  const dir = join(ROOT, 'migrations')
  const views = new Map<string, string>()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')))
    for (const m of readFileSync(join(dir, file), 'utf8')
      .replace(/--[^\n]*/g, '')
      .matchAll(/CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+([a-z_]+)\s+AS\s+SELECT\b[\s\S]*?\bFROM\s+([a-z_]+)/g))
      views.set(m[1] as string, m[2] as string)
  return views
}

test('[SRS-ARCH-624] a repository never names a table another module owns: it reads the published_<table> view the owner publishes (ADR-0034), and every view shows one table under its own name', () => {
  const layerOf = (path: string): string => {
    const parts = relative(SRC, path).split('/')
    return parts[0] === 'modules' ? (parts[1] as string) : (parts[0] as string)
  }
  const views = publishedViews()
  assert.ok(views.size >= 12, `published views: ${[...views.keys()].join(', ')}`)
  // Each view is published_<the table it selects from>, and that table has an owner.
  for (const [view, table] of views) {
    assert.equal(view, `published_${table}`, `${view} shows ${table}`)
    assert.ok(table in TABLE_OWNERS, `${view}: ${table} has no owner`)
  }
  const tables = Object.keys(TABLE_OWNERS)
  // A bare table name: not part of a longer identifier (published_users is not users), nor a
  // column alias (… AS consents).
  const word = new RegExp(`(?<![a-z_.]|AS )(${tables.join('|')})(?![a-z_])`, 'g')
  const published = new RegExp(`\\bpublished_(${tables.join('|')})(?![a-z_])`, 'g')
  const trespass: string[] = []
  const readers = new Set<string>()
  for (const path of sources(join(SRC, 'modules')).filter((p) => /repository\.ts$/.test(p))) {
    const reader = layerOf(path)
    const text = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '')
    // Every string literal: SQL and the fragments a query is built from (a FROM clause in a constant).
    for (const literal of text.matchAll(STRING_LITERALS)) {
      for (const m of literal[0].matchAll(word)) {
        const table = m[1] as string
        if (TABLE_OWNERS[table] === reader || (OTHER_WRITERS[table] ?? []).includes(reader)) continue
        trespass.push(`${relative(ROOT, path)} names ${table} (owner ${TABLE_OWNERS[table]})`)
      }
      for (const m of literal[0].matchAll(published)) {
        const view = `published_${m[1] as string}`
        assert.ok(views.has(view), `${relative(ROOT, path)} reads ${view}, which no migration creates`)
        readers.add(reader)
      }
    }
  }
  // The readers across owners today, so that a check that sees nothing fails rather than passes.
  for (const reader of ['fhir', 'identity', 'patients', 'care', 'device-data'])
    assert.ok(readers.has(reader), `${reader} reads published views: ${[...readers].join(', ')}`)
  assert.deepEqual(
    trespass,
    [],
    'read the owner\u2019s published_<table> view (add the columns you need to it), or ask its index.ts',
  )
})
