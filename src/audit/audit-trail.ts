// The audit trail: append (record), sign the heads (checkpoint), verify. See ADR-0006: K
// independent hash chains, so K writers append at once instead of queueing on one head row, and
// signed checkpoints exported outside the database anchor all chains together.

import { randomInt } from 'node:crypto'
import type { Database, Queryable } from '../platform/db/index.ts'
import {
  appendCheckpointLine,
  checkpointPayload,
  runCheckpointCommand,
  toExported,
  type Checkpoint,
  type CheckpointHeads,
  type ExportedCheckpoint,
} from './checkpoint.ts'
import type { CheckpointSigner } from './checkpoint-key.ts'
import { entryHash, truncateUserAgent, type AuditEntry, type AuditEntryInput } from './entry.ts'
import { uuidv7 } from './entry-id.ts'
import {
  appendEntriesIfHead,
  appendEntry,
  appendEntryIfHead,
  insertCheckpoint,
  lockHead,
  readHeads,
  type ChainHead,
} from './repository.ts'
import { verifyTrail, type VerifyResult } from './verify-trail.ts'

export const MAX_CHAINS = 64 // migration 0004 creates head rows 0-63
/** K when the caller does not say: enough that a process's appends rarely share a head (ADR-0038). */
export const DEFAULT_CHAINS = 32

export interface AuditTrail {
  readonly chains: number
  /** Appends one entry. With tx, inside the caller's transaction: the change and its entry commit
   * (or roll back) together; the chain's head stays locked until that transaction ends. Entries
   * recorded on one transaction in the same tick (concurrent calls, as a group commit makes them)
   * are appended together in one statement, in call order (ADR-0036). */
  record(entry: AuditEntryInput, tx?: Queryable): Promise<AuditEntry>
  /**
   * Entries built on this process's guess of a chain's head, for a statement of the caller's that
   * appends them with its own writes (appendEntriesCtes; ADR-0036); undefined when there is no
   * guess yet. The caller then calls settle: true once the statement committed (the guess moves
   * on), false if it did not (the guess is dropped; the next append reads the head under lock).
   */
  prepareAppend(
    inputs: readonly AuditEntryInput[],
  ): { entries: AuditEntry[]; settle(committed: boolean): void } | undefined
  /** Signs every chain's head, stores the checkpoint and exports it (file and/or log). */
  checkpoint(signer: CheckpointSigner): Promise<ExportedCheckpoint>
  /** Recomputes every chain; `external` adds checkpoints kept outside the database. */
  verify(options?: { external?: readonly Checkpoint[] }): Promise<VerifyResult>
}

export interface AuditTrailDeps {
  readonly db: Database
  readonly clock?: () => Date
  /** K: how many independent chains entries spread over (1-64; DEFAULT_CHAINS when absent). */
  readonly chains?: number
  /** Each checkpoint is appended to this file as one JSON line. */
  readonly checkpointFile?: string | undefined
  /** Each checkpoint is also handed here (the server logs it). */
  readonly onCheckpoint?: (c: ExportedCheckpoint) => void
  /** An executable given each checkpoint as a JSON line on stdin (AUDIT_CHECKPOINT_COMMAND). */
  readonly checkpointCommand?: string | undefined
  /** Told once per chain found holding an entry its head does not know (the server logs it). */
  readonly onBrokenChain?: (chain: number) => void
}

/** A unique violation on audit_entries: the slot after the head is already taken. */
function slotTaken(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505'
}

/** FNV-1a over the request id: the chain a request's entries take when no other append of the process is on it (ADR-0038). */
export function chainFor(requestId: string, chains: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < requestId.length; i++) {
    h ^= requestId.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % chains
}

export function createAuditTrail(deps: AuditTrailDeps): AuditTrail {
  const { db } = deps
  const clock = deps.clock ?? (() => new Date())
  const chains = deps.chains ?? DEFAULT_CHAINS
  if (!Number.isInteger(chains) || chains < 1 || chains > MAX_CHAINS)
    throw new RangeError(`audit chains must be an integer from 1 to ${MAX_CHAINS}`)
  // Several entries in one caller transaction go to one chain: taking two head locks in varying
  // order across transactions could deadlock.
  const txChain = new WeakMap<Queryable, number>()

  // The head each chain had after this process's latest append to it (ADR-0029): a guess, checked
  // by the database. Right, the append is one statement; wrong (another instance appended, or our
  // append rolled back), nothing is written and the append locks and reads the head as before.
  const heads = new Map<number, ChainHead>()
  // Chains with an append of this process in flight, and how many: a standalone append from its
  // statement's sending to its answer, a prepared one (prepareAppend) until it is settled, an append
  // in a transaction while its statement runs. A new append takes a chain none is on, so appends of
  // one process do not queue on one head's row lock, each waiting for the other's commit (ADR-0038).
  const inFlight = new Map<number, number>()
  const occupy = (chain: number): void => {
    inFlight.set(chain, (inFlight.get(chain) ?? 0) + 1)
  }
  const release = (chain: number): void => {
    const n = (inFlight.get(chain) ?? 1) - 1
    if (n > 0) inFlight.set(chain, n)
    else inFlight.delete(chain)
  }
  // Chains holding an entry their head does not know — a row slipped in behind the trail's back,
  // or a partial restore. Every append to such a chain fails on the taken slot; standalone
  // appends go to the next sound chain instead, so the trail stays writable (and an auditor can
  // still run the verification that names the bad entry). The chain itself is left as found.
  const broken = new Set<number>()
  /** The first chain from `preferred` on that is sound and not in `busy`; undefined if none is. */
  const usableChain = (preferred: number, busy?: { has(chain: number): boolean }): number | undefined => {
    for (let i = 0; i < chains; i++) {
      const c = (preferred + i) % chains
      if (!broken.has(c) && !busy?.has(c)) return c
    }
    return undefined
  }
  /** The first sound chain from `preferred` on with no append of this process in flight; else the first sound one. */
  const freeChain = (preferred: number): number =>
    usableChain(preferred, inFlight) ?? usableChain(preferred) ?? preferred
  /** The head an entry leaves its chain at. */
  const headAfter = (e: AuditEntry): ChainHead => ({ chain: e.chain, seq: e.seq, hash: e.hash })

  /** The append on this process's guess of the head: one statement, or undefined when the guess was wrong (nothing written). */
  async function appendOnGuess(
    q: Queryable,
    input: AuditEntryInput,
    chain: number,
  ): Promise<AuditEntry | undefined> {
    const guess = heads.get(chain)
    if (!guess) return undefined
    const entry = build(input, chain, guess)
    heads.set(chain, headAfter(entry))
    return (await appendEntryIfHead(q, entry)) ? entry : undefined
  }

  /** The append on the head read under lock, held until q's transaction ends. */
  async function appendLocked(q: Queryable, input: AuditEntryInput, chain: number): Promise<AuditEntry> {
    const entry = build(input, chain, await lockHead(q, chain))
    await appendEntry(q, entry)
    heads.set(chain, headAfter(entry))
    return entry
  }

  async function append(q: Queryable, input: AuditEntryInput, chain: number): Promise<AuditEntry> {
    return (await appendOnGuess(q, input, chain)) ?? appendLocked(q, input, chain)
  }

  /** Consecutive entries built on `head`, each on the one before. */
  function buildAll(inputs: readonly AuditEntryInput[], chain: number, head: ChainHead): AuditEntry[] {
    const entries: AuditEntry[] = []
    let at = head
    for (const input of inputs) {
      const entry = build(input, chain, at)
      entries.push(entry)
      at = headAfter(entry)
    }
    return entries
  }

  /** Several entries on one chain in one statement: on the guess, else on the head read under lock. */
  async function appendAll(
    q: Queryable,
    inputs: readonly AuditEntryInput[],
    chain: number,
  ): Promise<AuditEntry[]> {
    if (inputs.length === 1) return [await append(q, inputs[0] as AuditEntryInput, chain)]
    const guess = heads.get(chain)
    if (guess) {
      const entries = buildAll(inputs, chain, guess)
      heads.set(chain, headAfter(entries.at(-1) as AuditEntry))
      if (await appendEntriesIfHead(q, entries)) return entries
    }
    const entries = buildAll(inputs, chain, await lockHead(q, chain))
    if (!(await appendEntriesIfHead(q, entries)))
      throw new Error(`audit chain ${chain}: the locked head moved`)
    heads.set(chain, headAfter(entries.at(-1) as AuditEntry))
    return entries
  }

  // The entries recorded on a transaction in the current tick, appended together once it ends.
  type Pending = Array<{
    input: AuditEntryInput
    resolve: (e: AuditEntry) => void
    reject: (err: unknown) => void
  }>
  const pending = new WeakMap<Queryable, Pending>()
  function appendInTick(tx: Queryable, input: AuditEntryInput, chain: number): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      let batch = pending.get(tx)
      if (!batch) {
        const started: Pending = []
        batch = started
        pending.set(tx, started)
        queueMicrotask(() => {
          pending.delete(tx)
          occupy(chain)
          appendAll(
            tx,
            started.map((p) => p.input),
            chain,
          )
            .finally(() => release(chain))
            .then(
              (entries) => started.forEach((p, i) => p.resolve(entries[i] as AuditEntry)),
              (err: unknown) => started.forEach((p) => p.reject(err)),
            )
        })
      }
      batch.push({ input, resolve, reject })
    })
  }

  function build(input: AuditEntryInput, chain: number, head: ChainHead): AuditEntry {
    const now = clock()
    const body = {
      id: uuidv7(now),
      chain,
      seq: head.seq + 1,
      occurredAt: now,
      actorKind: input.actorKind,
      actorId: input.actorId ?? null,
      clientId: input.clientId ?? null,
      ip: input.ip ?? null,
      userAgent: truncateUserAgent(input.userAgent),
      action: input.action,
      resourceType: input.resourceType ?? null,
      resourceId: input.resourceId ?? null,
      patientId: input.patientId ?? null,
      outcome: input.outcome,
      status: input.status ?? null,
      decisionRule: input.decisionRule ?? null,
      consentId: input.consentId ?? null,
      breakGlass: input.breakGlass ?? false,
      requestId: input.requestId ?? null,
      traceId: input.traceId ?? null,
      prevHash: head.hash,
    }
    return { ...body, hash: entryHash(body) }
  }

  return {
    chains,
    async record(input, tx) {
      const preferred = input.requestId ? chainFor(input.requestId, chains) : randomInt(chains)
      if (tx) {
        let chain = txChain.get(tx)
        if (chain === undefined) {
          chain = freeChain(preferred)
          txChain.set(tx, chain)
        }
        return appendInTick(tx, input, chain)
      }
      for (;;) {
        const chain = freeChain(preferred)
        occupy(chain)
        try {
          // Standalone, a right guess is one autocommit statement (the head's move and the entry
          // commit together: one statement is atomic), with no BEGIN and COMMIT around it; a wrong
          // one wrote nothing, and the append takes the head's lock in a transaction of its own.
          return (
            (await appendOnGuess(db, input, chain)) ??
            (await db.transaction((q) => appendLocked(q, input, chain)))
          )
        } catch (err) {
          heads.delete(chain)
          if (!slotTaken(err) || broken.has(chain) || broken.size >= chains - 1) throw err
          broken.add(chain)
          deps.onBrokenChain?.(chain)
        } finally {
          release(chain)
        }
      }
    },

    prepareAppend(inputs) {
      const first = inputs[0]
      if (!first) return undefined
      // A chain no other append of this process is in flight on: two statements built one on the
      // other could reach the database in either order, and the second would find the head stale.
      const chain = usableChain(
        first.requestId ? chainFor(first.requestId, chains) : randomInt(chains),
        inFlight,
      )
      const guess = chain === undefined ? undefined : heads.get(chain)
      if (chain === undefined || !guess) return undefined
      const entries = buildAll(inputs, chain, guess)
      // Moved now, so an append in a transaction on this chain builds on it (the database orders them).
      heads.set(chain, headAfter(entries.at(-1) as AuditEntry))
      occupy(chain)
      let settled = false
      return {
        entries,
        settle(committed) {
          if (settled) return
          settled = true
          release(chain)
          if (!committed) heads.delete(chain)
        },
      }
    },

    async checkpoint(signer) {
      const heads: CheckpointHeads = {}
      for (const h of await readHeads(db)) heads[String(h.chain)] = { seq: h.seq, hash: h.hash }
      const createdAt = clock()
      const id = uuidv7(createdAt)
      const cp: Checkpoint = {
        id,
        createdAt,
        heads,
        kid: signer.kid,
        signature: signer.sign(checkpointPayload({ id, createdAt, heads })),
      }
      await insertCheckpoint(db, cp)
      const exported = toExported(cp, signer.publicKey)
      if (deps.checkpointFile) await appendCheckpointLine(deps.checkpointFile, exported)
      deps.onCheckpoint?.(exported)
      // Last: a failing command leaves the checkpoint stored and in the file, and makes this call
      // fail so the caller (the interval, the CLI) reports it.
      if (deps.checkpointCommand) await runCheckpointCommand(deps.checkpointCommand, exported)
      return exported
    },

    verify(options) {
      return verifyTrail(db, options?.external ?? [])
    },
  }
}
