// The FHIR module's use cases (ADR-0030): the writes behind its routes, each one transaction with
// the request's audit entry (and, for a report, its outbox event), so a change is never stored
// without its audit entry nor audited without being stored. The routes keep what is HTTP and FHIR:
// validation against the profile, the PDP calls, If-None-Exist and If-Match, the presentation.

import type { AuditEntryInput } from '../../audit/index.ts'
import type { Queryable } from '../../platform/db/index.ts'
import type { ModuleContext } from '../context.ts'
import { recordEvent } from '../events/index.ts'
import type { Demographics, Patient } from '../patients/index.ts'
import * as repo from './repository.ts'
import type { ReportRow } from './repository.ts'

/** Writes the request's audit entry inside the use case's transaction (request.auditInTransaction). */
export type AuditInTransaction = (
  tx: Queryable,
  entry: { status: number } & Partial<Pick<AuditEntryInput, 'resourceType' | 'resourceId' | 'patientId'>>,
) => Promise<void>

/** A DiagnosticReport's conclusion is sealed under the patient's data key, bound to the report. */
export const conclusionAad = (id: string): string => `diagnostic-report:${id}`

/** A report as the route has validated it; the service adds the issue time and seals the conclusion. */
export type NewReport = Omit<repo.NewReport, 'issuedAt' | 'conclusionSealed'> & {
  readonly conclusion: string | undefined
}

export function createFhirService(ctx: ModuleContext) {
  return {
    /** A new Patient record of an organisation, audited as 201. */
    createPatient(
      input: { organisationId: string; demographics: Demographics },
      audit: AuditInTransaction,
    ): Promise<Patient> {
      return ctx.db.transaction(async (tx) => {
        const created = await ctx.patients.create(input, tx)
        await audit(tx, {
          status: 201,
          resourceType: 'Patient',
          resourceId: created.id,
          patientId: created.id,
        })
        return created
      })
    },

    /** Replaces a Patient's demographics (with If-Match's version, refuses a lost update), audited as 200. */
    updatePatient(
      patientId: string,
      demographics: Demographics,
      expectedVersion: number | undefined,
      audit: AuditInTransaction,
    ): Promise<Patient | 'conflict' | undefined> {
      return ctx.patients.update(patientId, demographics, expectedVersion, (tx) =>
        audit(tx, { status: 200, resourceType: 'Patient', resourceId: patientId, patientId }),
      )
    },

    /** Stores a DiagnosticReport (its conclusion sealed), audits it as 201 and records its event. */
    createReport(r: NewReport, audit: AuditInTransaction): Promise<ReportRow> {
      const now = ctx.clock()
      return ctx.db.transaction(async (tx) => {
        const sealed = r.conclusion
          ? await ctx.cipher.seal(r.patientId, r.conclusion, conclusionAad(r.id), tx)
          : null
        const { conclusion: _plain, ...report } = r
        const inserted = await repo.insertReport(tx, { ...report, issuedAt: now, conclusionSealed: sealed })
        await audit(tx, {
          status: 201,
          resourceType: 'DiagnosticReport',
          resourceId: r.id,
          patientId: r.patientId,
        })
        await recordEvent(
          tx,
          { type: 'diagnostic-report.created', patientId: r.patientId, resourceId: r.id },
          now,
        )
        return inserted
      })
    },
  }
}

export type FhirService = ReturnType<typeof createFhirService>
