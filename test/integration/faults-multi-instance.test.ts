// Fault test (issue 12, ADR-0017): three server processes on one PostgreSQL (a cluster of the
// test's own) and one Redis (a server of the test's own), behind a round-robin client. A token
// issued by any instance works on all; the shared rate limit holds to the configured figure across
// them; kill -9 of one under load loses no acknowledged reading and stores none twice (the client
// fails over to the next instance with the same reading id).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { migrate, openDatabase, type Database } from '../../src/platform/db/index.ts'
import { createTestApp } from '../support/app.ts'
import { TEST_COOKIE_SECRET, TEST_KEYRING } from '../support/config.ts'
import { freePort } from '../support/ports.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { buildWorld, type World } from '../support/world.ts'
import { childEnv, Proc, removeDir, startServer, tempDir, type Env, type Serving } from './server-process.ts'

const LIMIT = 40
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('three instances behind a round-robin client', () => {
  let base: string
  let cluster: PgCluster
  let redis: Proc | undefined
  let url: string
  let env: Env
  let w: World
  const publicUrl = 'http://vigil.test:8080' // the load balancer's URL: the same on every instance
  const servers: Serving[] = []
  let check: Database | undefined

  before(async () => {
    base = tempDir('faults-multi')
    cluster = await PgCluster.create(base)
    cluster.start()
    url = await cluster.createDatabase('vigil_multi')
    const redisPort = await freePort()
    redis = new Proc(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { env: { PATH: process.env.PATH ?? '' } },
    )
    await redis.waitFor(
      'redis ready',
      () => (redis!.stdout.includes('Ready to accept connections') ? true : undefined),
      10_000,
    )
    const db = await openDatabase({ databaseUrl: url, poolMax: 4 })
    await migrate(db)
    const t = await createTestApp({ env: { PUBLIC_URL: publicUrl, DATABASE_URL: url }, deps: { db } })
    try {
      w = await buildWorld(t.app)
    } finally {
      await t.close()
      await db.close()
    }
    env = childEnv(base, {
      PUBLIC_URL: publicUrl,
      DATABASE_URL: url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      ENCRYPTION_KEYRING: TEST_KEYRING,
      COOKIE_SECRET: TEST_COOKIE_SECRET,
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
      // The limit is per client address: the test speaks for several clients through X-Forwarded-For.
      TRUST_PROXY: '127.0.0.1',
      DATABASE_POOL_MAX: '5',
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
      ANOMALY_INTERVAL_SECONDS: '0',
    })
    servers.push(...(await Promise.all([0, 1, 2].map(() => startServer(env)))))
  })
  after(async () => {
    for (const s of servers) await s.proc.kill()
    await redis?.kill()
    await check?.close().catch(() => undefined)
    await cluster?.destroy()
    removeDir(base)
  })

  test('[SRS-OPS-255] a token from any instance works on all, the shared limit holds exactly, and kill -9 of one loses nothing', async () => {
    assert.equal(servers.length, 3)
    let clientAddress = 0
    const as = () => `198.51.100.${++clientAddress}` // a client of its own for each phase
    const tokenFrom = async (s: Serving, ip: string) => {
      const res = await fetch(`${s.address}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(w.devices.bound.clientId)}:${encodeURIComponent(w.devices.bound.clientSecret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': ip,
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'device-data:write',
          resource: `${publicUrl}/api`,
        }),
      })
      assert.equal(res.status, 200, await res.clone().text())
      return ((await res.json()) as { access_token: string }).access_token
    }
    const post = async (s: Serving, token: string, id: string, ip: string) => {
      const res = await fetch(`${s.address}/api/v2/device-data`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-forwarded-for': ip,
        },
        body: JSON.stringify({
          readings: [
            {
              id,
              code: '2339-0',
              value: 120,
              unit: 'mg/dL',
              effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
            },
          ],
        }),
        signal: AbortSignal.timeout(10_000),
      })
      await res.arrayBuffer()
      return res.status
    }

    // 1. Tokens cross instances: each instance's token on each instance.
    const crossIp = as()
    const tokens = await Promise.all(servers.map((s) => tokenFrom(s, crossIp)))
    let crossed = 0
    for (const [i, token] of tokens.entries()) {
      for (const [j, s] of servers.entries()) {
        assert.equal(
          await post(s, token, `cross-${i}-${j}`, crossIp),
          200,
          `a token from instance ${i} works on instance ${j}`,
        )
        crossed++
      }
    }

    // 2. The shared limit: one client, LIMIT + 20 requests spread round-robin, exactly LIMIT pass.
    const limitIp = as()
    const statuses: number[] = []
    for (let i = 0; i < LIMIT + 20; i++) {
      const res = await fetch(`${servers[i % 3]!.address}/api/v2/`, {
        headers: { 'x-forwarded-for': limitIp },
      })
      await res.arrayBuffer()
      statuses.push(res.status)
    }
    const allowed = statuses.filter((s) => s === 200).length
    const limited = statuses.filter((s) => s === 429).length

    // 3. kill -9 of one instance under load; the client fails over with the same reading id.
    // Each reading comes from a device of its own address, so the per-address limit stays out of the way.
    const token = tokens[0]!
    const acked = new Set<string>()
    const attempts = { total: 0, failedOver: 0, fiveXx: 0, limited: 0 }
    let next = 0
    let running = true
    const writer = async (n: number) => {
      let seq = 0
      while (running) {
        const id = `multi-${n}-${seq}`
        const loadIp = `10.${n}.${seq >> 8}.${seq & 255}`
        seq++
        for (let tries = 0; tries < 6; tries++) {
          const s = servers[next++ % 3]!
          attempts.total++
          let status: number | 'down'
          try {
            status = s.proc.running ? await post(s, token, id, loadIp) : 'down'
          } catch {
            status = 'down'
          }
          if (status === 200) {
            acked.add(id)
            break
          }
          if (typeof status === 'number' && status >= 500) attempts.fiveXx++
          if (status === 429) attempts.limited++
          attempts.failedOver++
        }
      }
    }
    const writers = [0, 1, 2].map(writer)
    await sleep(1_500)
    const victim = servers[1]!
    victim.proc.signal('SIGKILL')
    await sleep(1_500)
    running = false
    await Promise.all(writers)

    check = await openDatabase({ databaseUrl: url, poolMax: 1 })
    const { rows } = await check.query<{ id: string; n: number }>(
      "SELECT client_reading_id AS id, count(*)::int AS n FROM readings WHERE client_reading_id LIKE 'multi-%' GROUP BY 1",
    )
    const stored = new Map(rows.map((r) => [r.id, r.n]))
    const lost = [...acked].filter((id) => !stored.has(id)).length
    const duplicated = rows.filter((r) => r.n > 1).length
    console.log(
      `# faults-multi-instance: tokens crossed ${crossed}/9; limit ${LIMIT}: allowed ${allowed}, 429 ${limited} of ${statuses.length}; ` +
        `kill -9 of 1 of 3: acknowledged ${acked.size}, attempts ${attempts.total}, failed over ${attempts.failedOver}, 429 ${attempts.limited}, 5xx ${attempts.fiveXx}, lost ${lost}, duplicated ${duplicated}`,
    )
    assert.equal(allowed, LIMIT, 'the limit holds to the configured figure across three instances')
    assert.equal(limited, 20)
    assert.ok(acked.size > 0)
    assert.equal(lost, 0, 'no acknowledged reading lost')
    assert.equal(duplicated, 0, 'no reading stored twice')
    assert.equal(attempts.fiveXx, 0, 'the surviving instances answered no 5xx')
    assert.equal(attempts.limited, 0)
    assert.ok(servers[0]!.proc.running && servers[2]!.proc.running)
  })
})
