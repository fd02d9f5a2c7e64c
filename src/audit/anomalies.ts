// Anomaly detection over the audit trail (issue 7; ADR-0006 addendum "Anomaly detection"): rules
// that turn patterns of entries into security events — failed-login bursts per account and per
// address, one user touching many patients, a login from an address never seen for the account,
// break-glass use, bursts of denials.
//
// Exactly once per burst, on any number of runs and instances: an event is keyed by the id of the
// entry that crossed the threshold, and "crossed" depends on the trail alone, never on where a run
// started. Entry i (of one subject, in (occurred_at, id) order) is over the threshold when its
// window (t_i − W, t_i] holds ≥ N entries (or distinct patients); it crosses when it is over and
// no earlier entry of its own window was. A burst therefore raises one event however long it
// lasts; a new one needs a full window without the threshold being met. Deciding that for an entry
// needs the 2W before it, so each run reads from (high-water mark − settle margin − 2W) and
// evaluates the entries from (high-water mark − settle margin); the margin catches entries
// committed late with an earlier time. UNIQUE (kind, subject, window_key) makes the insert of an
// event a no-op for every run but the first that sees it.

import { randomUUID } from 'node:crypto'
import type { Queryable } from '../platform/db/index.ts'
import * as repo from './anomalies.repository.ts'
import type { RuleRow } from './anomalies.repository.ts'

export type SecurityEventKind =
  'failed-logins' | 'failed-logins-ip' | 'many-patients' | 'new-login-ip' | 'break-glass' | 'forbidden-burst'

export interface Threshold {
  readonly count: number
  readonly windowSeconds: number
}

export interface AnomalyThresholds {
  /** Failed or refused logins of one account (default 5 in 60 s). */
  readonly failedLoginsPerAccount: Threshold
  /** Failed or refused login attempts from one address (default 20 in 60 s). */
  readonly failedLoginsPerIp: Threshold
  /** Distinct patients one user touched (default 50 in 600 s). */
  readonly distinctPatients: Threshold
  /** 403s and concealed (404) denials of one actor (default 20 in 60 s). */
  readonly forbiddenBurst: Threshold
  /** Break-glass use by one user for one patient: one event per episode of this length (default 3600 s). */
  readonly breakGlassEpisodeSeconds: number
}

export const DEFAULT_THRESHOLDS: AnomalyThresholds = {
  failedLoginsPerAccount: { count: 5, windowSeconds: 60 },
  failedLoginsPerIp: { count: 20, windowSeconds: 60 },
  distinctPatients: { count: 50, windowSeconds: 600 },
  forbiddenBurst: { count: 20, windowSeconds: 60 },
  breakGlassEpisodeSeconds: 3600,
}

export interface RaisedSecurityEvent {
  readonly id: string
  readonly kind: SecurityEventKind
  readonly subject: string
  readonly windowStart: Date
  readonly windowKey: string
  /** Identifiers and counts only. */
  readonly details: Record<string, unknown>
  readonly createdAt: Date
}

export interface DetectOptions {
  readonly clock?: () => Date
  readonly thresholds?: AnomalyThresholds
  /** Entries committed up to this many seconds after a run, with an earlier time, are still seen (default 120). */
  readonly settleSeconds?: number
  /** Without a high-water mark yet, the first run looks this far back (default one day). */
  readonly initialLookbackSeconds?: number
}

/** One row a rule works on: an entry, the subject it counts for, and (distinct rules) what is counted. */
export type { RuleRow }

export interface Crossing {
  readonly group: string
  readonly entryId: string
  readonly at: Date
  readonly windowStart: Date
  readonly firstEntryId: string
  readonly measure: number
}

/**
 * The crossings of a threshold in rows sorted by (at, id). `distinct`: count distinct values, not
 * entries. Only crossings at or after `evaluateFrom` are returned (earlier rows are context).
 */
export function findCrossings(
  rows: readonly RuleRow[],
  threshold: Threshold,
  options: { distinct?: boolean; evaluateFrom: Date },
): Crossing[] {
  const windowMs = threshold.windowSeconds * 1000
  const byGroup = new Map<string, RuleRow[]>()
  for (const r of rows) {
    const list = byGroup.get(r.group)
    if (list) list.push(r)
    else byGroup.set(r.group, [r])
  }
  const out: Crossing[] = []
  for (const [group, list] of byGroup) {
    let left = 0
    const values = new Map<string, number>()
    let lastOver: number | undefined
    for (let i = 0; i < list.length; i++) {
      const row = list[i] as RuleRow
      const t = row.at.getTime()
      if (options.distinct && row.value) values.set(row.value, (values.get(row.value) ?? 0) + 1)
      while ((list[left] as RuleRow).at.getTime() <= t - windowMs) {
        const gone = list[left] as RuleRow
        if (options.distinct && gone.value) {
          const n = (values.get(gone.value) ?? 0) - 1
          if (n <= 0) values.delete(gone.value)
          else values.set(gone.value, n)
        }
        left++
      }
      const measure = options.distinct ? values.size : i - left + 1
      if (measure < threshold.count) continue
      const crosses = lastOver === undefined || lastOver <= t - windowMs
      lastOver = t
      if (crosses && t >= options.evaluateFrom.getTime()) {
        const first = list[left] as RuleRow
        out.push({
          group,
          entryId: row.id,
          at: row.at,
          windowStart: first.at,
          firstEntryId: first.id,
          measure,
        })
      }
    }
  }
  return out
}

interface Candidate {
  readonly kind: SecurityEventKind
  readonly subject: string
  readonly windowStart: Date
  readonly windowKey: string
  readonly details: Record<string, unknown>
}

const CURSOR = 'trail'

const before = (from: Date, windowSeconds: number): Date =>
  new Date(from.getTime() - 2 * windowSeconds * 1000)

async function countRule(
  q: Queryable,
  kind: SecurityEventKind,
  threshold: Threshold,
  evaluateFrom: Date,
  load: (q: Queryable, from: Date, minimum: number) => Promise<RuleRow[]>,
  distinct = false,
): Promise<Candidate[]> {
  const rows = await load(q, before(evaluateFrom, threshold.windowSeconds), threshold.count)
  return findCrossings(rows, threshold, { distinct, evaluateFrom }).map((c) => ({
    kind,
    subject: c.group,
    windowStart: c.windowStart,
    windowKey: c.entryId,
    details: {
      [distinct ? 'distinctPatients' : 'count']: c.measure,
      windowSeconds: threshold.windowSeconds,
      firstEntryId: c.firstEntryId,
      crossingEntryId: c.entryId,
    },
  }))
}

/**
 * Every rule over the entries from `evaluateFrom` (with the look-back each needs), one rule after
 * another: `q` may be the pool, and a run must not take a connection per rule from the requests.
 */
export async function evaluateRules(
  q: Queryable,
  evaluateFrom: Date,
  t: AnomalyThresholds,
): Promise<Candidate[]> {
  const rules: (() => Promise<Candidate[]>)[] = [
    () => countRule(q, 'failed-logins', t.failedLoginsPerAccount, evaluateFrom, repo.failedLoginEntries),
    // One attempt leaves an entry per counter it touched (address and account): count requests.
    () => countRule(q, 'failed-logins-ip', t.failedLoginsPerIp, evaluateFrom, repo.failedLoginRequestsByIp),
    () => countRule(q, 'many-patients', t.distinctPatients, evaluateFrom, repo.patientAccessEntries, true),
    () => countRule(q, 'forbidden-burst', t.forbiddenBurst, evaluateFrom, repo.forbiddenEntries),
    // Break-glass: a threshold of one, per user and patient; one event per episode.
    async () => {
      const threshold = { count: 1, windowSeconds: t.breakGlassEpisodeSeconds }
      const rows = await repo.breakGlassEntries(q, before(evaluateFrom, threshold.windowSeconds), 1)
      return findCrossings(rows, threshold, { evaluateFrom }).map((c) => {
        const [actor = '', patient = ''] = c.group.split('|')
        return {
          kind: 'break-glass',
          subject: actor,
          windowStart: c.at,
          windowKey: c.entryId,
          details: { patientId: patient || null, entryId: c.entryId },
        }
      })
    },
    // A successful login from an address this account never logged in from before (and it has logged in before).
    async () =>
      (await repo.newIpLogins(q, evaluateFrom)).map((r) => ({
        kind: 'new-login-ip',
        subject: r.actorId,
        windowStart: r.at,
        windowKey: r.id,
        details: { ip: r.ip, entryId: r.id },
      })),
  ]
  const out: Candidate[] = []
  for (const rule of rules) out.push(...(await rule()))
  return out
}

/**
 * One run: evaluates the entries since the high-water mark (less the settle margin), stores the
 * events not stored before and returns only those (so only the run that raised an event logs and
 * delivers it), and moves the mark.
 */
export async function detectAnomalies(
  db: Queryable,
  options: DetectOptions = {},
): Promise<RaisedSecurityEvent[]> {
  const now = (options.clock ?? (() => new Date()))()
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS
  const highWater =
    (await repo.readHighWater(db, CURSOR)) ??
    new Date(now.getTime() - (options.initialLookbackSeconds ?? 86_400) * 1000)
  const evaluateFrom = new Date(highWater.getTime() - (options.settleSeconds ?? 120) * 1000)

  const candidates = await evaluateRules(db, evaluateFrom, thresholds)
  const raised: RaisedSecurityEvent[] = []
  for (const c of candidates) {
    const stored = await repo.insertSecurityEvent(db, { ...c, id: randomUUID() }, now)
    if (stored) raised.push({ ...c, id: stored.id, createdAt: stored.createdAt })
  }
  await repo.advanceHighWater(db, CURSOR, now)
  return raised
}
