// Not a test file itself: events-relay-crash.test.ts and events-relay-instances.test.ts run it.
// The outbox relay in real server processes (issue 16; ADR-0020): an event committed before the
// server is killed with SIGKILL is delivered after the restart; and several instances on one
// database never both deliver an event — on PostgreSQL one holds the advisory lock and a standby
// takes over within seconds when the holder is killed; on PGlite (one process per data directory)
// two relays on one database still never send the same delivery twice (row claims).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before } from 'node:test'
import { CLAIM_MARGIN_MS } from '../../src/modules/events/relay.ts'
import { migrate, openDatabase, type Database } from '../../src/platform/db/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { TEST_COOKIE_SECRET, TEST_KEYRING } from '../support/config.ts'
import { freePort } from '../support/ports.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'
import {
  childEnv,
  get,
  removeDir,
  startServer,
  tempDir,
  until,
  type Env,
  type Serving,
} from './server-process.ts'

const RELAY_ENV = {
  EVENTS_RELAY: 'true',
  EVENTS_RELAY_INTERVAL_MS: '50',
  EVENTS_RETRY_BASE_MS: '50',
  EVENTS_RETRY_MAX_DELAY_MS: '300',
  EVENTS_WEBHOOK_TIMEOUT_MS: '3000',
}
/** A delivery's claim, as the server computes it from RELAY_ENV. */
const CLAIM_MS = Number(RELAY_ENV.EVENTS_WEBHOOK_TIMEOUT_MS) + CLAIM_MARGIN_MS

/** On PostgreSQL a schema of this test's own (one relay per outbox), with a URL processes can use. */
async function scopedDatabase(): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
  const base = process.env.DATABASE_URL
  if (!base) return { url: undefined, drop: async () => {} }
  const schema = `events_${randomBytes(5).toString('hex')}`
  const admin = await openDatabase({ databaseUrl: base, poolMax: 1 })
  await admin.exec(`CREATE SCHEMA ${schema}`)
  const scoped = new URL(base)
  scoped.searchParams.set('options', `-c search_path=${schema}`)
  return {
    url: scoped.toString(),
    drop: async () => {
      await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
      await admin.close()
    },
  }
}

/**
 * The shared set-up (registers before/after in the calling describe) and the two scenarios, one
 * per test file (each file has 120 s; server starts are slow on a loaded machine).
 */
export function relayProcessContext(): { crash: () => Promise<void>; instances: () => Promise<void> } {
  let dir: string
  let env: Env
  let issuer: string
  let w: World
  let rx: WebhookReceiver
  let deviceToken: string
  let scoped: Awaited<ReturnType<typeof scopedDatabase>>
  let subscriptionPath: string
  const running: Serving[] = []

  const post = async (base: string, value: number) => {
    const res = await get(`${base}/api/v2/device-data`, {
      method: 'POST',
      headers: { authorization: `Bearer ${deviceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        readings: [
          {
            code: '2339-0',
            value,
            unit: 'mg/dL',
            effectiveDateTime: new Date(Date.now() - 60_000 - value).toISOString(),
          },
        ],
      }),
    })
    assert.equal(res.status, 200, await res.clone().text())
    return ((await res.json()) as { results: Array<{ id: string }> }).results[0]?.id as string
  }
  const receivedReading = (id: string) =>
    rx.accepted.some(
      (r) => r.path === subscriptionPath && (r.json.data.readingIds as string[] | undefined)?.includes(id),
    )

  before(async () => {
    rx = await startWebhookReceiver()
    dir = tempDir('events')
    scoped = await scopedDatabase()
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}`
    // The world and the subscription are made in this process, on the data the servers will use.
    const db: Database = scoped.url
      ? await openDatabase({ databaseUrl: scoped.url, poolMax: 2 })
      : await openDatabase({ pgliteDir: dir })
    await migrate(db)
    const t: TestApp = await createTestApp({ env: { PUBLIC_URL: issuer }, deps: { db } })
    try {
      w = await buildWorld(t.app)
      deviceToken = await mintToken(t.app, issuer, {
        clientId: w.devices.bound.clientId,
        scope: 'device-data:write',
      })
      const admin = await userToken(t.app, issuer, w, w.users.orgAdminA, 'admin:users')
      subscriptionPath = '/process'
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v2/subscriptions',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        payload: { url: `${rx.url}${subscriptionPath}`, eventTypes: ['device-data.accepted'] },
      })
      assert.equal(res.statusCode, 201, res.body)
      rx.secrets.set(subscriptionPath, res.json().secret as string)
    } finally {
      await t.close()
      await db.close()
    }
    env = childEnv(
      dir,
      {
        PORT: String(port),
        PUBLIC_URL: issuer,
        ENCRYPTION_KEYRING: TEST_KEYRING,
        COOKIE_SECRET: TEST_COOKIE_SECRET,
        EVENTS_WEBHOOK_CA_FILE: rx.caFile,
        ...RELAY_ENV,
      },
      { externalServices: true },
    )
    if (scoped.url) env.DATABASE_URL = scoped.url
  })
  after(async () => {
    for (const s of running) await s.proc.kill()
    await rx?.close()
    await scoped?.drop()
    removeDir(dir)
  })

  async function crash(): Promise<void> {
    rx.mode = 'down'
    const first = await startServer(env)
    running.push(first)
    const id = await post(issuer, 101)
    // Committed and being retried against a receiver that is down …
    await until(
      'a failed attempt',
      () =>
        rx.requests.some((r) => (r.json.data.readingIds as string[] | undefined)?.includes(id))
          ? true
          : undefined,
      20_000,
    )
    // … when the server dies without any shutdown.
    first.proc.signal('SIGKILL')
    await first.proc.waitForExit()
    assert.equal(first.proc.exit?.signal, 'SIGKILL')
    assert.equal(receivedReading(id), false)
    rx.mode = 'up'
    const second = await startServer(env)
    running.push(second)
    // The kill can land inside an attempt (the receiver saw the request before the server recorded
    // its 503), while the delivery is still claimed by the dead instance. The claim is honoured to
    // its end, so no send is ever doubled: the wait allows the whole lease, then 30 s to deliver.
    await until(
      'delivered after the restart',
      () => (receivedReading(id) ? true : undefined),
      CLAIM_MS + 30_000,
    )
    const got = rx.accepted.filter(
      (r) => r.path === subscriptionPath && (r.json.data.readingIds as string[]).includes(id),
    )
    assert.equal(got.length, 1)
    assert.equal(got[0]?.verified, true)
    second.proc.signal('SIGKILL')
    await second.proc.waitForExit()
  }

  async function instances(): Promise<void> {
    for (const s of running) await s.proc.kill()
    rx.mode = 'up'
    if (!scoped.url) {
      // PGlite: one process per data directory, so the two relays run in one process on one database.
      const db = await openDatabase({ pgliteDir: dir })
      const apps = [
        await createTestApp({
          env: { PUBLIC_URL: issuer, EVENTS_WEBHOOK_CA_FILE: rx.caFile, ...RELAY_ENV },
          deps: { db },
        }),
        await createTestApp({
          env: { PUBLIC_URL: issuer, EVENTS_WEBHOOK_CA_FILE: rx.caFile, ...RELAY_ENV },
          deps: { db },
        }),
      ]
      try {
        const ids: string[] = []
        for (let i = 0; i < 10; i++) {
          const app = apps[i % 2] as TestApp
          const res = await app.app.inject({
            method: 'POST',
            url: '/api/v2/device-data',
            headers: { authorization: `Bearer ${deviceToken}`, 'content-type': 'application/json' },
            payload: {
              readings: [
                {
                  code: '2339-0',
                  value: 200 + i,
                  unit: 'mg/dL',
                  effectiveDateTime: new Date(Date.now() - 120_000 - i).toISOString(),
                },
              ],
            },
          })
          assert.equal(res.statusCode, 200, res.body)
          ids.push(res.json().results[0].id as string)
        }
        await until('all delivered', () => (ids.every(receivedReading) ? true : undefined), 30_000)
        await new Promise((r) => setTimeout(r, 500))
        const sent = rx.requests.filter(
          (r) =>
            r.path === subscriptionPath &&
            ids.some((id) => (r.json.data.readingIds as string[]).includes(id)),
        )
        assert.equal(sent.length, ids.length, 'each event sent exactly once')
      } finally {
        for (const a of apps) await a.close()
        await db.close()
      }
      return
    }
    const portB = await freePort()
    const a = await startServer(env)
    running.push(a)
    const b = await startServer({ ...env, PORT: String(portB) })
    running.push(b)
    const leaderOf = (s: Serving) =>
      s.proc
        .entries()
        .filter((e) => typeof e.leader === 'boolean')
        .at(-1)?.leader === true
    await until('one active relay', () => (leaderOf(a) || leaderOf(b) ? true : undefined), 20_000)
    assert.notEqual(leaderOf(a), leaderOf(b), 'exactly one instance is the active relay')
    const ids: string[] = []
    for (let i = 0; i < 10; i++)
      ids.push(await post(i % 2 === 0 ? issuer : `http://127.0.0.1:${portB}`, 300 + i))
    await until('all delivered', () => (ids.every(receivedReading) ? true : undefined), 30_000)
    // The leader is killed only once it has recorded every send. Killed between a receiver's 200
    // and that record, the delivery would keep its claim (EVENTS_WEBHOOK_TIMEOUT_MS + 30 s, so a
    // send in flight is never doubled), then be sent again: at least once, as designed, but not
    // the "never both deliver" this test is about, and the patient's later events would wait out
    // the claim behind it.
    const observer = await openDatabase({ databaseUrl: scoped.url, poolMax: 1 })
    try {
      await until(
        'every send recorded',
        async () =>
          (
            await observer.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM event_deliveries WHERE status = 'pending'",
            )
          ).rows[0]?.n === 0
            ? true
            : undefined,
        30_000,
      )
    } finally {
      await observer.close()
    }
    const leader = leaderOf(a) ? a : b
    const standby = leader === a ? b : a
    leader.proc.signal('SIGKILL')
    await leader.proc.waitForExit()
    const killedAt = Date.now()
    await until('the standby takes over', () => (leaderOf(standby) ? true : undefined), 15_000)
    const takeoverMs = Date.now() - killedAt
    assert.ok(takeoverMs < 10_000, `took over in ${takeoverMs} ms`)
    const standbyBase = standby === a ? issuer : `http://127.0.0.1:${portB}`
    for (let i = 0; i < 3; i++) ids.push(await post(standbyBase, 400 + i))
    await until('delivered by the new relay', () => (ids.every(receivedReading) ? true : undefined), 30_000)
    await new Promise((r) => setTimeout(r, 500))
    const sent = rx.requests.filter(
      (r) =>
        r.path === subscriptionPath && ids.some((id) => (r.json.data.readingIds as string[]).includes(id)),
    )
    assert.equal(sent.length, ids.length, 'each event sent exactly once, by one instance')
    standby.proc.signal('SIGKILL')
    await standby.proc.waitForExit()
  }
  return { crash, instances }
}
