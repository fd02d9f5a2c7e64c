// The auditor's use cases, shared by the auditor API (audit.routes.ts) and the FHIR AuditEvent view
// (audit-event.fhir-routes.ts): search the trail with a sealed cursor, read one entry, and map the
// users among the agents to their patient records (through the patients module).

import type { AuditEntry } from '../../audit/index.ts'
import {
  InvalidCursorError,
  auditCursorSeal,
  findEntry,
  searchEntries,
  type AuditPage,
  type AuditSearch,
} from '../../audit/search.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { ModuleContext } from '../context.ts'

export { MAX_PAGE } from '../../audit/search.ts'

/** Both views of the trail are guarded by 'audit.read' (auditors only); each request is audited. */
export const AUDIT_READ = { policy: 'audit.read' } as const

export type AuditorService = ReturnType<typeof createAuditorService>

export function createAuditorService(ctx: Pick<ModuleContext, 'db' | 'keyring' | 'patients'>) {
  const seal = auditCursorSeal(ctx.keyring)
  return {
    /** A page of the trail, newest first; a bad cursor is a VALIDATION_FAILED at cursorPointer. */
    async search(criteria: AuditSearch, cursorPointer: string): Promise<AuditPage> {
      try {
        return await searchEntries(ctx.db, criteria, seal)
      } catch (err) {
        if (err instanceof InvalidCursorError)
          throw new AppError('VALIDATION_FAILED', err.message, {
            errors: [{ pointer: cursorPointer, detail: err.message }],
          })
        throw err
      }
    },
    /** One entry, or NOT_FOUND with the view's own wording. */
    async read(id: string, notFound: string): Promise<AuditEntry> {
      const entry = await findEntry(ctx.db, id)
      if (!entry) throw new AppError('NOT_FOUND', notFound)
      return entry
    },
    /** user id → patient id for the user agents of these entries (users who are patients). */
    patientsOfUserAgents(entries: readonly AuditEntry[]): Promise<Map<string, string>> {
      return ctx.patients.idsOfUsers(
        entries.flatMap((e) => (e.actorKind === 'user' && e.actorId ? [e.actorId] : [])),
      )
    },
    /** The user account of a patient record (a patient agent is a user), if any. */
    userOfPatient: (patientId: string) => ctx.patients.userIdOf(patientId),
  }
}
