// The auditor API: search the trail by patient, actor, client, action, outcome and time with keyset
// pagination, read one entry, verify the trail — auditors only, and each read itself audited.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { AuditEntryInput } from '../../src/audit/index.ts'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { ALL_API_SCOPES, buildWorld, userToken, type World } from '../support/world.ts'

interface EntryView {
  id: string
  occurredAt: string
  actorId: string | null
  clientId: string | null
  action: string
  patientId: string | null
  outcome: string
  hash: string
}
interface Page {
  entries: EntryView[]
  next: string | null
}

describe('auditor API: search and verification of the audit trail', () => {
  let t: TestApp
  let world: World
  let auditor: string
  const actor = randomUUID() // a user id of our own: the entries below are the only ones it has
  const client = `audit-search-client-${randomUUID()}`
  const recorded: { id: string; input: AuditEntryInput; at: Date }[] = []
  let middle: Date

  const get = async (path: string, token: string, headers: Record<string, string> = {}) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v2${path}`,
      headers: { authorization: `Bearer ${token}`, ...headers },
    })
    return { status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers }
  }

  before(async () => {
    t = await createTestApp({ env: { ANOMALY_INTERVAL_SECONDS: '0' } })
    world = await buildWorld(t.app)
    auditor = await userToken(t.app, t.config.publicUrl, world, world.users.auditor)
    const { audit } = t.app.vigil.modules
    for (let i = 0; i < 25; i++) {
      const input: AuditEntryInput = {
        actorKind: 'user',
        actorId: actor,
        clientId: i % 5 === 0 ? client : world.consoleClientId,
        ip: '192.0.2.7',
        action: i % 3 === 0 ? 'patients.read' : 'device-data.read',
        resourceType: i % 3 === 0 ? 'patients' : 'device-data',
        patientId: i % 2 === 0 ? world.patients.patient : world.patients.otherPatient,
        outcome: i % 4 === 0 ? 'denied' : 'success',
        status: i % 4 === 0 ? 403 : 200,
        requestId: `audit-search-${i}-${randomUUID()}`,
      }
      const e = await audit.record(input)
      recorded.push({ id: e.id, input, at: e.occurredAt })
      if (i === 12) {
        await new Promise((r) => setTimeout(r, 15))
        middle = new Date()
        await new Promise((r) => setTimeout(r, 15))
      }
    }
  })
  after(() => t.close())

  async function all(query: string, limit: number): Promise<EntryView[]> {
    const out: EntryView[] = []
    let cursor: string | null = null
    for (let n = 0; n < 100; n++) {
      const res = await get(
        `/audit/entries?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        auditor,
      )
      assert.equal(res.status, 200, JSON.stringify(res.body))
      const page = res.body as unknown as Page
      assert.ok(page.entries.length <= limit)
      out.push(...page.entries)
      cursor = page.next
      if (!cursor) return out
    }
    throw new Error('pagination did not end')
  }

  test('[SRS-AUDIT-005] pagination: every entry exactly once across pages, newest first', async () => {
    const entries = await all(`actor=${actor}`, 7)
    assert.equal(entries.length, 25)
    assert.equal(new Set(entries.map((e) => e.id)).size, 25, 'no entry twice')
    assert.deepEqual(
      new Set(entries.map((e) => e.id)),
      new Set(recorded.map((r) => r.id)),
      'every entry once',
    )
    for (let i = 1; i < entries.length; i++) {
      const [a, b] = [entries[i - 1] as EntryView, entries[i] as EntryView]
      assert.ok(a.occurredAt > b.occurredAt || (a.occurredAt === b.occurredAt && a.id > b.id), 'newest first')
    }
    assert.match((entries[0] as EntryView).hash, /^[0-9a-f]{64}$/)
  })

  test('[SRS-AUDIT-005] filters: patient, client, action, outcome, and time range, each alone and together', async () => {
    const expect = (pred: (r: (typeof recorded)[number]) => boolean) =>
      new Set(recorded.filter(pred).map((r) => r.id))
    const ids = async (q: string) => new Set((await all(`actor=${actor}&${q}`, 200)).map((e) => e.id))

    assert.deepEqual(
      await ids(`patient=${world.patients.patient}`),
      expect((r) => r.input.patientId === world.patients.patient),
    )
    assert.deepEqual(
      await ids(`client=${client}`),
      expect((r) => r.input.clientId === client),
    )
    assert.deepEqual(
      await ids('action=patients.read'),
      expect((r) => r.input.action === 'patients.read'),
    )
    assert.deepEqual(
      await ids('outcome=denied'),
      expect((r) => r.input.outcome === 'denied'),
    )
    assert.deepEqual(
      await ids(`from=${middle.toISOString()}`),
      expect((r) => r.at >= middle),
    )
    assert.deepEqual(
      await ids(`to=${encodeURIComponent(middle.toISOString())}`),
      expect((r) => r.at < middle),
    )
    assert.deepEqual(
      await ids(
        `patient=${world.patients.otherPatient}&action=device-data.read&outcome=success&from=${middle.toISOString()}`,
      ),
      expect(
        (r) =>
          r.input.patientId === world.patients.otherPatient &&
          r.input.action === 'device-data.read' &&
          r.input.outcome === 'success' &&
          r.at >= middle,
      ),
    )
    // a filter matching nothing is an empty page, not an error
    const none = await get(`/audit/entries?actor=${randomUUID()}`, auditor)
    assert.deepEqual(none.body, { entries: [], next: null })
  })

  test('[SRS-AUDIT-005] bad input: unknown parameter, limit over 200, a forged cursor and a bad time are 400', async () => {
    assert.equal((await get('/audit/entries?colour=red', auditor)).status, 400)
    assert.equal((await get('/audit/entries?limit=201', auditor)).status, 400)
    assert.equal((await get('/audit/entries?cursor=bm90LWEtY3Vyc29y', auditor)).status, 400)
    assert.equal((await get('/audit/entries?from=yesterday', auditor)).status, 400)
  })

  test('[SRS-AUDIT-005] one entry by id; an unknown id is 404', async () => {
    const first = recorded[3] as (typeof recorded)[number]
    const res = await get(`/audit/entries/${first.id}`, auditor)
    assert.equal(res.status, 200)
    assert.equal(res.body.id, first.id)
    assert.equal(res.body.actorId, actor)
    assert.equal(res.body.action, first.input.action)
    assert.equal((await get(`/audit/entries/${randomUUID()}`, auditor)).status, 404)
  })

  test('[SRS-AUDIT-006] only auditors read the trail: admins, clinicians, patients and a token without audit:read get 403', async () => {
    const users = [world.users.admin, world.users.clinicianTeam, world.users.patient, world.users.orgAdminA]
    for (const u of users) {
      const token = await userToken(t.app, t.config.publicUrl, world, u)
      for (const path of [
        '/audit/entries',
        `/audit/entries/${(recorded[0] as { id: string }).id}`,
        '/audit/verification',
      ]) {
        assert.equal((await get(path, token)).status, 403, `${u.email} ${path}`)
      }
    }
    const narrow = await userToken(
      t.app,
      t.config.publicUrl,
      world,
      world.users.auditor,
      ALL_API_SCOPES.replace('audit:read', '').trim(),
    )
    assert.equal((await get('/audit/entries', narrow)).status, 403)
    const anonymous = await t.app.inject({ method: 'GET', url: '/api/v2/audit/entries' })
    assert.equal(anonymous.statusCode, 401)
  })

  test('[SRS-AUDIT-006] reading the trail is itself audited: one entry, action audit.read, naming the auditor', async () => {
    const requestId = `auditor-read-${randomUUID()}`
    assert.equal(
      (await get(`/audit/entries?actor=${actor}&limit=1`, auditor, { 'x-request-id': requestId })).status,
      200,
    )
    let rows: { action: string; actor_id: string; outcome: string }[] = []
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      ;({ rows } = await t.db.query<{ action: string; actor_id: string; outcome: string }>(
        'SELECT action, actor_id, outcome FROM audit_entries WHERE request_id = $1',
        [requestId],
      ))
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 20))
    }
    assert.equal(rows.length, 1)
    assert.deepEqual(rows[0], { action: 'audit.read', actor_id: world.users.auditor.id, outcome: 'success' })
  })

  test("[SRS-AUDIT-007] verification: the verifier's verdict on the whole trail, with the entries counted", async () => {
    const res = await get('/audit/verification', auditor)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.intact, true)
    assert.equal(res.body.firstBad, null)
    const { rows } = await t.db.query<{ n: number | string }>('SELECT count(*) AS n FROM audit_entries')
    // entries written after the verifier's snapshot (this request's own) may be missing from the count
    assert.ok(
      Number(res.body.entries) >= 25 && Number(res.body.entries) <= Number(rows[0]?.n),
      `${String(res.body.entries)} of ${String(rows[0]?.n)}`,
    )
  })
})

describe('auditor API: verification of a tampered trail', () => {
  test('[SRS-AUDIT-007][SRS-AUDIT-028] verification names the first bad entry when a row was slipped into a chain, however often it is asked', async () => {
    const { db, drop } = await openIsolatedDatabase()
    const t = await createTestApp({ env: { ANOMALY_INTERVAL_SECONDS: '0' }, deps: { db } })
    try {
      const world = await buildWorld(t.app)
      const auditor = await userToken(t.app, t.config.publicUrl, world, world.users.auditor)
      await t.app.vigil.modules.audit.record({
        actorKind: 'system',
        action: 'test.entry',
        outcome: 'success',
        requestId: 'tamper-test',
      })
      const { rows } = await db.query<{ chain: number; seq: number | string }>(
        'SELECT chain, seq FROM audit_chain_heads WHERE seq > 0 ORDER BY chain LIMIT 1',
      )
      const head = rows[0] as { chain: number; seq: number | string }
      const forged = randomUUID()
      // appended behind the trail's back: a row the chain head does not know, with a made-up hash
      await db.query(
        `INSERT INTO audit_entries (id, chain, seq, occurred_at, actor_kind, action, outcome, prev_hash, hash)
         VALUES ($1, $2, $3, now(), 'user', 'patients.read', 'success', $4, $5)`,
        [forged, head.chain, Number(head.seq) + 1, '0'.repeat(64), 'f'.repeat(64)],
      )
      // Each request's own audit entry goes to the chain its request id hashes to; over several
      // requests some hash to the broken chain, and those must answer too (SRS-AUDIT-028).
      for (let i = 0; i < 16; i++) {
        const res = await t.app.inject({
          method: 'GET',
          url: '/api/v2/audit/verification',
          headers: { authorization: `Bearer ${auditor}` },
        })
        assert.equal(res.statusCode, 200, res.body)
        const body = res.json() as {
          intact: boolean
          firstBad: { chain: number; seq: number; id: string; reason: string }
        }
        assert.equal(body.intact, false)
        assert.equal(body.firstBad.chain, Number(head.chain))
        assert.equal(body.firstBad.seq, Number(head.seq) + 1)
        assert.equal(body.firstBad.id, forged)
        assert.equal(body.firstBad.reason, 'hash-mismatch')
      }
    } finally {
      await t.close()
      await drop()
    }
  })
})
