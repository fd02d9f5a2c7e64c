// The care module's use cases (issue 14: handlers translate HTTP, services hold the use cases).
// Consents: a patient grants, lists and revokes; each grant and revocation is one transaction with
// its audit entry and its outbox event (ADR-0006, ADR-0008, ADR-0020). Break-glass: opening a
// session is one transaction with its audit entry. Patient records: creating one is one transaction
// with its audit entry.

import { randomUUID } from 'node:crypto'
import type { AuditEntryInput } from '../../audit/index.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { recordEvent } from '../events/index.ts'
import type { Demographics, Patient, PatientService } from '../patients/index.ts'
import type { BreakGlassRecord, CareRepository, ConsentRecord } from './repository.ts'

/** How long a break-glass session lasts (the database refuses a longer one). */
export const BREAK_GLASS_MINUTES = 60

/** The longest a grant may run; the patient renews it after (a forgotten grant does not last forever). */
export const CONSENT_MAX_DAYS = 730

/** Writes the request's audit entry inside the use case's transaction (request.auditInTransaction). */
export type AuditInTransaction = (
  tx: Queryable,
  entry: { status: number } & Partial<
    Pick<AuditEntryInput, 'action' | 'resourceType' | 'resourceId' | 'patientId' | 'consentId' | 'breakGlass'>
  >,
) => Promise<void>

export interface ConsentGrant {
  readonly granteeKind: 'user' | 'organisation'
  readonly granteeId: string
  readonly categories: readonly string[]
  readonly access: string
  readonly purpose: string
  readonly expiresAt: string
}

export function createConsentService(deps: { db: Database; repo: CareRepository; clock: () => Date }) {
  const { db, repo, clock } = deps
  return {
    async grant(
      patientId: string,
      grantedBy: string,
      grant: ConsentGrant,
      audit: AuditInTransaction,
    ): Promise<ConsentRecord> {
      const now = clock()
      const expiresAt = new Date(grant.expiresAt)
      if (
        !(expiresAt.getTime() > now.getTime()) ||
        expiresAt.getTime() > now.getTime() + CONSENT_MAX_DAYS * 86_400_000
      ) {
        throw new AppError(
          'VALIDATION_FAILED',
          'The expiry must be in the future and at most two years ahead',
          {
            errors: [
              { pointer: '/body/expiresAt', detail: `in the future, at most ${CONSENT_MAX_DAYS} days ahead` },
            ],
          },
        )
      }
      if (!(await repo.isConsentGrantee(grant.granteeKind, grant.granteeId)))
        throw new AppError(
          'UNPROCESSABLE',
          'The grantee is not an active clinician or caregiver, nor an organisation',
        )
      return db.transaction(async (tx) => {
        const id = randomUUID()
        const created = await repo.insertConsent(tx, { id, patientId, ...grant, expiresAt, grantedBy, now })
        await audit(tx, {
          status: 201,
          action: 'consent.grant',
          resourceType: 'consent',
          resourceId: id,
          patientId,
          consentId: id,
        })
        await recordEvent(
          tx,
          {
            type: 'consent.granted',
            patientId,
            resourceId: id,
            data: { granteeKind: grant.granteeKind, granteeId: grant.granteeId },
          },
          now,
        )
        return created
      })
    },

    list(patientId: string): Promise<ConsentRecord[]> {
      return repo.consentsOf(patientId)
    },

    /** Revokes one of the patient's consents; revoking a revoked one is a no-op, an unknown one 404. */
    async revoke(
      patientId: string,
      consentId: string,
      revokedBy: string,
      audit: AuditInTransaction,
    ): Promise<void> {
      const revoked = await db.transaction(async (tx) => {
        const now = clock()
        const done = await repo.revokeConsent(tx, patientId, consentId, revokedBy, now)
        if (done)
          await audit(tx, {
            status: 204,
            action: 'consent.revoke',
            resourceType: 'consent',
            resourceId: consentId,
            patientId,
            consentId,
          })
        if (done) await recordEvent(tx, { type: 'consent.revoked', patientId, resourceId: consentId }, now)
        return done
      })
      if (!revoked && !(await repo.consentOf(patientId, consentId)))
        throw new AppError('NOT_FOUND', 'No such consent')
    },
  }
}

export type ConsentService = ReturnType<typeof createConsentService>

export function createBreakGlassService(deps: { db: Database; repo: CareRepository; clock: () => Date }) {
  const { db, repo, clock } = deps
  return {
    /** Opens a session (the caller was authorized for this patient); its audit entry is marked break-glass. */
    open(
      userId: string,
      patientId: string,
      reason: string,
      audit: AuditInTransaction,
    ): Promise<BreakGlassRecord> {
      const startedAt = clock()
      return db.transaction(async (tx) => {
        const id = randomUUID()
        const created = await repo.insertBreakGlass(tx, {
          id,
          userId,
          patientId,
          reason: reason.trim(),
          startedAt,
          expiresAt: new Date(startedAt.getTime() + BREAK_GLASS_MINUTES * 60_000),
        })
        // The request's one audit entry, in the session's transaction (marked break-glass).
        await audit(tx, {
          status: 201,
          action: 'break-glass.open',
          resourceType: 'break-glass',
          resourceId: id,
          patientId,
          breakGlass: true,
        })
        return created
      })
    },
  }
}

export type BreakGlassService = ReturnType<typeof createBreakGlassService>

export function createPatientRecordService(deps: {
  db: Database
  repo: CareRepository
  patients: PatientService
}) {
  const { db, repo, patients } = deps
  return {
    /** A patient record in an organisation, optionally the own record of a user holding the patient role there. */
    async create(
      organisationId: string,
      input: { userId?: string | undefined; demographics: Demographics },
      audit: AuditInTransaction,
    ): Promise<Patient> {
      if (input.userId !== undefined) {
        if (!(await repo.holdsRole(input.userId, 'patient', organisationId)))
          throw new AppError('PATIENT_ROLE_MISSING')
        if (await patients.byUserId(input.userId)) throw new AppError('PATIENT_RECORD_EXISTS')
      }
      return db.transaction(async (tx) => {
        const patient = await patients.create(
          { userId: input.userId ?? null, organisationId, demographics: input.demographics },
          tx,
        )
        await audit(tx, {
          status: 201,
          resourceType: 'patients',
          resourceId: patient.id,
          patientId: patient.id,
        })
        return patient
      })
    },
  }
}

export type PatientRecordService = ReturnType<typeof createPatientRecordService>
