// Erasure by crypto-shredding (ADR-0009): every data key of the patient is destroyed in one
// transaction with the erased_at mark and the audit entry, so no erasure exists without its entry.
// The rows stay (pseudonymous ids keep the audit trail and references whole); their sealed values
// can no longer be opened here, nor in any backup taken after the erasure. A backup taken before
// it still holds the wrapped key, readable with the root key of that time: ADR-0009 sets the rule
// (rotate the root key and destroy the old one once such backups expire).

import type { AuditTrail } from '../../audit/index.ts'
import type { ActorKind } from '../../audit/index.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import type { PatientService } from '../patients/index.ts'

export interface ErasureActor {
  readonly kind: ActorKind
  readonly id?: string | null
  readonly clientId?: string | null
  readonly requestId?: string | null
  readonly ip?: string | null
}

export type ErasureResult =
  | { readonly status: 'erased'; readonly erasedAt: Date }
  | { readonly status: 'already-erased'; readonly erasedAt: Date }
  | { readonly status: 'not-found' }

export async function erasePatient(
  ctx: { db: Database; audit: AuditTrail; patients: Pick<PatientService, 'erase' | 'erasedAt'> },
  patientId: string,
  actor: ErasureActor,
  /** An HTTP request's own entry, written in the erasure's transaction instead of a separate one (ADR-0006: one entry per request). */
  recordRequestEntry?: (tx: Queryable) => Promise<void>,
): Promise<ErasureResult> {
  return ctx.db.transaction(async (tx) => {
    const before = await ctx.patients.erasedAt(patientId, tx, { forUpdate: true })
    if (before === undefined) return { status: 'not-found' } as const
    if (before !== null) return { status: 'already-erased', erasedAt: before } as const
    await ctx.patients.erase(patientId, tx)
    // Sessions and tokens of the patient's own login would only reach a concealed record now;
    // the account itself is left to the account-deletion process (not PHI: email, password hash).
    const erasedAt = (await ctx.patients.erasedAt(patientId, tx)) as Date
    if (recordRequestEntry) {
      await recordRequestEntry(tx)
    } else {
      await ctx.audit.record(
        {
          actorKind: actor.kind,
          actorId: actor.id ?? null,
          clientId: actor.clientId ?? null,
          requestId: actor.requestId ?? null,
          ip: actor.ip ?? null,
          action: 'patient.erase',
          resourceType: 'Patient',
          resourceId: patientId,
          patientId,
          outcome: 'success',
        },
        tx,
      )
    }
    return { status: 'erased', erasedAt } as const
  })
}
