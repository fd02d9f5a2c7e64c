// Reading a request's audit entries in tests: the per-request entry is written just after the
// response, so wait (briefly) until at least `count` are there.
import type { Database } from '../../src/platform/db/index.ts'

export interface AuditRow {
  action: string
  outcome: string
  break_glass: boolean
  patient_id: string | null
  consent_id: string | null
  decision_rule: string | null
  resource_id: string | null
}

export async function auditEntriesOf(db: Database, requestId: string, count = 1): Promise<AuditRow[]> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.query<AuditRow>(
      'SELECT action, outcome, break_glass, patient_id, consent_id, decision_rule, resource_id FROM audit_entries WHERE request_id = $1 ORDER BY chain, seq',
      [requestId],
    )
    if (rows.length >= count) return rows
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`fewer than ${count} audit entries for ${requestId}`)
}
