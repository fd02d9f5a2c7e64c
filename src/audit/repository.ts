// SQL of the audit trail, and nothing else (conventions C8). The append takes the chain's head row
// lock, so appends to one chain are serialised and appends to different chains are not.

import { arrayParam, type Queryable } from '../platform/db/index.ts'
import { entryValues, type AuditEntry } from './entry.ts'

export interface EntryRow {
  id: string
  chain: number
  seq: number
  occurred_at: Date | string
  actor_kind: string
  actor_id: string | null
  client_id: string | null
  ip: string | null
  user_agent: string | null
  action: string
  resource_type: string | null
  resource_id: string | null
  patient_id: string | null
  outcome: string
  status: number | null
  decision_rule: string | null
  consent_id: string | null
  break_glass: boolean
  request_id: string | null
  trace_id: string | null
  prev_hash: string
  hash: string
}

export interface ChainHead {
  readonly chain: number
  readonly seq: number
  readonly hash: string
}

export interface StoredCheckpoint {
  readonly id: string
  readonly createdAt: Date
  readonly heads: Record<string, { seq: number; hash: string }>
  readonly signature: string
  readonly kid: string
}

/** Every column of audit_entries, in the entry's field order. */
export const ENTRY_COLUMNS =
  'id, chain, seq, occurred_at, actor_kind, actor_id, client_id, ip, user_agent, action, resource_type, resource_id, patient_id, outcome, status, decision_rule, consent_id, break_glass, request_id, trace_id, prev_hash, hash'

export function toEntry(r: EntryRow): AuditEntry {
  return {
    id: r.id,
    chain: Number(r.chain),
    seq: Number(r.seq),
    occurredAt: r.occurred_at instanceof Date ? r.occurred_at : new Date(r.occurred_at),
    actorKind: r.actor_kind,
    actorId: r.actor_id,
    clientId: r.client_id,
    ip: r.ip,
    userAgent: r.user_agent,
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    patientId: r.patient_id,
    outcome: r.outcome,
    status: r.status === null ? null : Number(r.status),
    decisionRule: r.decision_rule,
    consentId: r.consent_id,
    breakGlass: r.break_glass,
    requestId: r.request_id,
    traceId: r.trace_id,
    prevHash: r.prev_hash,
    hash: r.hash,
  }
}

/** Locks the chain's head row until the transaction ends and returns it. */
export async function lockHead(tx: Queryable, chain: number): Promise<ChainHead> {
  const { rows } = await tx.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_chain_heads WHERE chain = $1 FOR UPDATE',
    [chain],
  )
  const row = rows[0]
  if (!row) throw new Error(`audit chain ${chain} has no head row (migration 0004 creates chains 0-63)`)
  return { chain, seq: Number(row.seq), hash: row.hash }
}

/** Inserts the entry and moves the head in one statement (one round trip). */
export async function appendEntry(tx: Queryable, e: AuditEntry): Promise<void> {
  await tx.query(
    `WITH entry AS (
       INSERT INTO audit_entries (${ENTRY_COLUMNS})
       VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
       RETURNING chain, seq, hash
     )
     UPDATE audit_chain_heads h SET seq = entry.seq, hash = entry.hash FROM entry WHERE h.chain = entry.chain`,
    [...entryValues(e), e.hash],
  )
}

/** Every column of audit_entries as typed parameters $1…$22, for INSERT … SELECT (no target types to infer from). */
const TYPED_VALUES =
  '$1::uuid, $2::smallint, $3::bigint, $4::timestamptz, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text, $12::text, $13::text, $14::text, $15::integer, $16::text, $17::text, $18::boolean, $19::text, $20::text, $21::text, $22::text'

/**
 * The append in one round trip when the caller knows the chain's head (ADR-0029): moves the head
 * from (seq − 1, prev_hash) to the entry and inserts the entry, only if the head is still there —
 * a compare-and-set on the head row, which takes the same row lock a `SELECT … FOR UPDATE` would.
 * A concurrent append holding the lock makes this wait, then re-check on the head it committed.
 * False when the head had moved (or the holder rolled back): nothing was written.
 */
export async function appendEntryIfHead(tx: Queryable, e: AuditEntry): Promise<boolean> {
  const { rowCount } = await tx.query(
    `WITH head AS (
       UPDATE audit_chain_heads SET seq = $3::bigint, hash = $22::text WHERE chain = $2::smallint AND seq = $3::bigint - 1 AND hash = $21::text RETURNING chain
     )
     INSERT INTO audit_entries (${ENTRY_COLUMNS}) SELECT ${TYPED_VALUES} FROM head`,
    [...entryValues(e), e.hash],
  )
  return rowCount === 1
}

export async function readHeads(db: Queryable): Promise<ChainHead[]> {
  const { rows } = await db.query<{ chain: number; seq: number; hash: string }>(
    'SELECT chain, seq, hash FROM audit_chain_heads WHERE seq > 0 ORDER BY chain',
  )
  return rows.map((r) => ({ chain: Number(r.chain), seq: Number(r.seq), hash: r.hash }))
}

export async function readChains(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ chain: number }>(
    'SELECT chain FROM audit_chain_heads WHERE seq > 0 UNION SELECT DISTINCT chain FROM audit_entries ORDER BY chain',
  )
  return rows.map((r) => Number(r.chain))
}

/** One page of a chain, by seq. */
export async function readChainPage(
  db: Queryable,
  chain: number,
  afterSeq: number,
  limit: number,
): Promise<AuditEntry[]> {
  const { rows } = await db.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM audit_entries WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [chain, afterSeq, limit],
  )
  return rows.map(toEntry)
}

export async function insertCheckpoint(db: Queryable, c: StoredCheckpoint): Promise<void> {
  await db.query(
    'INSERT INTO audit_checkpoints (id, created_at, heads, signature, kid) VALUES ($1, $2::timestamptz, $3, $4, $5)',
    [c.id, c.createdAt.toISOString(), JSON.stringify(c.heads), c.signature, c.kid],
  )
}

export async function latestCheckpoint(db: Queryable): Promise<StoredCheckpoint | undefined> {
  const { rows } = await db.query<{
    id: string
    created_at: Date | string
    heads: StoredCheckpoint['heads']
    signature: string
    kid: string
  }>(
    'SELECT id, created_at, heads, signature, kid FROM audit_checkpoints ORDER BY created_at DESC, id DESC LIMIT 1',
  )
  const r = rows[0]
  if (!r) return undefined
  return {
    id: r.id,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
    heads: r.heads,
    signature: r.signature,
    kid: r.kid,
  }
}

export async function readPublicKey(db: Queryable, kid: string): Promise<string | undefined> {
  const { rows } = await db.query<{ public_key: string }>(
    'SELECT public_key FROM audit_signing_keys WHERE kid = $1',
    [kid],
  )
  return rows[0]?.public_key
}

export async function readCurrentSigningKey(
  db: Queryable,
): Promise<{ kid: string; privateKeySealed: string; publicKey: string } | undefined> {
  const { rows } = await db.query<{ kid: string; private_key_sealed: string; public_key: string }>(
    'SELECT kid, private_key_sealed, public_key FROM audit_signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1',
  )
  const r = rows[0]
  return r ? { kid: r.kid, privateKeySealed: r.private_key_sealed, publicKey: r.public_key } : undefined
}

export async function insertSigningKey(
  db: Queryable,
  key: { kid: string; publicKey: string; privateKeySealed: string },
): Promise<void> {
  await db.query('INSERT INTO audit_signing_keys (kid, public_key, private_key_sealed) VALUES ($1, $2, $3)', [
    key.kid,
    key.publicKey,
    key.privateKeySealed,
  ])
}

/** Retires the current checkpoint key (its public key stays, so its checkpoints keep verifying). */
export async function retireCurrentSigningKeys(tx: Queryable): Promise<void> {
  await tx.query('UPDATE audit_signing_keys SET retired_at = now() WHERE retired_at IS NULL')
}

/** The verifier reads one consistent snapshot of the trail and writes nothing (first statement of its transaction). */
export async function readOnlySnapshot(tx: Queryable): Promise<void> {
  await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY')
}

/** Entries older than the cutoff, for the retention report: counted, never deleted (ADR-0006 addendum). */
export async function countEntriesBefore(q: Queryable, cutoff: string): Promise<number> {
  const { rows } = await q.query<{ n: number | string }>(
    'SELECT count(*) AS n FROM audit_entries WHERE occurred_at < $1',
    [cutoff],
  )
  return Number(rows[0]?.n ?? 0)
}

/** The SQL type of each column of ENTRY_COLUMNS, in order (the hash last). */
const ENTRY_TYPES = TYPED_VALUES.split(', ').map((v) => v.slice(v.indexOf('::') + 2))

/**
 * The append of consecutive entries of one chain as two CTEs for a statement of the caller's
 * (ADR-0036), parameters appended to `params`: `audit_head` moves the head by compare-and-set from
 * the first entry's predecessor to the last entry, `audit_appended` inserts the entries only if it
 * did. `appended` is the SQL condition that holds when every entry was written.
 */
export function appendEntriesCtes(
  entries: readonly AuditEntry[],
  params: unknown[],
): { ctes: string; appended: string } {
  const first = entries[0] as AuditEntry
  const last = entries.at(-1) as AuditEntry
  const p = (value: unknown) => `$${params.push(value)}`
  const head = `UPDATE audit_chain_heads SET seq = ${p(last.seq)}::bigint, hash = ${p(last.hash)}::text WHERE chain = ${p(first.chain)}::smallint AND seq = ${p(first.seq - 1)}::bigint AND hash = ${p(first.prevHash)}::text RETURNING chain`
  const rows = entries.map((e) => [...entryValues(e), e.hash])
  const arrays = ENTRY_TYPES.map(
    (type, k) =>
      `${p(
        arrayParam(rows, (row) => {
          const v = row[k]
          return typeof v === 'boolean' ? String(v) : (v as string | number | null)
        }),
      )}::${type}[]`,
  )
  return {
    ctes: `audit_head AS (${head}), audit_appended AS (INSERT INTO audit_entries (${ENTRY_COLUMNS}) SELECT u.* FROM audit_head, unnest(${arrays.join(', ')}) AS u RETURNING 1)`,
    appended: `(SELECT count(*) FROM audit_appended) = ${entries.length}`,
  }
}

/**
 * Several consecutive entries of one chain in one round trip (ADR-0036): appendEntriesCtes alone.
 * False when the head had moved: nothing was written.
 */
export async function appendEntriesIfHead(tx: Queryable, entries: readonly AuditEntry[]): Promise<boolean> {
  if (entries.length === 0) return true
  const params: unknown[] = []
  const { ctes, appended } = appendEntriesCtes(entries, params)
  const { rows } = await tx.query<{ appended: boolean }>(
    `WITH ${ctes} SELECT ${appended} AS appended`,
    params,
  )
  return rows[0]?.appended === true
}
