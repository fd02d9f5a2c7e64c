// The audit trail through the real app and a real database (in-memory PGlite, or an isolated
// PostgreSQL schema): one entry per request, append-only, and — the acceptance property of
// issue 7 — any single modification, deletion, insertion, reordering or truncation of audit rows
// is detected by verification, also by the `vigil audit verify` process.

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import {
  createAuditTrail,
  entryHash,
  loadCheckpointSigner,
  type AuditEntry,
  type AuditTrail,
  type CheckpointSigner,
} from '../../src/audit/index.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { migrate, openDatabase, type Database, type Queryable } from '../../src/platform/db/index.ts'
import type { Principal } from '../../src/security/authn/index.ts'
import type { PolicyDecisionPoint } from '../../src/security/policy/index.ts'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { fixtureRoutes } from '../support/fixture-routes.ts'
import { childEnv, CLI_ARGS, removeDir, run, tempDir } from './server-process.ts'

interface Row {
  id: string
  chain: number
  seq: number
  actor_kind: string
  actor_id: string | null
  client_id: string | null
  ip: string | null
  user_agent: string | null
  action: string
  resource_type: string | null
  outcome: string
  status: number
  decision_rule: string | null
  consent_id: string | null
  request_id: string | null
  trace_id: string | null
}

/** An audit trail whose pending writes a test can wait for (the hook writes after the response). */
function settlingAudit(db: Database): { audit: AuditTrail; settle: () => Promise<void> } {
  const inner = createAuditTrail({ db, chains: 4 })
  const pending = new Set<Promise<unknown>>()
  return {
    audit: {
      ...inner,
      record(entry, tx) {
        const p = inner.record(entry, tx)
        pending.add(p)
        return p
      },
    },
    settle: async () => {
      await Promise.allSettled([...pending])
    },
  }
}

const USER: Principal = {
  kind: 'user',
  id: 'user-allowed',
  clientId: 'console',
  scopes: [],
  roles: ['clinician'],
}
const pdp: PolicyDecisionPoint = {
  decide: (principal) =>
    principal.id === USER.id
      ? { effect: 'permit', rule: 'test-allow', consentId: 'consent-1' }
      : { effect: 'deny', rule: 'test-deny' },
}

describe('[SRS-AUDIT-001] one audit entry per request', () => {
  let t: TestApp
  let drop: () => Promise<void>
  let settle: () => Promise<void>
  before(async () => {
    const isolated = await openIsolatedDatabase()
    drop = isolated.drop
    const s = settlingAudit(isolated.db)
    settle = s.settle
    t = await createTestApp({
      deps: {
        db: isolated.db,
        audit: s.audit,
        pdp,
        authenticate: async (request) => {
          const h = request.headers.authorization
          if (h === 'Bearer allowed') return USER
          if (h === 'Bearer other') return { ...USER, id: 'user-other', clientId: undefined }
          return null
        },
      },
      routes: [fixtureRoutes],
    })
  })
  after(async () => {
    await t.close()
    await drop()
  })

  async function entriesFor(requestId: string): Promise<Row[]> {
    await settle()
    const { rows } = await t.db.query<Row>('SELECT * FROM audit_entries WHERE request_id = $1', [requestId])
    return rows
  }

  async function call(
    method: 'GET' | 'POST',
    url: string,
    headers: Record<string, string> = {},
    body?: unknown,
  ) {
    const requestId = `audit-test-${randomUUID()}`
    const res = await t.app.inject({
      method,
      url,
      headers: { 'x-request-id': requestId, 'user-agent': 'vigil-test/1.0', ...headers },
      ...(body ? { payload: body as object } : {}),
    })
    const entries = await entriesFor(requestId)
    assert.equal(entries.length, 1, `exactly one entry for ${method} ${url} (${res.statusCode})`)
    return { res, entry: entries[0] as Row }
  }

  test('[SRS-AUDIT-001] 200 with a permit: actor, client, ip, user agent, action, outcome, status, rule, consent, request id', async () => {
    const { res, entry } = await call('GET', '/test/protected', { authorization: 'Bearer allowed' })
    assert.equal(res.statusCode, 200)
    assert.equal(entry.actor_kind, 'user')
    assert.equal(entry.actor_id, USER.id)
    assert.equal(entry.client_id, 'console')
    assert.equal(entry.ip, '127.0.0.1')
    assert.equal(entry.user_agent, 'vigil-test/1.0')
    assert.equal(entry.action, 'fixture.read')
    assert.equal(entry.resource_type, 'fixture')
    assert.equal(entry.outcome, 'success')
    assert.equal(entry.status, 200)
    assert.equal(entry.decision_rule, 'test-allow')
    assert.equal(entry.consent_id, 'consent-1')
    assert.equal(entry.request_id, res.headers['x-request-id'])
  })

  test('[SRS-AUDIT-001] 401 (no token) and 403 (policy denial) are recorded as denied', async () => {
    const anonymous = await call('GET', '/test/protected')
    assert.equal(anonymous.res.statusCode, 401)
    assert.equal(anonymous.entry.actor_kind, 'anonymous')
    assert.equal(anonymous.entry.actor_id, null)
    assert.equal(anonymous.entry.outcome, 'denied')
    assert.equal(anonymous.entry.status, 401)
    const denied = await call('GET', '/test/protected', { authorization: 'Bearer other' })
    assert.equal(denied.res.statusCode, 403)
    assert.equal(denied.entry.actor_id, 'user-other')
    assert.equal(denied.entry.outcome, 'denied')
    assert.equal(denied.entry.decision_rule, 'test-deny')
  })

  test('[SRS-AUDIT-001] 404, 400 and 500 are recorded, with the route pattern and never the query string or body', async () => {
    const missing = await call('GET', '/no/such/path?patient=Jane+Doe')
    assert.equal(missing.res.statusCode, 404)
    assert.equal(missing.entry.action, 'GET (unmatched)')
    assert.equal(missing.entry.outcome, 'failure')
    const invalid = await call(
      'POST',
      '/test/echo?name=Jane',
      { 'content-type': 'application/json' },
      { name: 'Jane Doe', count: 'x' },
    )
    assert.equal(invalid.res.statusCode, 400)
    assert.equal(invalid.entry.action, 'POST /test/echo')
    assert.equal(invalid.entry.status, 400)
    const boom = await call('GET', '/test/boom')
    assert.equal(boom.res.statusCode, 500)
    assert.equal(boom.entry.outcome, 'error')
    const { rows } = await t.db.query<{ n: number }>(
      "SELECT count(*)::int8 AS n FROM audit_entries WHERE concat_ws('|', action, resource_id, user_agent) ILIKE '%jane%'",
    )
    assert.equal(rows[0]?.n, 0, 'no query string or body value in the trail')
  })

  test('[SRS-AUDIT-001] the operational probes are not audited; the trail verifies', async () => {
    await settle()
    const count = async () =>
      (await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM audit_entries')).rows[0]?.n
    const before = await count()
    await t.app.inject({ method: 'GET', url: '/health/live' })
    await t.app.inject({ method: 'GET', url: '/metrics' })
    await settle()
    assert.equal(await count(), before)
    const { rows } = await t.db.query<{ occurred_at: Date }>('SELECT occurred_at FROM audit_entries LIMIT 1')
    assert.ok(rows[0]?.occurred_at instanceof Date)
    assert.equal((await createAuditTrail({ db: t.db }).verify()).ok, true)
  })
})

// ---------------------------------------------------------------------------------------------
// Tampering: one change to the audit rows, made by someone who bypasses the trigger
// ---------------------------------------------------------------------------------------------

const K = 4
const TEXT_COLUMNS = [
  'actor_id',
  'client_id',
  'ip',
  'user_agent',
  'action',
  'resource_type',
  'resource_id',
  'patient_id',
  'decision_rule',
  'consent_id',
  'request_id',
  'trace_id',
] as const
const COLUMNS = [
  'id',
  'chain',
  'seq',
  'occurred_at',
  'actor_kind',
  'outcome',
  'status',
  'break_glass',
  'prev_hash',
  'hash',
  ...TEXT_COLUMNS,
] as const

type Tamper =
  | { kind: 'modify'; row: number; column: (typeof COLUMNS)[number] }
  | { kind: 'delete'; row: number }
  | { kind: 'insert'; where: 'forged-append' | 'new-chain' | 'beyond-gap'; row: number }
  | { kind: 'reorder'; row: number; other: number }
  | { kind: 'truncate'; row: number; count: number }

const tamperArb: fc.Arbitrary<Tamper> = fc.oneof(
  fc.record({ kind: fc.constant('modify' as const), row: fc.nat(), column: fc.constantFrom(...COLUMNS) }),
  fc.record({ kind: fc.constant('delete' as const), row: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    where: fc.constantFrom('forged-append' as const, 'new-chain' as const, 'beyond-gap' as const),
    row: fc.nat(),
  }),
  fc.record({ kind: fc.constant('reorder' as const), row: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), row: fc.nat(), count: fc.integer({ min: 1, max: 5 }) }),
)

async function withTriggersOff<T>(db: Database, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    // ALTER TABLE is transactional: a failed tampering rolls the trigger back on too.
    await tx.query('ALTER TABLE audit_entries DISABLE TRIGGER USER')
    const result = await fn(tx)
    await tx.query('ALTER TABLE audit_entries ENABLE TRIGGER USER')
    return result
  })
}

async function allEntries(q: Queryable): Promise<{ id: string; chain: number; seq: number }[]> {
  return (
    await q.query<{ id: string; chain: number; seq: number }>(
      'SELECT id, chain, seq FROM audit_entries ORDER BY chain, seq',
    )
  ).rows
}

function changed(column: string, value: unknown): unknown {
  switch (column) {
    case 'id':
      return randomUUID()
    case 'chain':
      return K + 1 // a chain nobody writes to
    case 'seq':
      return Number(value) + 1000
    case 'occurred_at':
      return new Date((value as Date).getTime() + 1).toISOString()
    case 'actor_kind':
      return value === 'system' ? 'user' : 'system'
    case 'outcome':
      return value === 'success' ? 'denied' : 'success'
    case 'status':
      return value === 200 ? 201 : 200
    case 'break_glass':
      return !value
    case 'prev_hash':
    case 'hash':
      return (value as string).slice(0, 63) + ((value as string).endsWith('0') ? '1' : '0')
    default:
      return value === null ? 'x' : `${String(value)}x`
  }
}

/** Applies one tampering; returns the chain it touched. */
async function tamper(db: Database, t: Tamper): Promise<number> {
  return withTriggersOff(db, async (tx) => {
    const rows = await allEntries(tx)
    const target = rows[t.row % rows.length] as { id: string; chain: number; seq: number }
    const inChain = rows.filter((r) => r.chain === target.chain)
    switch (t.kind) {
      case 'modify': {
        const { rows: cur } = await tx.query<Record<string, unknown>>(
          `SELECT ${t.column} AS v FROM audit_entries WHERE id = $1`,
          [target.id],
        )
        await tx.query(`UPDATE audit_entries SET ${t.column} = $1 WHERE id = $2`, [
          changed(t.column, cur[0]?.v),
          target.id,
        ])
        return target.chain
      }
      case 'delete':
        await tx.query('DELETE FROM audit_entries WHERE id = $1', [target.id])
        return target.chain
      case 'truncate': {
        const last = inChain.slice(-t.count)
        await tx.query('DELETE FROM audit_entries WHERE id = ANY($1::uuid[])', [last.map((r) => r.id)])
        return target.chain
      }
      case 'reorder': {
        let other = inChain[t.other % inChain.length] as { id: string; seq: number }
        if (other.id === target.id)
          other = inChain[(t.other + 1) % inChain.length] as { id: string; seq: number }
        if (other.id === target.id) {
          // one entry only in this chain: move it instead
          await tx.query('UPDATE audit_entries SET seq = seq + 1 WHERE id = $1', [target.id])
          return target.chain
        }
        await tx.query('UPDATE audit_entries SET seq = 1000000 WHERE id = $1', [target.id])
        await tx.query('UPDATE audit_entries SET seq = $1 WHERE id = $2', [target.seq, other.id])
        await tx.query('UPDATE audit_entries SET seq = $1 WHERE id = $2', [other.seq, target.id])
        return target.chain
      }
      case 'insert': {
        // A well-formed, correctly hashed entry written by someone who knows the algorithm.
        const last = inChain.at(-1) as { seq: number }
        const { rows: prev } = await tx.query<{ hash: string }>(
          'SELECT hash FROM audit_entries WHERE chain = $1 AND seq = $2',
          [target.chain, last.seq],
        )
        const chain = t.where === 'new-chain' ? K + 2 : target.chain
        const seq = t.where === 'new-chain' ? 1 : t.where === 'forged-append' ? last.seq + 1 : last.seq + 2
        const body: Omit<AuditEntry, 'hash'> = {
          id: randomUUID(),
          chain,
          seq,
          occurredAt: new Date(),
          actorKind: 'user',
          actorId: 'intruder',
          clientId: null,
          ip: null,
          userAgent: null,
          action: 'fixture.read',
          resourceType: null,
          resourceId: null,
          patientId: null,
          outcome: 'success',
          status: 200,
          decisionRule: null,
          consentId: null,
          breakGlass: false,
          requestId: null,
          traceId: null,
          prevHash: t.where === 'new-chain' ? '0'.repeat(64) : (prev[0]?.hash ?? ''),
        }
        await tx.query(
          `INSERT INTO audit_entries (id, chain, seq, occurred_at, actor_kind, actor_id, action, outcome, status, break_glass, prev_hash, hash)
           VALUES ($1, $2, $3, $4::timestamptz, 'user', 'intruder', 'fixture.read', 'success', 200, false, $5, $6)`,
          [body.id, chain, seq, body.occurredAt.toISOString(), body.prevHash, entryHash(body)],
        )
        return chain
      }
    }
  })
}

/** Empties the trail (test set-up only, triggers bypassed). */
async function resetTrail(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('ALTER TABLE audit_entries DISABLE TRIGGER USER')
    await tx.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER USER')
    await tx.query('DELETE FROM audit_entries')
    await tx.query('DELETE FROM audit_checkpoints')
    await tx.query("UPDATE audit_chain_heads SET seq = 0, hash = repeat('0', 64)")
    await tx.query('ALTER TABLE audit_entries ENABLE TRIGGER USER')
    await tx.query('ALTER TABLE audit_checkpoints ENABLE TRIGGER USER')
  })
}

async function buildTrail(
  audit: AuditTrail,
  signer: CheckpointSigner,
  before: number,
  afterCheckpoint: number,
): Promise<void> {
  for (let i = 0; i < before; i++)
    await audit.record({
      actorKind: 'user',
      actorId: `u-${i % 3}`,
      action: 'fixture.read',
      outcome: 'success',
      status: 200,
      requestId: `req-${i}`,
      ...(i % 2 ? { patientId: 'p-1', userAgent: 'ua' } : {}),
    })
  await audit.checkpoint(signer)
  for (let i = 0; i < afterCheckpoint; i++)
    await audit.record({
      actorKind: 'device',
      actorId: 'd-1',
      action: 'fixture.write',
      outcome: 'denied',
      status: 403,
      requestId: `late-${i}`,
    })
}

describe('[SRS-AUDIT-003] tamper evidence', () => {
  let db: Database
  let drop: () => Promise<void>
  let signer: CheckpointSigner
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase())
    signer = await loadCheckpointSigner(db, createKeyring(TEST_KEYRING))
  })
  after(async () => drop())

  test('[SRS-AUDIT-003] property: any single modification, deletion, insertion, reordering or truncation of audit rows is detected', async () => {
    const audit = createAuditTrail({ db, chains: K })
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 0, max: 4 }),
        tamperArb,
        async (n, late, change) => {
          await resetTrail(db)
          await buildTrail(audit, signer, n, late)
          const intact = await audit.verify()
          assert.equal(intact.ok, true, `intact before tampering: ${JSON.stringify(intact)}`)
          const chain = await tamper(db, change)
          const result = await audit.verify()
          assert.equal(result.ok, false, `${JSON.stringify(change)} went undetected`)
          if (!result.ok && change.kind !== 'modify')
            assert.equal(
              result.firstBad.chain,
              chain,
              `the tampered chain is named: ${JSON.stringify(result.firstBad)}`,
            )
        },
      ),
      { numRuns: 40 },
    )
  })
})

describe('[SRS-AUDIT-003] `vigil audit verify`', () => {
  let dataDir: string
  after(() => removeDir(dataDir))

  test('[SRS-AUDIT-003] the CLI exits 0 on an intact trail and non-zero naming the first bad entry after a modification', async () => {
    dataDir = tempDir('audit-verify')
    const db = await openDatabase({ pgliteDir: dataDir })
    let badId: string
    let badChain: number
    let badSeq: number
    try {
      await migrate(db)
      const audit = createAuditTrail({
        db,
        chains: K,
        checkpointFile: path.join(dataDir, 'audit-checkpoints.jsonl'),
      })
      await buildTrail(audit, await loadCheckpointSigner(db, createKeyring(TEST_KEYRING)), 10, 2)
    } finally {
      await db.close()
    }
    const env = childEnv(dataDir)
    const ok = await run(process.execPath, [...CLI_ARGS, 'audit', 'verify'], { env })
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(
      ok.stdout,
      /^audit trail intact: 12 entries in \d chains, checkpoint [0-9a-f-]{36} of \S+ verified\n$/,
    )

    const again = await openDatabase({ pgliteDir: dataDir })
    try {
      const rows = await allEntries(again)
      const target = rows[3] as { id: string; chain: number; seq: number }
      ;({ id: badId, chain: badChain, seq: badSeq } = target)
      await withTriggersOff(again, (tx) =>
        tx.query("UPDATE audit_entries SET action = 'fixture.delete' WHERE id = $1", [badId]),
      )
    } finally {
      await again.close()
    }
    const bad = await run(process.execPath, [...CLI_ARGS, 'audit', 'verify'], { env })
    assert.equal(bad.code, 2)
    assert.ok(
      bad.stderr
        .split('\n')
        .includes(
          `vigil: audit trail NOT intact: first bad entry chain ${badChain} seq ${badSeq} (id ${badId}): hash-mismatch`,
        ),
      bad.stderr,
    )
  })
})
