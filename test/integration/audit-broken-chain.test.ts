// A chain whose next slot is already taken — a row inserted behind the trail's back, or a partial
// restore — must not make every append to it fail (and with it every request whose audit entry
// hashes to it, the auditor's verification included): appends move to a sound chain, the chain
// is reported once, and the verification still names the forged row.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { openIsolatedDatabase } from '../support/app.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { chainFor, createAuditTrail } from '../../src/audit/audit-trail.ts'
import type { AuditEntryInput } from '../../src/audit/entry.ts'

const ENTRY: AuditEntryInput = { actorKind: 'system', action: 'test.entry', outcome: 'success' }

describe('an audit chain with an entry its head does not know', () => {
  let db: Database
  let drop: () => Promise<void>
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase())
  })
  after(() => drop())

  test('[SRS-AUDIT-028] appends hashed to the broken chain land on another chain, the chain is reported once, and verification names the forged row', async () => {
    const chains = 4
    const reported: number[] = []
    const trail = createAuditTrail({ db, chains, onBrokenChain: (c) => reported.push(c) })
    // Request ids that all hash to chain 1.
    const ids: string[] = []
    for (let i = 0; ids.length < 6; i++) if (chainFor(`req-${i}`, chains) === 1) ids.push(`req-${i}`)
    const first = await trail.record({ ...ENTRY, requestId: ids[0] as string })
    assert.equal(first.chain, 1)
    const forged = randomUUID()
    await db.query(
      `INSERT INTO audit_entries (id, chain, seq, occurred_at, actor_kind, action, outcome, prev_hash, hash)
       VALUES ($1, 1, $2, now(), 'user', 'patients.read', 'success', $3, $4)`,
      [forged, first.seq + 1, '0'.repeat(64), 'f'.repeat(64)],
    )

    // Standalone appends (as a read's audit entry is written) keep working, on another chain.
    const moved = []
    for (const requestId of ids.slice(1)) moved.push(await trail.record({ ...ENTRY, requestId }))
    for (const e of moved) assert.notEqual(e.chain, 1)
    assert.deepEqual(reported, [1], 'the broken chain is reported once')
    // Appends inside a caller's transaction avoid the known-broken chain too.
    const inTx = await db.transaction((tx) => trail.record({ ...ENTRY, requestId: ids[1] as string }, tx))
    assert.notEqual(inTx.chain, 1)

    // Every moved entry is stored once; the broken chain is left as found.
    const { rows } = await db.query<{ n: number | string }>(
      'SELECT count(*) AS n FROM audit_entries WHERE id = ANY($1::uuid[])',
      [[...moved, inTx].map((e) => e.id)],
    )
    assert.equal(Number(rows[0]?.n), moved.length + 1)
    const verdict = await trail.verify()
    assert.ok(!verdict.ok, 'the forged row breaks the trail')
    assert.equal(verdict.firstBad.chain, 1)
    assert.equal(verdict.firstBad.id, forged)

    // A second instance (its own process memory) finds the same and reports it for itself.
    const otherReported: number[] = []
    const other = createAuditTrail({ db, chains, onBrokenChain: (c) => otherReported.push(c) })
    assert.notEqual((await other.record({ ...ENTRY, requestId: ids[2] as string })).chain, 1)
    assert.deepEqual(otherReported, [1])
  })
})
