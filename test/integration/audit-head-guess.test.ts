// Issue 17 (ADR-0029): the audit append guesses its chain's head (one statement instead of a
// locked read and a write). Guesses go wrong when another instance appends to the chain, when two
// appends of this process race, or when an append's transaction rolls back; every case must still
// give one unbroken chain that verifies, with no entry lost and none written twice.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openIsolatedDatabase } from '../support/app.ts'
import { countingDatabase } from '../support/counting-db.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { createAuditTrail } from '../../src/audit/audit-trail.ts'
import type { AuditEntryInput } from '../../src/audit/entry.ts'

const ENTRY: AuditEntryInput = {
  actorKind: 'device',
  actorId: 'd-1',
  action: 'device-data.write',
  outcome: 'success',
  status: 200,
}

describe('audit append with a guessed head', () => {
  let db: Database
  let drop: () => Promise<void>
  /** The trail verifies, and chain 0 holds seq 1…n without a gap or a repeat; returns its seqs. */
  async function chainVerifiesUnbroken(trail: ReturnType<typeof createAuditTrail>): Promise<number[]> {
    const result = await trail.verify()
    assert.equal(result.ok, true, JSON.stringify(result))
    const seqs = (
      await db.query<{ seq: number }>('SELECT seq FROM audit_entries WHERE chain = 0 ORDER BY seq')
    ).rows.map((r) => Number(r.seq))
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
      'seq 1…n without a gap or a repeat',
    )
    return seqs
  }
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase({ poolMax: 8 }))
  })
  after(() => drop())

  test('[SRS-PERF-584] two instances appending to one chain, concurrent appends and a rolled-back append leave one chain that verifies, every committed entry in it once', async () => {
    const one = createAuditTrail({ db, chains: 1 })
    const two = createAuditTrail({ db, chains: 1 })
    const count = async () =>
      Number((await db.query<{ n: number | string }>('SELECT count(*) AS n FROM audit_entries')).rows[0]?.n)
    const before = await count()
    // Alternating instances: each one's guess is stale every time (the other moved the head).
    for (let i = 0; i < 6; i++) await (i % 2 === 0 ? one : two).record({ ...ENTRY, requestId: `alt-${i}` })
    // A rolled-back append: its guess names an entry that never committed.
    await assert.rejects(
      db.transaction(async (tx) => {
        await one.record({ ...ENTRY, requestId: 'rolled-back' }, tx)
        throw new Error('roll back')
      }),
    )
    // Concurrent appends from both instances, inside transactions as the ingest makes them.
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        db.transaction((tx) => (i % 3 === 0 ? two : one).record({ ...ENTRY, requestId: `conc-${i}` }, tx)),
      ),
    )
    assert.equal(await count(), before + 30)
    const seqs = await chainVerifiesUnbroken(one)
    assert.equal(
      await count(),
      seqs.length +
        Number(
          (await db.query<{ n: number }>('SELECT count(*) AS n FROM audit_entries WHERE chain <> 0')).rows[0]
            ?.n,
        ),
    )
  })

  test('[SRS-PERF-594] a standalone append on a right guess is one statement with no BEGIN or COMMIT; stale guesses from two instances, standalone and concurrent, still leave one chain that verifies', async () => {
    const { db: counted, log } = countingDatabase(db)
    const one = createAuditTrail({ db: counted, chains: 1 })
    const two = createAuditTrail({ db, chains: 1 })
    await one.record({ ...ENTRY, requestId: 'standalone-first' }) // no guess yet: the locked read
    for (let i = 0; i < 3; i++) {
      log.reset()
      await one.record({ ...ENTRY, requestId: `standalone-${i}` })
      assert.equal(log.statements.length, 1, log.statements.join('\n'))
      assert.match(log.statements[0] ?? '', /^WITH head AS \( UPDATE audit_chain_heads/)
    }
    // The other instance moves the head: the next guess is wrong, writes nothing, and the append
    // falls back to the locked read in a transaction of its own.
    await two.record({ ...ENTRY, requestId: 'other-instance' })
    log.reset()
    await one.record({ ...ENTRY, requestId: 'after-other' })
    assert.deepEqual(
      log.statements.map((l) => l.slice(0, 24)),
      [
        'WITH head AS ( UPDATE au',
        'BEGIN',
        '[tx] SELECT seq, hash FR',
        '[tx] WITH entry AS ( INS',
        'COMMIT/ROLLBACK',
      ],
    )
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? one : two).record({ ...ENTRY, requestId: `race-${i}` }),
      ),
    )
    await chainVerifiesUnbroken(two)
    const raced = await db.query<{ n: number | string }>(
      "SELECT count(*) AS n FROM audit_entries WHERE request_id LIKE 'race-%'",
    )
    assert.equal(Number(raced.rows[0]?.n), 30, 'every append once')
  })
})
