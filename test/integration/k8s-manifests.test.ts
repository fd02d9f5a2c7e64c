// The Kubernetes manifests under deploy/k8s (issue 12): every object validated against the
// Kubernetes API schemas (kubernetes-models: the OpenAPI schemas of the Kubernetes API compiled to
// validators: types, required fields, enumerations, formats), then the properties a working
// deployment depends on, checked against the service itself: the probes hit routes that exist and
// mean what they should, the ConfigMap and Secret hold only settings the service reads and pass its
// production configuration check, selectors line up, the grace period covers the shutdown.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { Job } from 'kubernetes-models/batch/v1/Job'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { parseAllDocuments } from 'yaml'
import { loadConfig } from '../../src/config/index.ts'
import { createTestApp } from '../support/app.ts'
import { REPO_ROOT } from './server-process.ts'

const DIR = path.join(REPO_ROOT, 'deploy/k8s')
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown }

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
}

function load(): { files: string[]; objects: Array<Obj & { file: string }> } {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  const objects = files.flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((doc) => {
      assert.deepEqual(doc.errors, [], `${file} parses as YAML`)
      return { ...(doc.toJS() as Obj), file }
    }),
  )
  return { files, objects }
}

function one<T>(objects: ReadonlyArray<Obj>, kind: string): T {
  const found = objects.filter((o) => o.kind === kind)
  assert.equal(found.length, 1, `one ${kind}`)
  return found[0] as T
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  const { files, objects } = load()
  const deployment = one<{
    spec: {
      replicas: number
      selector: { matchLabels: Record<string, string> }
      strategy: { rollingUpdate: { maxUnavailable: number } }
      template: {
        metadata: { labels: Record<string, string> }
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a container spec is walked loosely
        spec: { terminationGracePeriodSeconds: number; containers: Array<Record<string, any>> }
      }
    }
  }>(objects, 'Deployment')
  const container = deployment.spec.template.spec.containers[0]!
  const configMap = one<{ metadata: { name: string }; data: Record<string, string> }>(objects, 'ConfigMap')
  const secret = one<{ metadata: { name: string }; stringData: Record<string, string> }>(objects, 'Secret')

  test('[SRS-OPS-257] every object is valid against the Kubernetes API schema, and the kustomization lists every file', () => {
    for (const o of objects) {
      const model = MODELS[`${o.apiVersion}/${o.kind}`]
      assert.ok(model, `${o.file}: ${o.apiVersion} ${o.kind} is a known kind`)
      const { file: _file, ...manifest } = o
      assert.doesNotThrow(
        () => new model(manifest as never).validate(),
        `${o.file} (${o.kind} ${o.metadata.name}) is schema-valid`,
      )
    }
    // The validator is not a stub: a wrong type is refused.
    const broken = structuredClone(objects.find((o) => o.kind === 'Deployment')!) as unknown as {
      file?: string
      spec: { replicas: unknown }
    }
    delete broken.file
    broken.spec.replicas = 'three'
    assert.throws(() => new Deployment(broken as never).validate(), /replicas/)
    const kustomization = parseAllDocuments(
      readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'),
    )[0]!.toJS() as { resources: string[] }
    assert.deepEqual([...kustomization.resources].sort(), [...files].sort())
  })

  test('[SRS-OPS-257] several replicas that survive a drain and a rollout, with requests and limits on every container', () => {
    assert.ok(deployment.spec.replicas >= 3, 'several replicas')
    assert.equal(
      deployment.spec.strategy.rollingUpdate.maxUnavailable,
      0,
      'a rollout never drops below the replica count',
    )
    const pdb = one<{ spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>(
      objects,
      'PodDisruptionBudget',
    )
    assert.ok(
      pdb.spec.minAvailable >= 2 && pdb.spec.minAvailable < deployment.spec.replicas,
      'a drain keeps at least two pods and can still proceed',
    )
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels)
    const service = one<{ spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } }>(
      objects,
      'Service',
    )
    for (const [k, v] of Object.entries(service.spec.selector))
      assert.equal(deployment.spec.template.metadata.labels[k], v, `the Service selects the pods (${k})`)
    for (const p of service.spec.ports)
      assert.ok(
        (container.ports as Array<{ name: string }>).some((c) => c.name === p.targetPort),
        'the Service targets a named container port',
      )
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
      const spec = (
        o as unknown as {
          spec: {
            template: {
              spec: {
                containers: Array<{
                  name: string
                  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
                  securityContext?: Record<string, unknown>
                }>
              }
            }
          }
        }
      ).spec.template.spec
      for (const c of spec.containers) {
        assert.ok(
          c.resources?.requests?.cpu && c.resources.requests.memory,
          `${o.kind}/${c.name} requests CPU and memory`,
        )
        assert.ok(c.resources.limits?.memory, `${o.kind}/${c.name} has a memory limit`)
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true)
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false)
      }
    }
  })

  test('[SRS-OPS-257] the probes hit the real health routes: liveness never depends on the database, readiness does', async () => {
    assert.equal(container.livenessProbe.httpGet.path, '/health/live')
    assert.equal(container.readinessProbe.httpGet.path, '/health/ready')
    assert.equal(container.startupProbe.httpGet.path, '/health/live')
    const t = await createTestApp()
    try {
      for (const p of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
        const res = await t.app.inject({ method: 'GET', url: p.httpGet.path })
        assert.equal(res.statusCode, 200, `${p.httpGet.path} answers`)
      }
    } finally {
      await t.close()
    }
    // Start-up may wait DATABASE_STARTUP_WAIT_SECONDS for the database before it listens.
    const startupBudget = container.startupProbe.periodSeconds * container.startupProbe.failureThreshold
    assert.ok(
      startupBudget >= Number(configMap.data.DATABASE_STARTUP_WAIT_SECONDS),
      'the startup probe outlasts the wait for the database',
    )
    // Each readiness check answers (down) before the probe itself gives up on the request.
    assert.ok(
      Number(configMap.data.READINESS_TIMEOUT_MS) < container.readinessProbe.timeoutSeconds * 1000,
      'the readiness checks answer within the probe timeout',
    )
    // SIGTERM comes after preStop; the process then has SHUTDOWN_TIMEOUT_MS to finish in-flight requests.
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds * 1000
    assert.ok(
      grace >= Number(configMap.data.SHUTDOWN_TIMEOUT_MS) + container.lifecycle.preStop.sleep.seconds * 1000,
      'the grace period covers preStop and the shutdown timeout',
    )
  })

  test('[SRS-OPS-257] the ConfigMap and Secret hold only settings the service reads, and pass its production check; migrations run in the Job', () => {
    const documented = new Set(
      [...readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8').matchAll(/^# ([A-Z][A-Z0-9_]+)=/gm)].map(
        (m) => m[1],
      ),
    )
    for (const key of [...Object.keys(configMap.data), ...Object.keys(secret.stringData)])
      assert.ok(documented.has(key), `${key} is a setting (.env.example)`)
    for (const ref of container.envFrom as Array<{
      configMapRef?: { name: string }
      secretRef?: { name: string }
    }>) {
      if (ref.configMapRef) assert.equal(ref.configMapRef.name, configMap.metadata.name)
      if (ref.secretRef) assert.equal(ref.secretRef.name, secret.metadata.name)
    }
    // The example Secret's placeholders replaced by values of the right form, as an operator would.
    const key = Buffer.alloc(32, 9).toString('base64')
    const config = loadConfig(
      {
        ...configMap.data,
        ...secret.stringData,
        ENCRYPTION_KEYRING: `2026-01:${key}`,
        COOKIE_SECRET: 'k'.repeat(48),
        METRICS_TOKEN: 'm'.repeat(48),
      },
      '/app',
    )
    assert.equal(config.nodeEnv, 'production')
    assert.equal(config.migrateOnStart, false, 'pods do not race to migrate; the Job does it')
    assert.match(config.publicUrl, /^https:\/\//, 'one public URL for every pod')
    const job = one<{
      spec: { template: { spec: { containers: Array<{ command: string[]; image: string }> } } }
    }>(objects, 'Job')
    const migrateCommand = job.spec.template.spec.containers[0]!.command
    assert.deepEqual(migrateCommand, ['node', 'dist/cli/main.js', 'migrate'])
    assert.match(
      readFileSync(path.join(REPO_ROOT, 'src/cli/main.ts'), 'utf8'),
      /\.command\('migrate'\)/,
      'the CLI has the migrate command the Job runs',
    )
    assert.equal(
      job.spec.template.spec.containers[0]!.image,
      container.image,
      'the Job runs the same image as the pods',
    )
  })

  test("[SRS-OPS-504] the README's production section says how to size PostgreSQL, when to add Redis and NATS, how readings partition, and what the manifests hold, with the manifests' own figures", () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
    const start = readme.indexOf('## Production: several instances, Kubernetes')
    assert.ok(start >= 0, 'a production section')
    const end = readme.indexOf('\n## ', start + 3)
    const section = readme.slice(start, end < 0 ? undefined : end)
    for (const heading of [
      '**Sizing.**',
      '**When to add Redis.**',
      '**When to add NATS.**',
      '**How readings partition.**',
    ])
      assert.ok(section.includes(heading), `the section says ${heading}`)
    // Sizing PostgreSQL: connections against the pools, storage against retention, the pool-wait metric.
    for (const term of [
      'max_connections',
      'DATABASE_POOL_MAX',
      'RETENTION_READINGS_DAYS',
      'vigil_db_pool_connections',
    ])
      assert.ok(section.includes(term), `sizing names ${term}`)
    assert.match(section, /partition[\s\S]*patient_id/, 'readings partition by patient')
    // The figures quoted are the manifests' own.
    const words: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6 }
    const replicas = /a Deployment of (\w+) replicas/.exec(section)?.[1]
    assert.equal(words[replicas ?? ''], deployment.spec.replicas, 'the replicas the README names')
    const pdb = one<{ spec: { minAvailable: number } }>(objects, 'PodDisruptionBudget')
    assert.equal(
      words[/a PodDisruptionBudget of (\w+)/.exec(section)?.[1] ?? ''],
      pdb.spec.minAvailable,
      'the PodDisruptionBudget the README names',
    )
    const resources = container.resources as { requests: { cpu: string }; limits: { cpu: string } }
    assert.match(section, /request half a core per pod and allow two/)
    assert.deepEqual(
      [resources.requests.cpu, String(resources.limits.cpu)],
      ['500m', '2'],
      'half a core requested, two allowed',
    )
    // Every setting the section names is one the service reads, and the periodic jobs it lists include retention.
    const envExample = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8')
    for (const name of new Set([...section.matchAll(/`([A-Z][A-Z0-9_]{3,})`/g)].map((m) => m[1]!)))
      assert.match(envExample, new RegExp(`^# ${name}=`, 'm'), `${name} is a documented setting`)
    assert.match(section, /Periodic jobs \([^)]*retention[^)]*\) run once per period across all instances/)
  })
})
