// Issue 17 (ADR-0029, ADR-0033): two server processes on one PostgreSQL, each caching verified
// principals. A revoked token, a disabled account, an unbound device, a revoked consent and a bound
// device's erased patient stop working on
// the very next request at the instance that processed the change, and within one second at the
// other (LISTEN/NOTIFY from the database's triggers).
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { migrate, openDatabase } from '../../src/platform/db/index.ts'
import { createTestApp } from '../support/app.ts'
import { TEST_COOKIE_SECRET, TEST_KEYRING } from '../support/config.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'
import { childEnv, removeDir, startServer, tempDir, type Serving } from './server-process.ts'

const WITHIN_MS = 1_000

describe('principal cache across two instances (issue 17)', () => {
  let base: string
  let cluster: PgCluster
  let w: World
  const publicUrl = 'http://vigil.test:8080'
  const tokens: Record<
    'device' | 'deviceAgain' | 'otherDevice' | 'orgAdmin' | 'admin' | 'clinician' | 'consented' | 'patient',
    string
  > = {} as never
  let a: Serving
  let b: Serving

  before(async () => {
    base = tempDir('principal-cache')
    cluster = await PgCluster.create(base)
    cluster.start()
    const url = await cluster.createDatabase('vigil_cache')
    const db = await openDatabase({ databaseUrl: url, poolMax: 4 })
    await migrate(db)
    const t = await createTestApp({ env: { PUBLIC_URL: publicUrl, DATABASE_URL: url }, deps: { db } })
    try {
      w = await buildWorld(t.app)
      tokens.device = await mintToken(t.app, publicUrl, {
        clientId: w.devices.bound.clientId,
        scope: 'device-data:write',
        expiresIn: 3600,
      })
      // The first is revoked below; the second writes until its patient is erased (the last test).
      tokens.deviceAgain = await mintToken(t.app, publicUrl, {
        clientId: w.devices.bound.clientId,
        scope: 'device-data:write',
        expiresIn: 3600,
      })
      tokens.otherDevice = await mintToken(t.app, publicUrl, {
        clientId: w.devices.other.clientId,
        scope: 'device-data:write',
        expiresIn: 3600,
      })
      tokens.orgAdmin = await userToken(t.app, publicUrl, w, w.users.orgAdminA)
      tokens.admin = await userToken(t.app, publicUrl, w, w.users.admin)
      tokens.clinician = await userToken(t.app, publicUrl, w, w.users.clinicianTeam)
      tokens.consented = await userToken(t.app, publicUrl, w, w.users.clinicianConsent)
      tokens.patient = await userToken(t.app, publicUrl, w, w.users.patient)
    } finally {
      await t.close()
      await db.close()
    }
    const env = childEnv(base, {
      PUBLIC_URL: publicUrl,
      DATABASE_URL: url,
      ENCRYPTION_KEYRING: TEST_KEYRING,
      COOKIE_SECRET: TEST_COOKIE_SECRET,
      DATABASE_POOL_MAX: '4',
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
      ANOMALY_INTERVAL_SECONDS: '0',
    })
    ;[a, b] = await Promise.all([startServer(env), startServer(env)])
  })
  after(async () => {
    await a?.proc.kill()
    await b?.proc.kill()
    await cluster?.destroy()
    removeDir(base)
  })

  const call = (s: Serving, token: string, method: string, path: string, body?: unknown) =>
    fetch(`${s.address}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    })
  const reading = (s: Serving, token: string) =>
    call(s, token, 'POST', '/api/v2/device-data', {
      readings: [
        {
          code: '2339-0',
          value: 101,
          unit: 'mg/dL',
          effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
          id: randomUUID(),
        },
      ],
    })
  const readPatient = (s: Serving, token: string) =>
    call(s, token, 'GET', `/api/v2/device-data?patient=${w.patients.patient}`)

  /** Both instances answer `ok` twice (the second from the cache), then the change is made at A. */
  async function check(
    what: string,
    request: (s: Serving) => Promise<Response>,
    ok: number,
    refused: number,
    change: () => Promise<Response>,
  ): Promise<void> {
    for (const s of [a, b, a, b]) {
      const res = await request(s)
      assert.equal(
        res.status,
        ok,
        `${what}: before the change, ${s.address} answers ${res.status}: ${await res.text()}`,
      )
    }
    const changed = await change()
    assert.ok(changed.status < 300, `${what}: the change answered ${changed.status}: ${await changed.text()}`)
    const started = Date.now()
    const atA = await request(a)
    assert.equal(atA.status, refused, `${what}: the very next request at the instance that made the change`)
    for (;;) {
      const atB = await request(b)
      if (atB.status === refused) break
      assert.equal(atB.status, ok, `${what}: the other instance answers ${atB.status}`)
      assert.ok(
        Date.now() - started < WITHIN_MS,
        `${what}: the other instance still accepts after ${WITHIN_MS} ms`,
      )
      await new Promise((r) => setTimeout(r, 25))
    }
    const elapsed = Date.now() - started
    assert.ok(elapsed <= WITHIN_MS, `${what}: ${elapsed} ms at the other instance`)
  }

  test('[SRS-PERF-581] a revoked token stops at once at the instance that revoked it and within 1 s at the other', async () => {
    await check(
      'token revocation',
      (s) => reading(s, tokens.device),
      200,
      401,
      () =>
        fetch(`${a.address}/oauth/revoke`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(w.devices.bound.clientId)}:${encodeURIComponent(w.devices.bound.clientSecret)}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ token: tokens.device, token_type_hint: 'access_token' }),
        }),
    )
  })

  test('[SRS-PERF-581] an unbound device stops at once at the instance that unbound it and within 1 s at the other', async () => {
    await check(
      'device unbind',
      (s) => reading(s, tokens.otherDevice),
      200,
      409,
      () => call(a, tokens.orgAdmin, 'DELETE', `/api/v2/devices/${w.devices.other.id}/binding`),
    )
  })

  test('[SRS-PERF-581] a disabled account stops at once at the instance that disabled it and within 1 s at the other', async () => {
    await check(
      'account disable',
      (s) => readPatient(s, tokens.clinician),
      200,
      401,
      () => call(a, tokens.admin, 'POST', `/api/v2/users/${w.users.clinicianTeam.id}/disable`),
    )
  })

  test('[SRS-PERF-581] a revoked consent stops at once at the instance that revoked it and within 1 s at the other', async () => {
    await check(
      'consent revocation',
      (s) => readPatient(s, tokens.consented),
      200,
      404,
      () => call(a, tokens.patient, 'DELETE', `/api/v2/me/consents/${w.consents.live}`),
    )
  })

  // Last: it erases the patient the other tests read.
  test('[SRS-PERF-593] a bound device stops writing at once at the instance that erased its patient and within 1 s at the other', async () => {
    await check(
      'patient erasure',
      (s) => reading(s, tokens.deviceAgain),
      200,
      404,
      () =>
        call(a, tokens.admin, 'POST', `/api/v2/admin/patients/${w.patients.patient}/erase`, {
          confirm: true,
        }),
    )
  })
})
