// The deployment files: Dockerfile, docker-compose.yml and deploy/otel-collector.yaml.
//
// No container engine and no `docker compose` (v2) here: Debian offers only the retired Python
// docker-compose 1.x. So the Compose file is checked the way `docker compose config` checks it:
// parsed as strict YAML, ${…} interpolated with Compose's rules (a missing `${VAR:?…}` is an
// error), and validated before and after interpolation against the official Compose
// Specification JSON schema (the copy shipped in the dclint package), then linted by dclint; and
// the environment it gives Vigil must pass Vigil's own production configuration loader. The
// Dockerfile's stages are replayed for real: the build stage's `tsc -p tsconfig.build.json`
// output is started with the image's CMD and answers the image's HEALTHCHECK.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { DCLinter } from 'dclint'
import { parse as parseYaml } from 'yaml'
import { loadConfig } from '../../src/config/index.ts'
import { createTestApp } from '../support/app.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml')
const DOCKERFILE = path.join(ROOT, 'Dockerfile')
const require = createRequire(import.meta.url)
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Obj = Record<string, Json>

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const obj = (v: unknown, what: string): Obj => {
  assert.ok(isObj(v), `${what} is a mapping`)
  return v
}

/** The Compose Specification schema, as published by the compose-spec project (dclint ships it). */
function composeSchemaValidator() {
  const schemaPath = path.join(
    path.dirname(require.resolve('dclint/package.json')),
    'schemas',
    'compose.schema.json',
  )
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Obj
  assert.equal(schema.title, 'Compose Specification')
  delete schema.$schema // draft-07 by an https URL Ajv does not know; Ajv's default dialect is draft-07
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true })
  addFormats(ajv)
  return ajv.compile(schema)
}

function readCompose(): Obj {
  // uniqueKeys: a duplicated key is an error, as in Compose.
  return obj(
    parseYaml(readFileSync(COMPOSE_FILE, 'utf8'), { uniqueKeys: true, merge: true }),
    'docker-compose.yml',
  )
}

/**
 * Compose's interpolation (compose-spec "Interpolation"): $$ is a literal $, $VAR and ${VAR},
 * ${VAR:-default} / ${VAR-default}, ${VAR:?error} / ${VAR?error}, ${VAR:+alt} / ${VAR+alt}.
 * Applies to every string value (not keys); returns the result and the errors of missing
 * required variables, as `docker compose config` reports them.
 */
function interpolate(doc: Json, env: Record<string, string | undefined>): { value: Json; errors: string[] } {
  const errors: string[] = []
  const expr =
    /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g
  const str = (s: string): string =>
    s.replace(
      expr,
      (
        _m,
        dollar: string | undefined,
        name: string | undefined,
        op: string | undefined,
        arg: string | undefined,
        bare: string | undefined,
      ) => {
        if (dollar) return '$'
        const key = (name ?? bare) as string
        const value = env[key]
        const set = value !== undefined
        const nonEmpty = set && value !== ''
        switch (op) {
          case undefined:
            return value ?? ''
          case ':-':
            return nonEmpty ? value : str(arg ?? '')
          case '-':
            return set ? value : str(arg ?? '')
          case ':?':
          case '?':
            if (op === ':?' ? nonEmpty : set) return value ?? ''
            errors.push(`required variable ${key} is missing a value: ${arg ?? ''}`)
            return ''
          case ':+':
            return nonEmpty ? str(arg ?? '') : ''
          case '+':
            return set ? str(arg ?? '') : ''
          default:
            throw new Error(`unsupported interpolation operator ${op}`)
        }
      },
    )
  const walk = (v: Json): Json => {
    if (typeof v === 'string') return str(v)
    if (Array.isArray(v)) return v.map(walk)
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  return { value: walk(doc), errors }
}

/** A complete, valid set of the variables the Compose file requires (never real secrets). */
const SAMPLE_ENV = {
  PUBLIC_URL: 'https://vigil.example.com',
  POSTGRES_PASSWORD: 'a'.repeat(48),
  ENCRYPTION_KEYRING: `2026-11:${Buffer.alloc(32, 9).toString('base64')}`,
  COOKIE_SECRET: 'c'.repeat(64),
  METRICS_TOKEN: 'm'.repeat(64),
}
const REQUIRED_VARIABLES = Object.keys(SAMPLE_ENV).sort()

function environmentOf(service: Obj): Record<string, string> {
  const env = service.environment
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((e) => {
        const [k, ...rest] = String(e).split('=')
        return [k as string, rest.join('=')]
      }),
    )
  }
  return Object.fromEntries(
    Object.entries(obj(env ?? {}, 'environment')).map(([k, v]) => [k, v === null ? '' : String(v)]),
  )
}

test('[SRS-OPS-003] docker-compose.yml validates against the Compose Specification schema, before and after interpolation, and dclint finds nothing', () => {
  const validate = composeSchemaValidator()
  const raw = readCompose()
  assert.ok(validate(raw), `schema errors (raw file): ${JSON.stringify(validate.errors, null, 2)}`)

  const { value, errors } = interpolate(raw, SAMPLE_ENV)
  assert.deepEqual(errors, [])
  assert.ok(validate(value), `schema errors (interpolated): ${JSON.stringify(validate.errors, null, 2)}`)

  // The validator is not a rubber stamp: a key the specification does not define fails.
  const broken = structuredClone(value) as Obj
  const services = obj(broken.services, 'services')
  obj(services.vigil, 'vigil').restart_policy = 'always'
  assert.equal(validate(broken), false)

  const linter = new DCLinter({ rules: {}, quiet: false, debug: false, exclude: [] })
  const [result] = linter.lintFiles([COMPOSE_FILE], false)
  assert.ok(result, 'dclint linted the file')
  assert.deepEqual(
    result.messages.map(
      (m: { line: number; rule: string; message: string }) => `${m.line}: ${m.rule}: ${m.message}`,
    ),
    [],
    'dclint: no error and no warning (schema, unbound ports, image tags, ordering, …)',
  )
})

test('[SRS-OPS-003] the Compose file holds no secret: without them interpolation fails naming each, as `docker compose config` does', () => {
  const raw = readCompose()
  const { errors } = interpolate(raw, {})
  const missing = [...new Set(errors.map((e) => /required variable (\w+)/.exec(e)?.[1]))].sort()
  assert.deepEqual(missing, REQUIRED_VARIABLES)

  const vigil = environmentOf(obj(obj(raw.services, 'services').vigil, 'vigil'))
  for (const name of ['ENCRYPTION_KEYRING', 'COOKIE_SECRET', 'METRICS_TOKEN']) {
    assert.match(
      vigil[name] ?? '',
      new RegExp(`^\\$\\{${name}:\\?[^}]+\\}$`),
      `${name} comes from the environment, required`,
    )
  }
  assert.match(vigil.DATABASE_URL ?? '', /\$\{POSTGRES_PASSWORD:\?[^}]+\}/)
  const postgres = environmentOf(obj(obj(raw.services, 'services').postgres, 'postgres'))
  assert.match(postgres.POSTGRES_PASSWORD ?? '', /^\$\{POSTGRES_PASSWORD:\?[^}]+\}$/)
})

test("[SRS-OPS-003] the Compose stack: Vigil wired to PostgreSQL, Redis, the collector and Mailpit; its environment passes Vigil's production config loader", () => {
  const doc = interpolate(readCompose(), SAMPLE_ENV).value as Obj
  const services = obj(doc.services, 'services')
  assert.deepEqual(Object.keys(services).sort(), [
    'jaeger',
    'mailpit',
    'otel-collector',
    'postgres',
    'redis',
    'vigil',
  ])

  // Every image is pinned to a version (not latest); only vigil is built here.
  for (const [name, s] of Object.entries(services)) {
    const service = obj(s, name)
    if (name === 'vigil') {
      assert.equal(obj(service.build, 'vigil.build').context, '.')
      continue
    }
    assert.match(
      String(service.image),
      /^[a-z0-9./-]+:(?!latest$)[\w.-]*\d[\w.-]*$/,
      `${name} image has a version tag`,
    )
  }
  // Published ports listen on the loopback interface only.
  for (const [name, s] of Object.entries(services)) {
    for (const port of (obj(s, name).ports as Json[] | undefined) ?? [])
      assert.match(String(port), /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${String(port)}`)
  }

  const vigil = obj(services.vigil, 'vigil')
  const dependsOn = obj(vigil.depends_on, 'vigil.depends_on')
  assert.equal(obj(dependsOn.postgres, 'postgres').condition, 'service_healthy')
  assert.equal(obj(dependsOn.redis, 'redis').condition, 'service_healthy')
  const env = environmentOf(vigil)
  assert.equal(new URL(env.DATABASE_URL ?? '').host, 'postgres:5432')
  assert.equal(new URL(env.REDIS_URL ?? '').host, 'redis:6379')
  assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector:4318')
  assert.equal(new URL(env.SMTP_URL ?? '').host, 'mailpit:1025')
  const config = loadConfig({ ...env }, ROOT)
  assert.equal(config.nodeEnv, 'production')
  assert.equal(config.host, '0.0.0.0')
  assert.equal(config.port, 8080)
  assert.equal(config.publicUrl, SAMPLE_ENV.PUBLIC_URL)

  const postgres = obj(services.postgres, 'postgres')
  assert.match(
    String(postgres.image),
    /^postgres:(15|16|17)\b/,
    'PostgreSQL 15+ (HLD §9: keep to what 15 supports)',
  )
  assert.ok(
    isObj(postgres.healthcheck) && Array.isArray(postgres.healthcheck.test),
    'postgres has a healthcheck',
  )
  assert.ok(
    (postgres.volumes as Json[]).some((v) => String(v).endsWith(':/var/lib/postgresql/data')),
    'postgres data on a volume',
  )
  assert.ok(isObj(obj(services.redis, 'redis').healthcheck), 'redis has a healthcheck')
  assert.match(String(obj(services.mailpit, 'mailpit').image), /^axllent\/mailpit:/)
  assert.deepEqual(((obj(services.mailpit, 'mailpit').ports as Json[]) ?? []).map(String).sort(), [
    '127.0.0.1:1025:1025',
    '127.0.0.1:8025:8025',
  ])
  assert.match(String(obj(services.jaeger, 'jaeger').image), /^jaegertracing\/(jaeger|all-in-one):/)
  assert.ok(
    (obj(services.jaeger, 'jaeger').ports as Json[]).map(String).includes('127.0.0.1:16686:16686'),
    'Jaeger UI on 16686',
  )
})

test('[SRS-OPS-003] the collector configuration receives OTLP over gRPC and HTTP and exports traces to Jaeger over OTLP', () => {
  const compose = obj(readCompose().services, 'services')
  const collector = obj(compose['otel-collector'], 'otel-collector')
  assert.match(String(collector.image), /^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/)
  const mount = (collector.volumes as Json[])
    .map(String)
    .find((v) => v.startsWith('./deploy/otel-collector.yaml:'))
  assert.ok(mount, 'deploy/otel-collector.yaml is mounted')
  const target = mount.split(':')[1] ?? ''
  assert.ok(
    (collector.command as Json[]).map(String).includes(`--config=${target}`),
    'the collector runs the mounted file',
  )

  const cfg = obj(
    parseYaml(readFileSync(path.join(ROOT, 'deploy/otel-collector.yaml'), 'utf8'), { uniqueKeys: true }),
    'collector config',
  )
  const otlp = obj(obj(obj(cfg.receivers, 'receivers').otlp, 'otlp').protocols, 'protocols')
  assert.equal(obj(otlp.grpc, 'grpc').endpoint, '0.0.0.0:4317')
  assert.equal(obj(otlp.http, 'http').endpoint, '0.0.0.0:4318')
  const service = obj(cfg.service, 'service')
  const traces = obj(obj(service.pipelines, 'pipelines').traces, 'traces pipeline')
  // Every component a pipeline names is defined in its section, as the collector requires.
  for (const [kind, section] of [
    ['receivers', 'receivers'],
    ['processors', 'processors'],
    ['exporters', 'exporters'],
  ] as const) {
    for (const id of (traces[kind] as Json[] | undefined) ?? [])
      assert.ok(obj(cfg[section], section)[String(id)] !== undefined, `${kind}: ${String(id)} is defined`)
  }
  for (const id of (service.extensions as Json[] | undefined) ?? [])
    assert.ok(
      obj(cfg.extensions, 'extensions')[String(id)] !== undefined,
      `extension ${String(id)} is defined`,
    )
  const exporters = obj(cfg.exporters, 'exporters')
  const toJaeger = ((traces.exporters as Json[]) ?? [])
    .map(String)
    .filter((id) => /^otlp(_grpc|_http|http)?(\/|$)/.test(id))
  assert.equal(toJaeger.length, 1, 'one OTLP exporter in the traces pipeline')
  const endpoint = String(obj(exporters[toJaeger[0] as string], 'exporter').endpoint)
  assert.match(endpoint, /^(http:\/\/)?jaeger:4317$/, 'traces go to the jaeger service over OTLP gRPC')
})

/** The Dockerfile as instructions: continuation lines joined, comments dropped. */
function dockerfileInstructions(): { op: string; args: string }[] {
  return readFileSync(DOCKERFILE, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/)
      return { op: op.toUpperCase(), args: rest.join(' ') }
    })
}

test('[SRS-OPS-003] the Dockerfile: multi-stage on the current Node LTS, npm ci, production deps only, non-root, HEALTHCHECK on /health/ready, CMD node dist/main.js', () => {
  const ins = dockerfileInstructions()
  const args = Object.fromEntries(
    ins
      .filter((i) => i.op === 'ARG' && i.args.includes('='))
      .map((i) => i.args.split('=') as [string, string]),
  )
  const froms = ins
    .filter((i) => i.op === 'FROM')
    .map((i) => i.args.replace(/\$\{(\w+)\}/g, (_m, n: string) => args[n] ?? ''))
  assert.ok(froms.length >= 2, 'multi-stage')
  const nodeImages = froms.map((f) => /^node:(\d+)-[\w.-]*slim\b/.exec(f)).filter((m) => m !== null)
  assert.ok(nodeImages.length >= 2, `stages built on node:<major>-…-slim: ${froms.join(' | ')}`)
  for (const m of nodeImages) {
    const major = Number(m[1])
    assert.ok(major % 2 === 0 && major >= 24, `node:${major} is an LTS line that is still maintained`)
  }

  const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.args)
  assert.ok(
    runs.some((r) => /^npm ci\b(?!.*--omit=dev)/.test(r)),
    'deps: npm ci',
  )
  assert.ok(runs.includes('npm run build'), 'build: npm run build')
  assert.ok(
    runs.some((r) => /^npm ci\b.*--omit=dev/.test(r)),
    'runtime dependencies: npm ci --omit=dev',
  )

  // The final stage: what the image runs.
  const lastFrom = ins.map((i) => i.op).lastIndexOf('FROM')
  const final = ins.slice(lastFrom)
  const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args)
  assert.ok(
    copies.some((c) => /--from=build\s+\/app\/dist\s/.test(c)),
    'dist/ comes from the build stage',
  )
  assert.ok(
    copies.some((c) => /--from=prod-deps\s+\/app\/node_modules\s/.test(c)),
    'node_modules/ come from the production-only stage',
  )
  for (const c of copies.filter((x) => !x.startsWith('--from'))) {
    for (const src of c.split(/\s+/).slice(0, -1))
      assert.ok(existsSync(path.join(ROOT, src)), `COPY source ${src} exists`)
  }
  const env = final
    .filter((i) => i.op === 'ENV')
    .map((i) => i.args)
    .join(' ')
  assert.match(env, /\bNODE_ENV=production\b/)
  assert.match(env, /\bHOST=0\.0\.0\.0\b/)
  const users = final.filter((i) => i.op === 'USER').map((i) => i.args)
  assert.equal(users.length, 1)
  assert.ok(!['root', '0', '0:0'].includes(users[0] as string), `runs as a non-root user (${users[0]})`)
  assert.ok(
    final.some((i) => i.op === 'EXPOSE' && i.args.split(/\s+/).includes('8080')),
    'EXPOSE 8080',
  )
  const healthcheck = final.find((i) => i.op === 'HEALTHCHECK')
  assert.ok(healthcheck, 'HEALTHCHECK')
  assert.match(healthcheck.args, /CMD \["node", "scripts\/healthcheck\.mjs"\]/)
  assert.match(readFileSync(path.join(ROOT, 'scripts/healthcheck.mjs'), 'utf8'), /path: '\/health\/ready'/)
  assert.deepEqual(JSON.parse(final.find((i) => i.op === 'CMD')?.args ?? 'null'), ['node', 'dist/main.js'])

  const dockerignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n')
  for (const kept of ['node_modules', 'dist', 'var', '.env', '.git'])
    assert.ok(dockerignore.includes(kept), `.dockerignore keeps ${kept} out of the build context`)
})

/** Runs scripts/healthcheck.mjs (the image's HEALTHCHECK) against a port; resolves its exit code. */
async function healthcheck(port: number): Promise<number | null> {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/healthcheck.mjs')], {
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: 'ignore',
    timeout: 15_000,
  })
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)))
}

test("[SRS-OPS-003] the image's HEALTHCHECK script exits 0 when /health/ready answers 200 and 1 when nothing listens", async () => {
  const t = await createTestApp()
  let port = 0
  try {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as { port: number }).port
    assert.equal(await healthcheck(port), 0)
  } finally {
    await t.close()
  }
  assert.equal(await healthcheck(port), 1)
})

test(
  "[SRS-OPS-003] the build stage compiles to JavaScript that the image's CMD starts: migrations, version and the /docs bundle resolve from the output",
  { timeout: 180_000 },
  async () => {
    // One level under the repository root, like dist/: package.json and migrations/ resolve the same way.
    const outDir = mkdtempSync(path.join(ROOT, '.build-check-'))
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-build-check-'))
    try {
      const tsc = spawnSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
        { cwd: ROOT, encoding: 'utf8', timeout: 150_000 },
      )
      assert.equal(tsc.status, 0, `tsc -p tsconfig.build.json failed:\n${tsc.stdout}${tsc.stderr}`)
      assert.ok(existsSync(path.join(outDir, 'main.js')), 'main.js emitted')
      const mainJs = readFileSync(path.join(outDir, 'app.js'), 'utf8')
      assert.doesNotMatch(mainJs, /from '\.{1,2}\/[^']*\.ts'/, 'relative .ts imports are rewritten to .js')

      const child = spawn(process.execPath, [path.join(outDir, 'main.js')], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'development',
          DATA_DIR: dataDir,
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')))
      child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')))
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
      try {
        const address = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`not serving within 60 s:\n${output}`)), 60_000)
          const poll = setInterval(() => {
            const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"vigil is serving"/.exec(output)
            if (m) {
              clearInterval(poll)
              clearTimeout(timer)
              resolve(m[1] as string)
            } else if (child.exitCode !== null) {
              clearInterval(poll)
              clearTimeout(timer)
              reject(new Error(`exited with ${child.exitCode}:\n${output}`))
            }
          }, 100)
        })
        assert.match(
          output,
          /"applied":\["0001_service_instances"/,
          'migrations/ found from the compiled migrate.js',
        )
        const version = (
          JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
        ).version
        assert.ok(output.includes(`"version":"${version}"`), 'package.json read from the compiled version.js')
        assert.equal(await healthcheck(Number(new URL(address).port)), 0, 'HEALTHCHECK passes')
        const docs = await fetch(`${address}/docs/scalar.js`, { signal: AbortSignal.timeout(10_000) })
        assert.equal(docs.status, 200, 'the Scalar bundle resolves from the compiled docs module')
        assert.ok((await docs.arrayBuffer()).byteLength > 1_000_000)
      } finally {
        child.kill('SIGTERM')
        const code = await Promise.race([
          exited,
          new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000)),
        ])
        if (code === 'timeout') child.kill('SIGKILL')
        else assert.equal(code, 0, `graceful stop on SIGTERM:\n${output}`)
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true })
      rmSync(dataDir, { recursive: true, force: true })
    }
  },
)
