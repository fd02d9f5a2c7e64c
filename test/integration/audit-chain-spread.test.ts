// ADR-0038: a process's appends do not queue on one chain's head. An append takes the chain its
// request maps to unless another append of the same process is in flight on it, then the next
// chain none is on; only when every chain is busy do appends share one. The server's default K
// (32) has a head row for every chain. Each case would fail if appends went back to the request's
// chain alone (every entry below would land on one chain) or if the default outgrew the heads.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openIsolatedDatabase } from '../support/app.ts'
import { appendOnEveryChain } from '../support/audit-heads.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { chainFor, createAuditTrail, DEFAULT_CHAINS, MAX_CHAINS } from '../../src/audit/audit-trail.ts'
import type { AuditEntryInput } from '../../src/audit/entry.ts'

const ENTRY: AuditEntryInput = {
  actorKind: 'user',
  actorId: 'u-1',
  action: 'device-data.read',
  outcome: 'success',
  status: 200,
}

describe('audit appends spread over free chains', () => {
  let db: Database
  let drop: () => Promise<void>
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase({ poolMax: 8 }))
  })
  after(() => drop())

  test('[SRS-PERF-605] concurrent standalone appends of one process mapped to one chain each take a chain none of the others is on, until every chain is busy', async () => {
    const trail = createAuditTrail({ db, chains: 4 })
    // Every entry names the same request, so every one prefers the same chain.
    const preferred = chainFor('same-request', 4)
    const first = await Promise.all(
      Array.from({ length: 4 }, () => trail.record({ ...ENTRY, requestId: 'same-request' })),
    )
    assert.deepEqual(
      first.map((e) => e.chain).sort(),
      [0, 1, 2, 3],
      'four appends in flight on four chains, one each',
    )
    assert.equal(first[0]?.chain, preferred, 'the first takes the chain its request maps to')
    // Six on four chains: every chain is used; the two left over share.
    const second = await Promise.all(
      Array.from({ length: 6 }, () => trail.record({ ...ENTRY, requestId: 'same-request' })),
    )
    assert.deepEqual([...new Set(second.map((e) => e.chain))].sort(), [0, 1, 2, 3])
    // Once nothing is in flight, an append goes back to its request's chain.
    assert.equal((await trail.record({ ...ENTRY, requestId: 'same-request' })).chain, preferred)
    const verdict = await trail.verify()
    assert.equal(verdict.ok, true, JSON.stringify(verdict))
    assert.equal(verdict.ok && verdict.entries, 11)
  })

  test('[SRS-PERF-605] an append prepared for another statement is in flight until settled: appends and other preparations avoid its chain', async () => {
    const trail = createAuditTrail({ db, chains: 4 })
    const requestId = 'prepared-request'
    const preferred = chainFor(requestId, 4)
    await appendOnEveryChain(trail) // its head known on every chain, so prepareAppend can build on any
    const prepared = trail.prepareAppend([{ ...ENTRY, requestId }])
    assert.ok(prepared)
    assert.equal(prepared.entries[0]?.chain, preferred)
    const other = trail.prepareAppend([{ ...ENTRY, requestId }])
    assert.ok(other)
    assert.notEqual(other.entries[0]?.chain, preferred, 'a second preparation takes another chain')
    const standalone = trail.record({ ...ENTRY, requestId })
    // Neither prepared statement is sent here: the standalone append must not build on their heads.
    prepared.settle(false)
    prepared.settle(false) // settling twice releases the chain once
    other.settle(false)
    const entry = await standalone
    assert.notEqual(entry.chain, preferred)
    assert.notEqual(entry.chain, other.entries[0]?.chain)
    const verdict = await trail.verify()
    assert.equal(verdict.ok, true, JSON.stringify(verdict))
  })

  test(`[SRS-PERF-605] the default K is ${DEFAULT_CHAINS}, and every one of its chains takes appends and verifies`, async () => {
    const trail = createAuditTrail({ db })
    assert.equal(trail.chains, DEFAULT_CHAINS)
    assert.ok(DEFAULT_CHAINS <= MAX_CHAINS)
    await appendOnEveryChain(trail, 'every')
    const heads = await db.query<{ chain: number }>(
      'SELECT chain FROM audit_chain_heads WHERE seq > 0 ORDER BY chain',
    )
    assert.deepEqual(
      heads.rows.map((r) => Number(r.chain)),
      Array.from({ length: DEFAULT_CHAINS }, (_, i) => i),
    )
    const verdict = await trail.verify()
    assert.equal(verdict.ok, true, JSON.stringify(verdict))
  })
})
