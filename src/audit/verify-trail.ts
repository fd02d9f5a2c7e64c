// Verification: every chain recomputed from seq 1 — seq continuity, prev_hash links, hashes —
// then checked against the latest signed checkpoint (from the database, and the exported copy
// when given): a valid signature, and every checkpointed head still present with the same hash,
// so a rewrite or truncation of what was checkpointed is found. All reads run in one
// REPEATABLE READ snapshot, so appends committed meanwhile cannot look like damage.

import type { Database, Queryable } from '../platform/db/index.ts'
import { checkpointPayload, type Checkpoint } from './checkpoint.ts'
import { verifySignature } from './checkpoint-key.ts'
import { entryHash, GENESIS_HASH, type AuditEntry } from './entry.ts'
import {
  latestCheckpoint,
  readChainPage,
  readChains,
  readHeads,
  readOnlySnapshot,
  readPublicKey,
} from './repository.ts'

export type VerifyFailureReason =
  | 'hash-mismatch' // the row's content no longer hashes to its stored hash
  | 'reordered' // the row hashes correctly only under another seq: it was moved
  | 'broken-link' // prev_hash is not the previous entry's hash
  | 'missing-entry' // a gap in the chain's seqs, or the head row is beyond the last entry
  | 'unexpected-entry' // an entry beyond the chain's head row: appended outside the trail
  | 'head-mismatch' // the chain's head row disagrees with its last entry
  | 'truncated-since-checkpoint' // the chain ends before the checkpointed head
  | 'checkpoint-mismatch' // the entry at the checkpointed seq has another hash
  | 'checkpoint-signature-invalid' // the checkpoint's signature does not verify (or its key is unknown)

export interface FirstBad {
  readonly chain: number | null
  readonly seq: number | null
  /** The entry's id, when the bad entry exists (not for a missing one). */
  readonly id: string | null
  readonly reason: VerifyFailureReason
  readonly checkpointId?: string
}

export type VerifyResult =
  | {
      readonly ok: true
      readonly entries: number
      readonly chains: number
      readonly checkpoint: { readonly id: string; readonly createdAt: Date } | null
    }
  | { readonly ok: false; readonly firstBad: FirstBad }

const PAGE = 5_000
/** How many other seqs are tried to tell a moved row from an edited one (failure path only). */
const REORDER_SEARCH_LIMIT = 100_000

function movedFrom(row: AuditEntry, maxSeq: number): boolean {
  const top = Math.min(maxSeq, REORDER_SEARCH_LIMIT)
  for (let s = 1; s <= top; s++) if (s !== row.seq && entryHash({ ...row, seq: s }) === row.hash) return true
  return false
}

async function checkSignatures(
  q: Queryable,
  checkpoints: readonly Checkpoint[],
): Promise<FirstBad | undefined> {
  for (const cp of checkpoints) {
    const publicKey = await readPublicKey(q, cp.kid)
    if (!publicKey || !verifySignature(publicKey, checkpointPayload(cp), cp.signature)) {
      return { chain: null, seq: null, id: null, reason: 'checkpoint-signature-invalid', checkpointId: cp.id }
    }
  }
  return undefined
}

export async function verifyTrail(db: Database, external: readonly Checkpoint[] = []): Promise<VerifyResult> {
  return db.transaction(async (q) => {
    await readOnlySnapshot(q)
    const stored = await latestCheckpoint(q)
    const checkpoints = [...(stored ? [stored] : []), ...external.filter((e) => e.id !== stored?.id)]
    const badSignature = await checkSignatures(q, checkpoints)
    if (badSignature) return { ok: false, firstBad: badSignature }

    const heads = new Map((await readHeads(q)).map((h) => [h.chain, h]))
    const chainSet = new Set(await readChains(q))
    for (const cp of checkpoints) for (const c of Object.keys(cp.heads)) chainSet.add(Number(c))
    const chains = [...chainSet].sort((a, b) => a - b)

    let entries = 0
    for (const chain of chains) {
      const head = heads.get(chain)
      const pinned = checkpoints.flatMap((cp) =>
        cp.heads[String(chain)] ? [{ cp, ...cp.heads[String(chain)]! }] : [],
      )
      const maxSeq = Math.max(head?.seq ?? 0, ...pinned.map((p) => p.seq))
      const bad = (
        seq: number | null,
        id: string | null,
        reason: VerifyFailureReason,
        checkpointId?: string,
      ): VerifyResult => ({
        ok: false,
        firstBad: { chain, seq, id, reason, ...(checkpointId ? { checkpointId } : {}) },
      })

      let expected = 1
      let prev = GENESIS_HASH
      let beyondHead: AuditEntry | undefined
      for (;;) {
        const page = await readChainPage(q, chain, expected - 1, PAGE)
        for (const row of page) {
          if (row.seq !== expected) return bad(expected, null, 'missing-entry')
          if (entryHash(row) !== row.hash)
            return bad(
              row.seq,
              row.id,
              movedFrom(row, Math.max(maxSeq, row.seq + PAGE)) ? 'reordered' : 'hash-mismatch',
            )
          if (row.prevHash !== prev) return bad(row.seq, row.id, 'broken-link')
          for (const p of pinned)
            if (p.seq === row.seq && p.hash !== row.hash)
              return bad(row.seq, row.id, 'checkpoint-mismatch', p.cp.id)
          if (row.seq === (head?.seq ?? 0) + 1) beyondHead = row
          prev = row.hash
          expected++
        }
        if (page.length < PAGE) break
      }
      const last = expected - 1
      entries += last
      for (const p of pinned)
        if (p.seq > last) return bad(last + 1, null, 'truncated-since-checkpoint', p.cp.id)
      const headSeq = head?.seq ?? 0
      if (headSeq > last) return bad(last + 1, null, 'missing-entry')
      if (headSeq < last) return bad(headSeq + 1, beyondHead?.id ?? null, 'unexpected-entry')
      if (head && head.hash !== prev) return bad(last, null, 'head-mismatch')
    }
    const latest = checkpoints.reduce<Checkpoint | undefined>(
      (a, b) => (!a || b.createdAt > a.createdAt ? b : a),
      undefined,
    )
    return {
      ok: true,
      entries,
      chains: chains.length,
      checkpoint: latest ? { id: latest.id, createdAt: latest.createdAt } : null,
    }
  })
}
