// Retention per data class (`vigil retention run`): readings past RETENTION_READINGS_DAYS and
// spent credentials past RETENTION_TOKENS_DAYS are deleted; audit entries are NEVER deleted here
// (append-only, hash-chained; ADR-0006 addendum): the run only counts those past
// RETENTION_AUDIT_DAYS (at least six years). Each run that is not a dry run records one audit
// entry (`retention.run`, counts only — in the decision_rule column, no PHI).

import { countAuditEntriesBefore, type AuditTrail } from '../../audit/index.ts'
import type { Config } from '../../config/index.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import * as repo from './repository.ts'

export interface RetentionReport {
  readonly dryRun: boolean
  readonly cutoffs: { readonly readings: string; readonly tokens: string; readonly audit: string }
  readonly readings: number
  readonly tokens: {
    readonly oidcPayloads: number
    readonly emailVerificationTokens: number
    readonly passwordResetTokens: number
    readonly idempotencyKeys: number
    readonly loginThrottle: number
    readonly deviceDailyUsage: number
  }
  /** Audit entries older than the audit retention period: counted, kept (future: archived). */
  readonly auditPastRetention: number
}

const DAY_MS = 86_400_000

export async function runRetention(
  deps: { db: Database; audit: AuditTrail; retention: Config['retention']; clock?: () => Date },
  options: { dryRun?: boolean } = {},
): Promise<RetentionReport> {
  const now = (deps.clock ?? (() => new Date()))()
  const { readingsDays, tokensDays, auditDays } = deps.retention
  if (auditDays < 2190) throw new RangeError('RETENTION_AUDIT_DAYS must be at least 2190 (six years)')
  const readingsCutoff = new Date(now.getTime() - readingsDays * DAY_MS)
  const tokensCutoff = new Date(now.getTime() - tokensDays * DAY_MS)
  const auditCutoff = new Date(now.getTime() - auditDays * DAY_MS)
  const dryRun = options.dryRun === true

  // [class, WHERE clause over the cutoff $1]
  const classes = {
    readings: ['readings', 'effective_at < $1'],
    oidcPayloads: ['oidc_payloads', 'expires_at IS NOT NULL AND expires_at < $1'],
    emailVerificationTokens: ['email_verification_tokens', '(expires_at < $1 OR used_at < $1)'],
    passwordResetTokens: ['password_reset_tokens', '(expires_at < $1 OR used_at < $1)'],
    idempotencyKeys: ['idempotency_keys', 'expires_at < $1'],
    loginThrottle: ['login_throttle', 'last_failure_at < $1 AND (locked_until IS NULL OR locked_until < $1)'],
    // per-device daily quota counters (migration 0007): only today's row is ever read
    deviceDailyUsage: ['device_daily_usage', 'day < $1::date'],
  } as const
  const cutoffOf = (name: keyof typeof classes) => (name === 'readings' ? readingsCutoff : tokensCutoff)

  const run = async (q: Queryable) => {
    const n = {} as Record<keyof typeof classes, number>
    for (const [name, [table, where]] of Object.entries(classes) as [
      keyof typeof classes,
      readonly [string, string],
    ][]) {
      const cutoff = cutoffOf(name).toISOString()
      n[name] = dryRun
        ? await repo.countRows(q, table, where, cutoff)
        : await repo.deleteRows(q, table, where, cutoff)
    }
    const auditPastRetention = await countAuditEntriesBefore(q, auditCutoff.toISOString())
    const report: RetentionReport = {
      dryRun,
      cutoffs: {
        readings: readingsCutoff.toISOString(),
        tokens: tokensCutoff.toISOString(),
        audit: auditCutoff.toISOString(),
      },
      readings: n.readings,
      tokens: {
        oidcPayloads: n.oidcPayloads,
        emailVerificationTokens: n.emailVerificationTokens,
        passwordResetTokens: n.passwordResetTokens,
        idempotencyKeys: n.idempotencyKeys,
        loginThrottle: n.loginThrottle,
        deviceDailyUsage: n.deviceDailyUsage,
      },
      auditPastRetention,
    }
    if (!dryRun) {
      const tokens = Object.values(report.tokens).reduce((a, b) => a + b, 0)
      await deps.audit.record(
        {
          actorKind: 'system',
          action: 'retention.run',
          resourceType: 'RetentionRun',
          outcome: 'success',
          decisionRule: `readings=${report.readings} tokens=${tokens} audit-past-retention=${auditPastRetention}`,
        },
        q,
      )
    }
    return report
  }
  // The deletions and their audit entry commit together.
  return dryRun ? run(deps.db) : deps.db.transaction(run)
}
