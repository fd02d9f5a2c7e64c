// Group commit of device writes (issue 17; ADR-0036): small device writes that arrive while ingest
// transactions are under way share the next one. Shown on the real app through concurrent
// requests: fewer transactions than requests, yet each request keeps its own answer, its own
// audit entry and its own outbox row; a group that meets a duplicate, a conflict or a quota
// reached rolls back and each request runs alone, so a neighbour's outcome is never another's.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createAuditTrail } from '../../src/audit/audit-trail.ts'
import type { AuditEntryInput } from '../../src/audit/entry.ts'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { appendOnEveryChain } from '../support/audit-heads.ts'
import { countingDatabase, type StatementLog } from '../support/counting-db.ts'
import { buildWorld, mintToken, type World } from '../support/world.ts'
import { DatabaseUnavailableError, type Database, type Queryable } from '../../src/platform/db/index.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('group commit of device writes', () => {
  let raw: Database
  let drop: () => Promise<void>
  let grouped: TestApp
  let alone: TestApp
  let w: World
  let log: StatementLog
  const tokens: Record<'bound' | 'other', string> = { bound: '', other: '' }
  let serial = 0
  let ingests = 0
  let held: Promise<void> | undefined
  let unavailableInTransactions = false

  const reading = (extra: Record<string, unknown> = {}) => ({
    code: '2339-0',
    value: 90 + (serial % 60),
    unit: 'mg/dL',
    effectiveDateTime: new Date(Date.now() - 3_600_000 - serial++ * 1000).toISOString(),
    ...extra,
  })
  const post = (t: TestApp, device: 'bound' | 'other', readings: unknown[]) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v2/device-data',
      headers: { authorization: `Bearer ${tokens[device]}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ readings }),
    })
  /** A statement that appends audit entries (it moves a chain's head, or inserts and then moves it). */
  const isAppend = (statement: string) => /audit_chain_heads SET|INSERT INTO audit_entries/.test(statement)
  const auditFor = async (requestIds: string[]) =>
    (
      await raw.query<{ request_id: string; status: number; patient_id: string | null }>(
        'SELECT request_id, status, patient_id FROM audit_entries WHERE request_id = ANY($1::text[])',
        [requestIds],
      )
    ).rows
  const outboxNaming = async (readingId: string) =>
    (
      await raw.query<{ payload: Json | string }>(
        "SELECT payload FROM outbox WHERE topic = 'device-data.accepted' AND payload->'readingIds' ? $1",
        [readingId],
      )
    ).rows.map((r) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Json)
  const storedIds = async (ids: string[]) =>
    new Set(
      (await raw.query<{ id: string }>('SELECT id FROM readings WHERE id = ANY($1::uuid[])', [ids])).rows.map(
        (r) => r.id,
      ),
    )

  before(async () => {
    // A database of its own: the statement count must see only these apps' transactions.
    ;({ db: raw, drop } = await openIsolatedDatabase())
    const counted = countingDatabase(raw)
    log = counted.log
    // Every statement that writes readings takes 15 ms more, as on a disk that makes commits wait:
    // requests overlap on any database. (PGlite runs in this thread, so a request's write would
    // otherwise finish before the next request reaches the ingest, and no group could form.) While
    // `held` is set, such statements wait until the test lets them go. They are counted here,
    // whichever request's context runs them, in a transaction or alone.
    // With `unavailableInTransactions` set, such a statement in a transaction fails as a database
    // that stopped answering does (the rung that runs each request alone uses transactions).
    const slowIngest = (q: Queryable, inTransaction: boolean): Queryable => ({
      query: async (sql, params) => {
        if (sql.includes('INSERT INTO readings')) {
          ingests++
          await (held ?? new Promise((resolve) => setTimeout(resolve, 15)))
          if (inTransaction && unavailableInTransactions)
            throw new DatabaseUnavailableError('the database did not answer in time (test)')
        }
        return q.query(sql, params)
      },
      exec: (sql) => q.exec(sql),
    })
    const db: Database = {
      ...counted.db,
      ...slowIngest(counted.db, false),
      transaction: (fn) => counted.db.transaction((tx) => fn(slowIngest(tx, true))),
    }
    // The grouped app's trail, so the test can make its guess of every chain's head known below.
    const audit = createAuditTrail({ db })
    grouped = await createTestApp({ deps: { db, audit } })
    alone = await createTestApp({ env: { INGEST_GROUP_COMMIT: 'false' }, deps: { db } })
    w = await buildWorld(grouped.app)
    for (const device of ['bound', 'other'] as const)
      tokens[device] = await mintToken(grouped.app, grouped.config.publicUrl, {
        clientId: w.devices[device].clientId,
        scope: 'device-data:write',
      })
    // Warm: each audit chain's head known (a single reading on a chain whose head the process has
    // not seen yet takes a transaction, which on PGlite holds the one connection), data keys and
    // principals cached.
    await appendOnEveryChain(audit)
    for (let i = 0; i < 20; i++) {
      assert.equal((await post(grouped, i % 2 ? 'bound' : 'other', [reading()])).statusCode, 200)
      assert.equal((await post(alone, i % 2 ? 'bound' : 'other', [reading()])).statusCode, 200)
    }
  })
  after(async () => {
    await grouped?.close()
    await alone?.close()
    await drop?.()
  })

  test('[SRS-PERF-600] concurrent single readings share transactions, and each request keeps its own answer, audit entry and outbox row', async () => {
    const n = 24
    const start = ingests
    const responses = await log.within(() =>
      Promise.all(Array.from({ length: n }, (_, i) => post(grouped, i % 2 ? 'bound' : 'other', [reading()]))),
    )
    const writes = ingests - start
    for (const res of responses) {
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.json().results[0].outcome, 'created')
    }
    assert.ok(writes < n / 2, `${n} concurrent requests in ${writes} statements writing readings`)
    // Everything the burst sent the database, transactions and audit appends included: fewer
    // statements than requests (alone, each request costs one to four).
    assert.ok(log.statements.length < n, `${n} requests in ${log.statements.length} statements`)
    const ids = responses.map((r) => r.json().results[0].id as string)
    assert.equal((await storedIds(ids)).size, n, 'every acknowledged reading is stored')
    const entries = await auditFor(responses.map((r) => r.headers['x-request-id'] as string))
    assert.equal(entries.length, n, 'one audit entry per request')
    for (const e of entries) assert.equal(e.status, 200)
    for (const [i, id] of ids.entries()) {
      const events = await outboxNaming(id)
      assert.equal(events.length, 1, 'one outbox row names the reading')
      assert.deepEqual(events[0]?.readingIds, [id], 'the row names this request’s reading only')
      assert.equal(events[0]?.deviceId, w.devices[i % 2 ? 'bound' : 'other'].id)
      assert.equal(events[0]?.patientId, w.devices[i % 2 ? 'bound' : 'other'].patientId)
    }

    // The control: the same burst with INGEST_GROUP_COMMIT=false is one transaction per request.
    const controlStart = ingests
    await log.within(() =>
      Promise.all(Array.from({ length: n }, (_, i) => post(alone, i % 2 ? 'bound' : 'other', [reading()]))),
    )
    assert.equal(ingests - controlStart, n)
    assert.equal(log.statements.filter((s) => s === 'BEGIN').length, n)
  })

  test('[SRS-PERF-601] a duplicate, a conflict or a quota reached in a group is answered as if alone, and its neighbours are stored', async () => {
    const again = reading({ id: 'gc-dup' })
    const taken = reading({ id: 'gc-conflict' })
    const first = await post(grouped, 'bound', [again, taken])
    assert.equal(first.statusCode, 200, first.body)
    const [dup, conflict] = (first.json().results as Json[]).map((r) => r.id as string)
    const changed = { ...taken, value: (taken.value as number) + 1 }

    const run = async (odd: () => Promise<Awaited<ReturnType<typeof post>>>) => {
      // Both ingest slots held by two requests, so the whole burst waits and forms one group.
      let release = () => {}
      held = new Promise<void>((resolve) => (release = resolve))
      const start = ingests
      const blockers = Promise.all([post(grouped, 'other', [reading()]), post(grouped, 'other', [reading()])])
      const deadline = Date.now() + 10_000
      while (ingests < start + 2) {
        if (Date.now() > deadline) throw new Error('the two blocking requests did not start')
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      held = undefined
      const before = ingests
      const pending = Promise.all([
        ...Array.from({ length: 6 }, () => post(grouped, 'other', [reading()])),
        odd(),
        ...Array.from({ length: 6 }, () => post(grouped, 'other', [reading()])),
      ])
      await new Promise((resolve) => setTimeout(resolve, 300)) // the burst reaches the ingest and waits
      release()
      const burst = await pending
      for (const res of await blockers) assert.equal(res.statusCode, 200, res.body)
      // A group was tried and wrote nothing: one statement writing readings more than the requests.
      const written = ingests - before
      assert.ok(
        written > burst.length,
        `${burst.length} requests in ${written} transactions writing readings`,
      )
      const odds = burst[6] as Awaited<ReturnType<typeof post>>
      const neighbours = burst.filter((_, i) => i !== 6)
      for (const res of neighbours) assert.equal(res.statusCode, 200, res.body)
      const ids = neighbours.map((r) => r.json().results[0].id as string)
      assert.equal((await storedIds(ids)).size, ids.length, 'the neighbours are stored')
      // A refused request (429) is audited after its response, as every error answer is: wait for it.
      const requestIds = burst.map((r) => r.headers['x-request-id'] as string)
      let entries = await auditFor(requestIds)
      for (const deadline = Date.now() + 10_000; entries.length < burst.length && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        entries = await auditFor(requestIds)
      }
      assert.equal(entries.length, burst.length, 'one audit entry per request, the odd one included')
      return { odds, entries }
    }

    const duplicate = await run(() => post(grouped, 'bound', [again]))
    assert.equal(duplicate.odds.statusCode, 200)
    assert.equal(duplicate.odds.json().results[0].outcome, 'duplicate')
    assert.equal(duplicate.odds.json().results[0].id, dup)

    const conflicting = await run(() => post(grouped, 'bound', [changed]))
    assert.equal(conflicting.odds.json().results[0].outcome, 'rejected')
    assert.equal(conflicting.odds.json().results[0].conflictsWith, conflict)

    // One reading left today; the request that spends it also caches the device's principal again
    // (the quota's change dropped it), so the odd request below reaches the ingest with the others.
    await raw.query(
      'UPDATE devices SET daily_quota = 1 + (SELECT readings FROM device_daily_usage WHERE device_id = $1 AND day = current_date) WHERE id = $1',
      [w.devices.bound.id],
    )
    assert.equal((await post(grouped, 'bound', [reading()])).statusCode, 200)
    try {
      const before = await raw.query<{ n: number | string }>(
        'SELECT count(*) AS n FROM readings WHERE device_id = $1',
        [w.devices.bound.id],
      )
      const quota = await run(() => post(grouped, 'bound', [reading()]))
      assert.equal(quota.odds.statusCode, 429, quota.odds.body)
      const status = quota.entries.find((e) => e.request_id === quota.odds.headers['x-request-id'])?.status
      assert.equal(status, 429, 'the refused request is audited with its own status')
      const after = await raw.query<{ n: number | string }>(
        'SELECT count(*) AS n FROM readings WHERE device_id = $1',
        [w.devices.bound.id],
      )
      assert.equal(Number(after.rows[0]?.n), Number(before.rows[0]?.n), 'nothing of the refused request')
    } finally {
      await raw.query('UPDATE devices SET daily_quota = NULL WHERE id = $1', [w.devices.bound.id])
    }
  })

  test('[SRS-PERF-601] the database unavailable to requests that went on alone is the answer of the requests waiting behind them at once, not another deadline', async () => {
    const dupBound = reading({ id: 'gc-unavailable-bound' })
    const dupOther = reading({ id: 'gc-unavailable-other' })
    assert.equal((await post(grouped, 'bound', [dupBound])).statusCode, 200)
    assert.equal((await post(grouped, 'other', [dupOther])).statusCode, 200)
    // Both ingest slots taken by a duplicate each: its one statement writes nothing, and it goes on
    // alone, in a transaction, which finds the database unavailable.
    let release = () => {}
    held = new Promise<void>((resolve) => (release = resolve))
    const start = ingests
    const duplicates = Promise.all([post(grouped, 'bound', [dupBound]), post(grouped, 'other', [dupOther])])
    const deadline = Date.now() + 10_000
    while (ingests < start + 2) {
      if (Date.now() > deadline) throw new Error('the two duplicates did not reach the ingest')
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    held = undefined
    const count = async () =>
      Number(
        (
          await raw.query<{ n: number | string }>('SELECT count(*) AS n FROM readings WHERE device_id = $1', [
            w.devices.other.id,
          ])
        ).rows[0]?.n,
      )
    const before = await count()
    const waiting = Promise.all([0, 1].map(() => post(grouped, 'other', [reading()])))
    await new Promise((resolve) => setTimeout(resolve, 300)) // they reach the ingest and wait
    unavailableInTransactions = true
    try {
      release()
      for (const res of await duplicates) assert.equal(res.statusCode, 503, res.body)
      // Without the rule they would start once a slot is free, and (the one statement not being a
      // transaction) be stored: a second deadline on a database that is really down.
      for (const res of await waiting) {
        assert.equal(res.statusCode, 503, res.body)
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
        assert.ok(Number(res.headers['retry-after']) >= 1)
      }
      assert.equal(await count(), before, 'nothing of theirs written')
    } finally {
      unavailableInTransactions = false
    }
  })

  test('[SRS-PERF-600] the audit trail verifies after grouped writes', async () => {
    const res = await Promise.all(Array.from({ length: 16 }, () => post(grouped, 'other', [reading()])))
    for (const r of res) assert.equal(r.statusCode, 200)
    const verdict = await createAuditTrail({ db: raw }).verify()
    assert.equal(verdict.ok, true, JSON.stringify(verdict))
  })

  test('[SRS-PERF-600] entries recorded on one transaction in one tick are appended in one statement, in call order, on a stale guess too', async () => {
    const counted = countingDatabase(raw)
    const one = createAuditTrail({ db: counted.db, chains: 1 })
    const other = createAuditTrail({ db: raw, chains: 1 })
    const input = (requestId: string): AuditEntryInput => ({
      actorKind: 'system',
      action: 'group-commit.test',
      outcome: 'success',
      requestId,
    })
    const burst = async (trail: typeof one, tag: string) => {
      const entries = await counted.log.within(() =>
        counted.db.transaction((tx) =>
          Promise.all(Array.from({ length: 5 }, (_, i) => trail.record(input(`${tag}-${i}`), tx))),
        ),
      )
      const inserts = counted.log.statements.filter(isAppend).length
      return { entries, inserts }
    }
    const first = await burst(one, 'a') // no guess yet: the head read under lock, one insert
    assert.equal(first.inserts, 1)
    await other.record(input('b-0')) // moves the head behind the first trail's back
    const second = await burst(one, 'c') // a stale guess (nothing written), then under lock
    assert.equal(second.inserts, 2)
    for (const { entries } of [first, second]) {
      assert.deepEqual(
        entries.map((e) => e.seq),
        entries.map((_, i) => (entries[0]?.seq ?? 0) + i),
        'consecutive, in call order',
      )
      for (const [i, e] of entries.entries()) assert.ok(e.requestId?.endsWith(`-${i}`))
    }
    const stored = await raw.query<{ request_id: string; seq: number | string }>(
      "SELECT request_id, seq FROM audit_entries WHERE chain = 0 AND request_id LIKE 'c-%' ORDER BY seq",
    )
    assert.deepEqual(
      stored.rows.map((r) => r.request_id),
      ['c-0', 'c-1', 'c-2', 'c-3', 'c-4'],
    )
    const verdict = await one.verify()
    assert.equal(verdict.ok, true, JSON.stringify(verdict))
  })

  test('[SRS-PERF-602] a single reading is one statement; on a stale guess of the head it writes nothing and falls back to a transaction, answered and audited the same', async () => {
    const one = async () => {
      const res = await log.within(() => post(grouped, 'other', [reading()]))
      assert.equal(res.statusCode, 200, res.body)
      const entries = await auditFor([res.headers['x-request-id'] as string])
      assert.deepEqual(
        entries.map((e) => e.status),
        [200],
      )
      assert.equal((await storedIds([res.json().results[0].id])).size, 1)
      return [...log.statements]
    }
    // Warm, a single reading is one statement: readings, count, outbox row and entry together.
    let statements: string[] = []
    for (let i = 0; i < 10 && statements.length !== 1; i++) statements = await one()
    assert.deepEqual(statements.length, 1, statements.join('\n'))
    // Another writer appends to every chain behind the app's back: every guess the app holds is stale.
    await appendOnEveryChain(createAuditTrail({ db: raw }), 'stale')
    statements = await one()
    assert.match(
      statements[0] ?? '',
      /^WITH r AS \( INSERT INTO readings/,
      'the one statement was tried first',
    )
    assert.ok(statements.includes('BEGIN'), `then a transaction: ${statements.join(' | ')}`)
    const verdict = await createAuditTrail({ db: raw }).verify()
    assert.equal(verdict.ok, true, JSON.stringify(verdict))
  })
})
