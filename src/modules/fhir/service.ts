// The FHIR module's use cases (ADR-0030): the writes behind its routes, each one transaction with
// the request's audit entry (and, for a report, its outbox event), so a change is never stored
// without its audit entry nor audited without being stored; and the reads, so that a route reaches
// SQL only through here. The routes keep what is HTTP and FHIR: validation against the profile, the
// PDP calls, If-None-Exist and If-Match, the presentation.

import type { AuditEntryInput } from '../../audit/index.ts'
import type { Queryable } from '../../platform/db/index.ts'
import type { ModuleContext } from '../context.ts'
import { recordEvent } from '../events/index.ts'
import type { Demographics, Patient } from '../patients/index.ts'
import * as repo from './repository.ts'

// The rows and searches the routes and presenters handle, so that none of them imports the repository.
export type {
  DeviceRow,
  DeviceSearch,
  GranularTerm,
  KeysetPage,
  KeysetRow,
  Paging,
  PractitionerRow,
  ReadingRow,
  ReadingSearch,
  ReportRow,
  ReportSearch,
} from './repository.ts'

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
    // Reads: pass-through to the repository today, one statement each (none for an empty list or
    // no reachable patient); the route decides who may see what before or after.

    /** An Observation's reading by id, whoever's it is. */
    readingById: (id: string): Promise<repo.ReadingRow | undefined> => repo.readingById(ctx.db, id),

    /** The readings with these ids that belong to this patient, oldest first; others are dropped. */
    readingsOfPatient: (ids: readonly string[], patientId: string): Promise<repo.ReadingRow[]> =>
      repo.readingsOfPatient(ctx.db, ids, patientId),

    /** Which of these reading ids belong to this patient. */
    readingIdsOfPatient: (ids: readonly string[], patientId: string): Promise<string[]> =>
      repo.readingIdsOfPatient(ctx.db, ids, patientId),

    /** One keyset page of Observations among the given patients. */
    searchReadings: (
      search: repo.ReadingSearch,
      paging: repo.Paging,
    ): Promise<repo.KeysetPage<repo.ReadingRow>> => repo.searchReadings(ctx.db, search, paging),

    /** A DiagnosticReport by id, whoever's it is. */
    reportById: (id: string): Promise<repo.ReportRow | undefined> => repo.reportById(ctx.db, id),

    /** The reports with these ids that belong to this patient; others are dropped. */
    reportsOfPatient: (ids: readonly string[], patientId: string): Promise<repo.ReportRow[]> =>
      repo.reportsOfPatient(ctx.db, ids, patientId),

    /** One keyset page of DiagnosticReports among the given patients, newest first. */
    searchReports: (
      search: repo.ReportSearch,
      paging: repo.Paging,
    ): Promise<repo.KeysetPage<repo.ReportRow>> => repo.searchReports(ctx.db, search, paging),

    /** The devices with these ids, with the patient each is bound to now. */
    devicesByIds: (ids: readonly string[]): Promise<repo.DeviceRow[]> => repo.devicesByIds(ctx.db, ids),

    /** One keyset page of the devices bound to one of the given patients now. */
    searchBoundDevices: (
      search: repo.DeviceSearch,
      paging: repo.Paging,
    ): Promise<repo.KeysetPage<repo.DeviceRow>> => repo.searchBoundDevices(ctx.db, search, paging),

    /** Id and version of those of these patients that belong to this organisation. */
    patientVersionsInOrganisation: (
      ids: readonly string[],
      organisationId: string,
    ): Promise<{ id: string; version: number }[]> =>
      repo.patientVersionsInOrganisation(ctx.db, ids, organisationId),

    /** An active clinician this caller (or the launch patient's care team) may know of. */
    visiblePractitioner: (
      practitionerId: string,
      callerUserId: string | null,
      launchPatientId: string | null,
    ): Promise<repo.PractitionerRow | undefined> =>
      repo.visiblePractitioner(ctx.db, practitionerId, callerUserId, launchPatientId),

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
    createReport(r: NewReport, audit: AuditInTransaction): Promise<repo.ReportRow> {
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
