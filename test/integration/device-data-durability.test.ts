// Non-negotiable (SRS §Product contract): every acknowledged (2xx) write survives a crash of the server right after
// it answered. The real server process (on an embedded data directory, or on DATABASE_URL) takes
// a reading from a device that authenticated at its token endpoint, answers 200, and is killed
// with SIGKILL at once; restarted on the same data, it serves the reading back.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createAuditTrail } from '../../src/audit/audit-trail.ts'
import { migrate, openDatabase } from '../../src/platform/db/index.ts'
import { createTestApp } from '../support/app.ts'
import { TEST_COOKIE_SECRET, TEST_KEYRING, usingPostgres } from '../support/config.ts'
import { freePort } from '../support/ports.ts'
import { buildWorld, userToken, type World } from '../support/world.ts'
import { childEnv, get, removeDir, startServer, tempDir, type Env, type Serving } from './server-process.ts'

describe('device data survive a crash after the answer', () => {
  let dir: string
  let env: Env
  let issuer: string
  let w: World
  let patientToken: string
  const running: Serving[] = []

  before(async () => {
    dir = tempDir('durability')
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}`
    // The world is built in this process on the data the server will use, then handed over.
    const db = usingPostgres() ? undefined : await openDatabase({ pgliteDir: dir })
    if (db) await migrate(db)
    const t = await createTestApp({ env: { PUBLIC_URL: issuer }, ...(db ? { deps: { db } } : {}) })
    try {
      w = await buildWorld(t.app)
      patientToken = await userToken(t.app, issuer, w, w.users.patient)
    } finally {
      await t.close()
      await db?.close()
    }
    env = childEnv(
      dir,
      {
        PORT: String(port),
        PUBLIC_URL: issuer,
        ENCRYPTION_KEYRING: TEST_KEYRING,
        COOKIE_SECRET: TEST_COOKIE_SECRET,
        LOG_LEVEL: 'warn',
      },
      { externalServices: true },
    )
  })
  after(async () => {
    for (const s of running) await s.proc.kill()
    removeDir(dir)
  })

  test('[SRS-DATA-012] a reading acknowledged with 200 is there after SIGKILL and a restart', async () => {
    const first = await startServer({ ...env, LOG_LEVEL: 'info' })
    running.push(first)
    const config = await client.discovery(
      new URL(issuer),
      w.devices.bound.clientId,
      undefined,
      client.ClientSecretBasic(w.devices.bound.clientSecret),
      { execute: [client.allowInsecureRequests] },
    )
    const tokens = await client.clientCredentialsGrant(config, {
      scope: 'device-data:write',
      resource: `${issuer}/api`,
    })
    const note = `durable-${w.suffix}`
    const res = await get(`${issuer}/api/v2/device-data`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        readings: [
          {
            id: note,
            code: '2339-0',
            value: 142,
            unit: 'mg/dL',
            effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
            note,
          },
        ],
      }),
    })
    // Killed the moment the answer is in: no graceful shutdown, no flush.
    first.proc.signal('SIGKILL')
    assert.equal(res.status, 200)
    const id = ((await res.json()) as { results: Array<{ id: string }> }).results[0]?.id
    await first.proc.waitForExit()
    assert.equal(first.proc.exit?.signal, 'SIGKILL')

    const second = await startServer({ ...env, LOG_LEVEL: 'info' })
    running.push(second)
    const back = await get(`${issuer}/api/v2/device-data?patient=${w.patients.patient}&code=2339-0`, {
      headers: { authorization: `Bearer ${patientToken}` },
    })
    assert.equal(back.status, 200)
    const readings = (
      (await back.json()) as { readings: Array<{ id: string; value: number; note?: string }> }
    ).readings
    const found = readings.find((r) => r.id === id)
    assert.ok(found, 'the acknowledged reading survived')
    assert.equal(found.value, 142)
    assert.equal(found.note, note)
  })

  test('[SRS-DATA-012][SRS-PERF-600] killed with SIGKILL in the middle of concurrent single readings (group commit), every reading answered 200 is stored with its audit entry', async () => {
    for (const s of running.splice(0)) await s.proc.kill() // the port and the data are this test's now
    const server = await startServer({ ...env, LOG_LEVEL: 'info' })
    running.push(server)
    const tokenFor = async (device: World['devices']['bound']) => {
      const config = await client.discovery(
        new URL(issuer),
        device.clientId,
        undefined,
        client.ClientSecretBasic(device.clientSecret),
        { execute: [client.allowInsecureRequests] },
      )
      return (
        await client.clientCredentialsGrant(config, { scope: 'device-data:write', resource: `${issuer}/api` })
      ).access_token
    }
    const tokens = [await tokenFor(w.devices.bound), await tokenFor(w.devices.other)]
    const acknowledged: Array<{ id: string; requestId: string }> = []
    let sent = 0
    let killed = false
    const worker = async (lane: number) => {
      while (!killed) {
        const n = sent++
        try {
          const res = await get(`${issuer}/api/v2/device-data`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tokens[lane % 2]}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              readings: [
                {
                  code: '2339-0',
                  value: 80 + (n % 100),
                  unit: 'mg/dL',
                  effectiveDateTime: new Date(Date.now() - 7_200_000 - n * 1000).toISOString(),
                },
              ],
            }),
          })
          if (res.status === 200) {
            const id = ((await res.json()) as { results: Array<{ id: string }> }).results[0]?.id as string
            acknowledged.push({ id, requestId: res.headers.get('x-request-id') as string })
          }
        } catch {
          // The connection died with the server: not acknowledged, so nothing is owed.
        }
        if (!killed && acknowledged.length >= 150) {
          killed = true
          server.proc.signal('SIGKILL')
        }
      }
    }
    await Promise.all(Array.from({ length: 16 }, (_, lane) => worker(lane)))
    await server.proc.waitForExit()
    assert.equal(server.proc.exit?.signal, 'SIGKILL')
    assert.ok(acknowledged.length >= 150)

    const db = usingPostgres()
      ? await openDatabase({ databaseUrl: process.env.DATABASE_URL as string, poolMax: 1 })
      : await openDatabase({ pgliteDir: dir })
    try {
      const stored = await db.query<{ id: string }>('SELECT id FROM readings WHERE id = ANY($1::uuid[])', [
        acknowledged.map((a) => a.id),
      ])
      assert.equal(stored.rows.length, acknowledged.length, 'every acknowledged reading is stored')
      const audited = await db.query<{ request_id: string; status: number }>(
        'SELECT request_id, status FROM audit_entries WHERE request_id = ANY($1::text[])',
        [acknowledged.map((a) => a.requestId)],
      )
      assert.equal(audited.rows.length, acknowledged.length, 'every acknowledged reading has its one entry')
      for (const e of audited.rows) assert.equal(e.status, 200)
      // Its own data directory: nothing else appends, so the whole trail is verified.
      if (!usingPostgres()) assert.equal((await createAuditTrail({ db }).verify()).ok, true)
    } finally {
      await db.close()
    }
  })
})
