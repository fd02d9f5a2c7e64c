// The care module's use cases (issue 14: handlers translate HTTP, services hold the use cases).
// Consents: a patient grants, lists and revokes; each grant and revocation is one transaction with
// its audit entry and its outbox event (ADR-0006, ADR-0008, ADR-0020). Break-glass: opening a
// session is one transaction with its audit entry; administrators list and review sessions.
// Patient records: creating one is one transaction with its audit entry. Care teams: only a
// clinician of the patient's organisation joins. Organisations: their records, members and roles.

import { randomUUID } from 'node:crypto'
import type { AuditEntryInput } from '../../audit/index.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { recordEvent } from '../events/index.ts'
import type { Demographics, Patient, PatientService } from '../patients/index.ts'
import type { Role, UserService } from '../users/index.ts'
import type {
  BreakGlassRecord,
  CareRepository,
  CareTeamMember,
  ConsentRecord,
  MemberRecord,
  OrganisationRecord,
} from './repository.ts'

// The records the use cases return: the routes present them without reaching the repository.
export type { BreakGlassRecord, CareTeamMember, ConsentRecord, MemberRecord, OrganisationRecord }

/** How long a break-glass session lasts (the database refuses a longer one). */
export const BREAK_GLASS_MINUTES = 60
/** A break-glass reason's least length, after trimming (the schema's minLength; the table checks it too). */
export const BREAK_GLASS_REASON_MIN = 10

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
      // The reason is stored trimmed, so it is its trimmed length that must reach the ten
      // characters the schema asks for (and the table checks): "   abc    " is 400, not a 500
      // from the check constraint (found by the OpenAPI fuzzer).
      const trimmed = reason.trim()
      if ([...trimmed].length < BREAK_GLASS_REASON_MIN)
        throw new AppError('VALIDATION_FAILED', undefined, {
          errors: [
            {
              pointer: '/body/reason',
              detail: `must have at least ${BREAK_GLASS_REASON_MIN} characters besides leading and trailing spaces`,
            },
          ],
        })
      const startedAt = clock()
      return db.transaction(async (tx) => {
        const id = randomUUID()
        const created = await repo.insertBreakGlass(tx, {
          id,
          userId,
          patientId,
          reason: trimmed,
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

    /** The sessions for review, newest first; optionally only the reviewed or the unreviewed ones. */
    list(filter: { reviewed?: boolean | undefined }): Promise<BreakGlassRecord[]> {
      return repo.listBreakGlass(filter)
    },

    /** Marks a session reviewed; the first review stands (a second keeps the first reviewer). */
    async review(sessionId: string, reviewedBy: string): Promise<BreakGlassRecord> {
      const reviewed = await repo.reviewBreakGlass(sessionId, reviewedBy, clock())
      if (!reviewed) throw new AppError('NOT_FOUND', 'No such break-glass session')
      return reviewed
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

export function createCareTeamService(deps: {
  repo: CareRepository
  patients: Pick<PatientService, 'get'>
  clock: () => Date
}) {
  const { repo, patients, clock } = deps
  return {
    /** The clinicians in a patient's care team, in the order they joined. */
    members(patientId: string): Promise<CareTeamMember[]> {
      return repo.careTeam(patientId)
    },

    /**
     * Puts a clinician of the patient's organisation in the team (idempotent; added: false when
     * already there). authorizeGrant is the caller's segregation-of-duties check, run once the
     * patient's organisation is known and before the clinician rule.
     */
    async add(
      patientId: string,
      userId: string,
      addedBy: string | null,
      authorizeGrant: (organisationId: string | null) => Promise<unknown>,
    ): Promise<{ member: CareTeamMember; added: boolean }> {
      const patient = await patients.get(patientId)
      if (!patient) throw new AppError('NOT_FOUND')
      await authorizeGrant(patient.organisationId)
      if (
        patient.organisationId === null ||
        !(await repo.holdsRole(userId, 'clinician', patient.organisationId))
      ) {
        throw new AppError(
          'UNPROCESSABLE',
          "Only a clinician of the patient's organisation joins the care team",
        )
      }
      const added = await repo.addToCareTeam({
        patientId,
        userId,
        organisationId: patient.organisationId,
        addedBy,
        now: clock(),
      })
      const member = (await repo.careTeam(patientId)).find((m) => m.userId === userId) as CareTeamMember
      return { member, added }
    },

    /** Takes a member out of the team; one who is not in it answers 404. */
    async remove(patientId: string, userId: string): Promise<void> {
      if (!(await repo.removeFromCareTeam(patientId, userId)))
        throw new AppError('NOT_FOUND', 'The user is not in this care team')
    },
  }
}

export type CareTeamService = ReturnType<typeof createCareTeamService>

export function createOrganisationDirectory(deps: {
  repo: CareRepository
  users: Pick<UserService, 'addRole' | 'removeRole'>
}) {
  const { repo, users } = deps
  return {
    /** Every organisation, by name (the caller filters what it may see). */
    list(): Promise<OrganisationRecord[]> {
      return repo.listOrganisations()
    },

    /** One organisation; 404 when there is none. */
    async get(organisationId: string): Promise<OrganisationRecord> {
      const organisation = await repo.findOrganisation(organisationId)
      if (!organisation) throw new AppError('NOT_FOUND', 'No such organisation')
      return organisation
    },

    /** The organisations a user's roles are held in, and whether one is platform-wide; 404 for no such user. */
    async scopesOfUser(userId: string): Promise<{ organisations: string[]; global: boolean }> {
      const scopes = await repo.scopesOfUser(userId)
      if (!scopes) throw new AppError('NOT_FOUND', 'No such user')
      return scopes
    },

    /** The users holding a role in the organisation, with the roles they hold there. */
    members(organisationId: string): Promise<MemberRecord[]> {
      return repo.listMembers(organisationId)
    },

    /** A user with the roles they hold in the organisation (none when not in it); 404 for no such user. */
    async member(organisationId: string, userId: string): Promise<MemberRecord> {
      const member = await repo.member(organisationId, userId)
      if (!member) throw new AppError('NOT_FOUND', 'No such user')
      return member
    },

    /** Gives a user a role in the organisation (idempotent) and answers the member as they are now. */
    async addRole(organisationId: string, userId: string, role: Role): Promise<MemberRecord> {
      await users.addRole(userId, { role, organisationId })
      return (await repo.member(organisationId, userId)) as MemberRecord
    },

    /** Takes a role in the organisation away; 404 when the user does not hold it there. */
    async removeRole(organisationId: string, userId: string, role: Role): Promise<void> {
      if (!(await users.removeRole(userId, { role, organisationId })))
        throw new AppError('NOT_FOUND', 'The user does not hold this role here')
    },
  }
}

export type OrganisationDirectory = ReturnType<typeof createOrganisationDirectory>
