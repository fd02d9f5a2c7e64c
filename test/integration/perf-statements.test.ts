// Issue 17: how many statements a secured single reading costs the server, counted on the real
// app with a counting database (test/support/counting-db.ts). The figures per request are the
// profile in docs/performance.md; this test keeps them from growing back.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { appendOnEveryChain } from '../support/audit-heads.ts'
import { countingDatabase, type StatementLog } from '../support/counting-db.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { createAuditTrail, type AuditTrail } from '../../src/audit/audit-trail.ts'

describe('statements per single reading (issue 17)', () => {
  let raw: Database
  let drop: () => Promise<void>
  let t: TestApp
  let w: World
  let log: StatementLog
  let token: string
  let audit: AuditTrail

  const reading = (i: number) => ({
    readings: [
      {
        code: '2339-0',
        value: 100 + (i % 50),
        unit: 'mg/dL',
        effectiveDateTime: new Date(Date.now() - 60_000 - i * 1000).toISOString(),
        id: `perf-${Date.now()}-${i}`,
      },
    ],
  })
  const post = (i: number) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v2/device-data',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(reading(i)),
    })

  before(async () => {
    // A database of its own: other apps appending to the same audit chains would make this process's head guesses stale.
    ;({ db: raw, drop } = await openIsolatedDatabase())
    const counted = countingDatabase(raw)
    log = counted.log
    audit = createAuditTrail({ db: counted.db })
    t = await createTestApp({ deps: { db: counted.db, audit } })
    w = await buildWorld(t.app)
    token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
  })
  after(async () => {
    await t.close()
    await drop()
  })

  test('[SRS-PERF-580][SRS-PERF-584][SRS-PERF-602] a single v2 reading from a device costs the statements listed in docs/performance.md (one: the reading, its count, its outbox row and its audit entry together)', async () => {
    // Warm: the first append to each audit chain reads its head; the first request loads the patient's data key.
    await appendOnEveryChain(audit)
    for (let i = 0; i < 40; i++) assert.equal((await post(i)).statusCode, 200)
    const counts: number[] = []
    for (let i = 41; i <= 45; i++) {
      // Only what this request causes is counted (background jobs share the database);
      // the audit entry is written in the ingest transaction, and anything after the reply is
      // counted too, for the wait below runs inside the request's context.
      const res = await log.within(async () => {
        const r = await post(i)
        await new Promise((resolve) => setTimeout(resolve, 20))
        return r
      })
      assert.equal(res.statusCode, 200, res.body)
      counts.push(log.statements.length)
      if (i === 45) console.log(log.statements.join('\n'))
    }
    const perRequest = Math.max(...counts)
    console.log(`statements per single reading: ${perRequest}`)
    assert.equal(perRequest, 1, `one statement per single reading (ADR-0036), got ${perRequest}`)
    assert.match(log.statements[0] ?? '', /^WITH r AS \( INSERT INTO readings/)
  })
})

describe('one token look-up per request (issue 17)', () => {
  test('[SRS-PERF-583] without the principal cache, a device token is looked up once per request, under either model', async () => {
    const { db: raw, drop } = await openIsolatedDatabase()
    const counted = countingDatabase(raw)
    const t = await createTestApp({ deps: { db: counted.db, principalCache: false } })
    try {
      const w = await buildWorld(t.app)
      const device = await mintToken(t.app, t.config.publicUrl, {
        clientId: w.devices.bound.clientId,
        scope: 'device-data:write',
      })
      const user = await mintToken(t.app, t.config.publicUrl, {
        clientId: w.consoleClientId,
        accountId: w.users.clinicianTeam.id,
        scope: 'device-data:read',
      })
      for (const [token, method, url, body] of [
        [
          device,
          'POST',
          '/api/v2/device-data',
          JSON.stringify({
            readings: [
              {
                code: '2339-0',
                value: 99,
                unit: 'mg/dL',
                effectiveDateTime: new Date(Date.now() - 90_000).toISOString(),
              },
            ],
          }),
        ],
        [user, 'GET', `/api/v2/device-data?patient=${w.patients.patient}`, undefined],
      ] as const) {
        for (let i = 0; i < 2; i++) {
          const res = await counted.log.within(() =>
            t.app.inject({
              method,
              url,
              headers: {
                authorization: `Bearer ${token}`,
                ...(body ? { 'content-type': 'application/json' } : {}),
              },
              ...(body ? { payload: body } : {}),
            }),
          )
          assert.ok(res.statusCode === 200 || res.statusCode === 201, res.body)
          assert.equal(
            counted.log.statements.filter((s) => s.includes('FROM oidc_payloads')).length,
            1,
            counted.log.statements.join('\n'),
          )
        }
      }
      // A revoked token is refused at once (no cache here; the look-up finds nothing).
      await t.db.query("DELETE FROM oidc_payloads WHERE model = 'ClientCredentials'")
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v2/device-data',
        headers: { authorization: `Bearer ${device}`, 'content-type': 'application/json' },
        payload: '{"readings":[]}',
      })
      assert.equal(res.statusCode, 401)
    } finally {
      await t.close()
      await drop()
    }
  })
})

describe('a FHIR search that names its patient (issue 17, goal 5)', () => {
  test('[SRS-PERF-590][SRS-PERF-597] Observation?patient= is decided for the named patient alone and once, however many patients the caller reaches; a search naming none decides each of them once', async () => {
    const { db: raw, drop } = await openIsolatedDatabase()
    const counted = countingDatabase(raw)
    const t = await createTestApp({ deps: { db: counted.db } })
    try {
      const w = await buildWorld(t.app)
      // Eight more patients in the clinician's care team: a reach of nine.
      for (let i = 0; i < 8; i++) {
        const p = await t.app.vigil.modules.patients.create({
          organisationId: w.orgA,
          demographics: { name: { family: `Reach${i}` } },
        })
        await raw.query(
          'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
          [p.id, w.users.clinicianTeam.id, w.orgA],
        )
      }
      const token = await userToken(
        t.app,
        t.config.publicUrl,
        w,
        w.users.clinicianTeam,
        'user/Observation.rs',
        {
          resource: 'fhir',
        },
      )
      const search = async (query: string) => {
        const res = await counted.log.within(() =>
          t.app.inject({
            url: `/fhir/R4/Observation?${query}`,
            headers: { authorization: `Bearer ${token}` },
          }),
        )
        assert.equal(res.statusCode, 200, res.body)
        const statements = counted.log.statements
        return {
          facts: statements.filter((s) => s.includes('EXISTS (SELECT 1 FROM published_care_team_members'))
            .length,
          listed: statements.filter((s) =>
            s.includes('SELECT patient_id AS id FROM published_care_team_members'),
          ).length,
          entries: (res.json() as { entry?: unknown[] }).entry?.length ?? 0,
        }
      }
      const named = await search(`patient=${w.patients.patient}&code=http://loinc.org|2339-0&_count=50`)
      // One decision, for the search: not one per patient in reach, and not a second one for the
      // grounds of the audit entry of the patient the answer carried (SRS-AUDIT-400), which are
      // the search's own permit (SRS-PERF-597).
      assert.equal(named.listed, 0)
      assert.ok(named.entries > 0, 'the named patient has readings')
      assert.equal(named.facts, 1, 'the named patient alone decided, once')
      // Naming a patient outside the reach finds nothing (decided, refused, not listed).
      const outside = await search(`patient=${w.patients.otherPatient}&_count=50`)
      assert.deepEqual(outside, { facts: 1, listed: 0, entries: 0 })
      // No patient named: the reach is listed and each patient in it decided.
      const unnamed = await search('code=http://loinc.org|2339-0&_count=50')
      assert.equal(unnamed.listed, 1)
      const reach = await raw.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM care_team_members WHERE user_id = $1',
        [w.users.clinicianTeam.id],
      )
      assert.ok(Number(reach.rows[0]?.n) >= 9)
      // Each patient in reach decided once; the audit's grounds for those the answer carried are
      // the search's permits, not a decision each again.
      assert.equal(unnamed.facts, Number(reach.rows[0]?.n), 'every patient in reach decided, once')
    } finally {
      await t.close()
      await drop()
    }
  })
})
