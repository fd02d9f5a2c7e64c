// The audit trail on the engine under test (in-memory PGlite, or an isolated PostgreSQL schema):
// appends link into chains, commit with the caller's transaction, checkpoints are signed and
// exported, the table refuses UPDATE, DELETE and TRUNCATE, and K writers append at once.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { openIsolatedDatabase } from '../support/app.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { createAuditTrail } from '../../src/audit/audit-trail.ts'
import { loadCheckpointSigner } from '../../src/audit/checkpoint-key.ts'
import { readLastCheckpointLine } from '../../src/audit/checkpoint.ts'
import { GENESIS_HASH, type AuditEntryInput } from '../../src/audit/entry.ts'

const ENTRY: AuditEntryInput = {
  actorKind: 'user',
  actorId: 'u-1',
  action: 'fixture.read',
  outcome: 'success',
  status: 200,
}

describe('audit trail', () => {
  let db: Database
  let drop: () => Promise<void>
  let dir: string
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase())
    dir = await mkdtemp(path.join(tmpdir(), 'vigil-audit-'))
  })
  after(async () => {
    await drop()
    await rm(dir, { recursive: true, force: true })
  })

  test('[SRS-AUDIT-003] entries of one request id link into one chain from the genesis hash; verify recomputes them', async () => {
    const audit = createAuditTrail({ db, chains: 4 })
    const first = await audit.record({ ...ENTRY, requestId: 'req-link-1' })
    const second = await audit.record({ ...ENTRY, requestId: 'req-link-1', status: 201 })
    assert.equal(second.chain, first.chain)
    assert.equal(second.seq, first.seq + 1)
    assert.equal(second.prevHash, first.hash)
    if (first.seq === 1) assert.equal(first.prevHash, GENESIS_HASH)
    const result = await audit.verify()
    assert.equal(result.ok, true, JSON.stringify(result))
  })

  test("[SRS-AUDIT-001] record(entry, tx) commits and rolls back with the caller's transaction", async () => {
    const audit = createAuditTrail({ db, chains: 4 })
    const count = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM audit_entries')).rows[0]?.n ?? 0
    const before = await count()
    await assert.rejects(
      db.transaction(async (tx) => {
        await audit.record({ ...ENTRY, requestId: 'req-rollback' }, tx)
        throw new Error('the change failed')
      }),
      /the change failed/,
    )
    assert.equal(await count(), before, 'no entry without its change')
    await db.transaction(async (tx) => {
      const a = await audit.record({ ...ENTRY, action: 'fixture.write' }, tx)
      const b = await audit.record({ ...ENTRY, action: 'fixture.write' }, tx)
      assert.equal(b.chain, a.chain, 'entries of one transaction share a chain (no lock-order deadlock)')
    })
    assert.equal(await count(), before + 2)
    assert.equal((await audit.verify()).ok, true)
  })

  test('[SRS-AUDIT-003] a checkpoint signs every head with Ed25519, is stored, and appended to the export file', async () => {
    const file = path.join(dir, 'cp', 'checkpoints.jsonl')
    const logged: unknown[] = []
    const audit = createAuditTrail({
      db,
      chains: 4,
      checkpointFile: file,
      onCheckpoint: (c) => logged.push(c),
    })
    await audit.record({ ...ENTRY, requestId: 'req-cp' })
    const signer = await loadCheckpointSigner(db, createKeyring(TEST_KEYRING))
    const again = await loadCheckpointSigner(db, createKeyring(TEST_KEYRING))
    assert.equal(again.kid, signer.kid, 'one key, created once')
    const cp = await audit.checkpoint(signer)
    assert.equal(cp.kid, signer.kid)
    assert.match(cp.signature, /^[A-Za-z0-9_-]{86}$/, '64-byte Ed25519 signature, base64url')
    const { rows } = await db.query<{ seq: number; hash: string; chain: number }>(
      'SELECT chain, seq, hash FROM audit_chain_heads WHERE seq > 0',
    )
    for (const r of rows) assert.deepEqual(cp.heads[String(r.chain)], { seq: r.seq, hash: r.hash })
    const line = JSON.parse((await readFile(file, 'utf8')).trim()) as { id: string; publicKey: string }
    assert.equal(line.id, cp.id)
    assert.equal(line.publicKey, signer.publicKey)
    assert.deepEqual(logged, [cp])
    const exported = await readLastCheckpointLine(file)
    const result = await audit.verify({ external: exported ? [exported] : [] })
    assert.ok(result.ok && result.checkpoint?.id === cp.id, JSON.stringify(result))
    const { rows: keys } = await db.query<{ private_key_sealed: string }>(
      'SELECT private_key_sealed FROM audit_signing_keys',
    )
    assert.ok(
      keys.every((k) => k.private_key_sealed.startsWith('v1.')),
      'the private key is sealed by the keyring',
    )
  })

  test('[SRS-AUDIT-027] AUDIT_CHECKPOINT_COMMAND receives each signed checkpoint as a JSON line on stdin; a failing command fails the call but keeps the checkpoint', async () => {
    const received = path.join(dir, 'shipped.jsonl')
    const ship = path.join(dir, 'ship.sh')
    await writeFile(ship, `#!/bin/sh\ncat >> '${received}'\n`, { mode: 0o700 })
    const signer = await loadCheckpointSigner(db, createKeyring(TEST_KEYRING))
    await createAuditTrail({ db, chains: 4 }).record({ ...ENTRY, requestId: 'req-ship' })
    const cp = await createAuditTrail({ db, chains: 4, checkpointCommand: ship }).checkpoint(signer)
    const shipped = JSON.parse((await readFile(received, 'utf8')).trim()) as {
      id: string
      signature: string
      heads: unknown
    }
    assert.deepEqual(
      shipped,
      JSON.parse(JSON.stringify(cp)),
      'the command got the very checkpoint, signature included',
    )

    const failing = path.join(dir, 'fail.sh')
    await writeFile(failing, '#!/bin/sh\ncat > /dev/null\nexit 3\n', { mode: 0o700 })
    const before = Number(
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_checkpoints')).rows[0]?.n,
    )
    await assert.rejects(
      createAuditTrail({ db, chains: 4, checkpointCommand: failing }).checkpoint(signer),
      /AUDIT_CHECKPOINT_COMMAND failed: exit 3/,
    )
    const afterCount = Number(
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_checkpoints')).rows[0]?.n,
    )
    assert.equal(afterCount, before + 1, 'the checkpoint is stored even when shipping it failed')
  })

  test('[SRS-AUDIT-003] a forged checkpoint signature is reported', async () => {
    const audit = createAuditTrail({ db, chains: 4 })
    const signer = await loadCheckpointSigner(db, createKeyring(TEST_KEYRING))
    const cp = await audit.checkpoint({ ...signer, sign: () => Buffer.alloc(64, 1).toString('base64url') })
    const result = await audit.verify()
    assert.deepEqual(result, {
      ok: false,
      firstBad: {
        chain: null,
        seq: null,
        id: null,
        reason: 'checkpoint-signature-invalid',
        checkpointId: cp.id,
      },
    })
    await audit.checkpoint(signer) // a good one is the latest again
    assert.equal((await audit.verify()).ok, true)
  })

  test('[SRS-AUDIT-002] UPDATE, DELETE and TRUNCATE of audit entries and checkpoints are refused by a trigger', async () => {
    const audit = createAuditTrail({ db, chains: 4 })
    const e = await audit.record({ ...ENTRY, requestId: 'req-append-only' })
    await assert.rejects(
      db.query("UPDATE audit_entries SET action = 'x.y' WHERE id = $1", [e.id]),
      /append-only: UPDATE on audit_entries refused/,
    )
    await assert.rejects(
      db.query('DELETE FROM audit_entries WHERE id = $1', [e.id]),
      /append-only: DELETE on audit_entries refused/,
    )
    await assert.rejects(db.query('TRUNCATE audit_entries'), /append-only: TRUNCATE on audit_entries refused/)
    await assert.rejects(
      db.query('DELETE FROM audit_checkpoints'),
      /append-only: DELETE on audit_checkpoints refused/,
    )
    const { rows } = await db.query<{ action: string }>('SELECT action FROM audit_entries WHERE id = $1', [
      e.id,
    ])
    assert.equal(rows[0]?.action, ENTRY.action)
  })

  test('[SRS-AUDIT-004] 8 concurrent writers x 50 entries over 8 chains: every chain gapless and verified', async () => {
    const audit = createAuditTrail({ db, chains: 8 })
    const before = await db.query<{ chain: number; seq: number }>('SELECT chain, seq FROM audit_chain_heads')
    const start = new Map(before.rows.map((r) => [Number(r.chain), Number(r.seq)]))
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 50; i++)
          await audit.record({ ...ENTRY, actorId: `writer-${w}`, requestId: `req-w${w}-${i}` })
      }),
    )
    const { rows } = await db.query<{ chain: number; n: number; min: number; max: number }>(
      'SELECT chain, count(*)::int8 AS n, min(seq)::int8 AS min, max(seq)::int8 AS max FROM audit_entries GROUP BY chain',
    )
    let added = 0
    for (const r of rows) {
      assert.equal(r.min, 1, `chain ${r.chain} starts at 1`)
      assert.equal(r.max, r.n, `chain ${r.chain} has no gap`)
      added += r.n - (start.get(Number(r.chain)) ?? 0)
    }
    assert.equal(added, 400)
    assert.ok(
      rows.filter((r) => r.n > (start.get(Number(r.chain)) ?? 0)).length >= 4,
      'the writers used several chains',
    )
    const result = await audit.verify()
    assert.equal(result.ok, true, JSON.stringify(result))
  })
})
