// The care module's SQL: organisations and their members, care teams, consents and break-glass
// sessions. Parameters always bound; rows turned into domain types; times passed in from the
// caller's clock where they decide anything (expiry).

import type { Database, Queryable } from '../../platform/db/index.ts'

export interface OrganisationRecord {
  readonly id: string
  readonly name: string
  readonly createdAt: Date
}

export interface MemberRecord {
  readonly id: string
  readonly email: string
  readonly displayName: string | null
  readonly status: 'active' | 'disabled'
  /** The roles held in the organisation asked about (never those held elsewhere). */
  readonly roles: string[]
}

export interface CareTeamMember {
  readonly userId: string
  readonly displayName: string | null
  readonly organisationId: string
  readonly addedAt: Date
}

export interface ConsentRecord {
  readonly id: string
  readonly patientId: string
  readonly granteeKind: 'user' | 'organisation'
  readonly granteeId: string
  readonly categories: string[]
  readonly access: 'read' | 'read-write'
  readonly purpose: string
  readonly expiresAt: Date
  readonly createdAt: Date
  readonly revokedAt: Date | null
}

export interface BreakGlassRecord {
  readonly id: string
  readonly userId: string
  readonly patientId: string
  readonly reason: string
  readonly startedAt: Date
  readonly expiresAt: Date
  readonly endedAt: Date | null
  readonly reviewedAt: Date | null
  readonly reviewedBy: string | null
}

const d = (v: Date | string): Date => new Date(v)
const dn = (v: Date | string | null): Date | null => (v === null ? null : new Date(v))

interface ConsentRow {
  id: string
  patient_id: string
  grantee_kind: 'user' | 'organisation'
  grantee_id: string
  categories: string[]
  access: 'read' | 'read-write'
  purpose: string
  expires_at: Date | string
  created_at: Date | string
  revoked_at: Date | string | null
}
const toConsent = (r: ConsentRow): ConsentRecord => ({
  id: r.id,
  patientId: r.patient_id,
  granteeKind: r.grantee_kind,
  granteeId: r.grantee_id,
  categories: r.categories,
  access: r.access,
  purpose: r.purpose,
  expiresAt: d(r.expires_at),
  createdAt: d(r.created_at),
  revokedAt: dn(r.revoked_at),
})
const CONSENT_COLUMNS =
  'id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at, created_at, revoked_at'

interface BreakGlassRow {
  id: string
  user_id: string
  patient_id: string
  reason: string
  started_at: Date | string
  expires_at: Date | string
  ended_at: Date | string | null
  reviewed_at: Date | string | null
  reviewed_by: string | null
}
const toBreakGlass = (r: BreakGlassRow): BreakGlassRecord => ({
  id: r.id,
  userId: r.user_id,
  patientId: r.patient_id,
  reason: r.reason,
  startedAt: d(r.started_at),
  expiresAt: d(r.expires_at),
  endedAt: dn(r.ended_at),
  reviewedAt: dn(r.reviewed_at),
  reviewedBy: r.reviewed_by,
})
const BREAK_GLASS_COLUMNS =
  'id, user_id, patient_id, reason, started_at, expires_at, ended_at, reviewed_at, reviewed_by'

export type CareRepository = ReturnType<typeof createCareRepository>

export function createCareRepository(db: Database) {
  return {
    async listOrganisations(): Promise<OrganisationRecord[]> {
      const { rows } = await db.query<{ id: string; name: string; created_at: Date | string }>(
        'SELECT id, name, created_at FROM published_organisations ORDER BY name',
      )
      return rows.map((r) => ({ id: r.id, name: r.name, createdAt: d(r.created_at) }))
    },

    async findOrganisation(id: string): Promise<OrganisationRecord | undefined> {
      const { rows } = await db.query<{ id: string; name: string; created_at: Date | string }>(
        'SELECT id, name, created_at FROM published_organisations WHERE id = $1',
        [id],
      )
      const r = rows[0]
      return r && { id: r.id, name: r.name, createdAt: d(r.created_at) }
    },

    /** Users holding at least one role in the organisation, with the roles they hold there. */
    async listMembers(organisationId: string): Promise<MemberRecord[]> {
      const { rows } = await db.query<{
        id: string
        email: string
        display_name: string | null
        status: 'active' | 'disabled'
        roles: string[]
      }>(
        `SELECT u.id, u.email, u.display_name, u.status, array_agg(r.role ORDER BY r.role) AS roles
           FROM published_users u JOIN published_user_roles r ON r.user_id = u.id
          WHERE r.organisation_id = $1
          GROUP BY u.id, u.email, u.display_name, u.status
          ORDER BY u.email`,
        [organisationId],
      )
      return rows.map((r) => ({
        id: r.id,
        email: r.email,
        displayName: r.display_name,
        status: r.status,
        roles: r.roles,
      }))
    },

    async member(organisationId: string, userId: string): Promise<MemberRecord | undefined> {
      const { rows } = await db.query<{
        id: string
        email: string
        display_name: string | null
        status: 'active' | 'disabled'
        roles: string[] | null
      }>(
        `SELECT u.id, u.email, u.display_name, u.status,
                (SELECT array_agg(r.role ORDER BY r.role) FROM published_user_roles r WHERE r.user_id = u.id AND r.organisation_id = $1) AS roles
           FROM published_users u WHERE u.id = $2`,
        [organisationId, userId],
      )
      const r = rows[0]
      return (
        r && { id: r.id, email: r.email, displayName: r.display_name, status: r.status, roles: r.roles ?? [] }
      )
    },

    /** The organisations a user's roles are held in, and whether they hold a platform-wide role. */
    async scopesOfUser(userId: string): Promise<{ organisations: string[]; global: boolean } | undefined> {
      const { rows } = await db.query<{ organisation_id: string | null; role: string | null }>(
        'SELECT r.organisation_id, r.role FROM published_users u LEFT JOIN published_user_roles r ON r.user_id = u.id WHERE u.id = $1',
        [userId],
      )
      if (rows.length === 0) return undefined
      const organisations = [
        ...new Set(rows.map((r) => r.organisation_id).filter((o): o is string => o !== null)),
      ]
      const global = rows.some((r) => r.role === 'admin' || r.role === 'auditor')
      return { organisations, global }
    },

    /** What an account receiving a grant holds now (the policy's segregation-of-duties facts, ADR-0012). */
    async granteeFacts(userId: string): Promise<{ exists: boolean; roles: string[] }> {
      const { rows } = await db.query<{ role: string | null }>(
        'SELECT r.role FROM published_users u LEFT JOIN published_user_roles r ON r.user_id = u.id WHERE u.id = $1',
        [userId],
      )
      return {
        exists: rows.length > 0,
        roles: [...new Set(rows.map((r) => r.role).filter((r): r is string => r !== null))],
      }
    },

    async holdsRole(userId: string, role: string, organisationId: string): Promise<boolean> {
      const { rows } = await db.query(
        'SELECT 1 FROM published_user_roles WHERE user_id = $1 AND role = $2 AND organisation_id = $3',
        [userId, role, organisationId],
      )
      return rows.length > 0
    },

    async careTeam(patientId: string): Promise<CareTeamMember[]> {
      const { rows } = await db.query<{
        user_id: string
        display_name: string | null
        organisation_id: string
        created_at: Date | string
      }>(
        `SELECT c.user_id, u.display_name, c.organisation_id, c.created_at
           FROM care_team_members c JOIN published_users u ON u.id = c.user_id
          WHERE c.patient_id = $1 ORDER BY c.created_at, c.user_id`,
        [patientId],
      )
      return rows.map((r) => ({
        userId: r.user_id,
        displayName: r.display_name,
        organisationId: r.organisation_id,
        addedAt: d(r.created_at),
      }))
    },

    /** True when added, false when already a member. */
    async addToCareTeam(input: {
      patientId: string
      userId: string
      organisationId: string
      addedBy: string | null
      now: Date
    }): Promise<boolean> {
      const { rowCount } = await db.query(
        'INSERT INTO care_team_members (patient_id, user_id, organisation_id, added_by, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (patient_id, user_id) DO NOTHING',
        [input.patientId, input.userId, input.organisationId, input.addedBy, input.now],
      )
      return rowCount > 0
    },

    async removeFromCareTeam(patientId: string, userId: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'DELETE FROM care_team_members WHERE patient_id = $1 AND user_id = $2',
        [patientId, userId],
      )
      return rowCount > 0
    },

    /** Is this id an active user who may receive a consent (a clinician or a caregiver)? */
    async isConsentGrantee(kind: 'user' | 'organisation', id: string): Promise<boolean> {
      const sql =
        kind === 'organisation'
          ? 'SELECT 1 FROM published_organisations WHERE id = $1'
          : "SELECT 1 FROM published_users u JOIN published_user_roles r ON r.user_id = u.id WHERE u.id = $1 AND u.status = 'active' AND r.role IN ('clinician', 'caregiver')"
      const { rows } = await db.query(sql, [id])
      return rows.length > 0
    },

    async insertConsent(
      q: Queryable,
      c: {
        id: string
        patientId: string
        granteeKind: string
        granteeId: string
        categories: readonly string[]
        access: string
        purpose: string
        expiresAt: Date
        grantedBy: string
        now: Date
      },
    ): Promise<ConsentRecord> {
      const { rows } = await q.query<ConsentRow>(
        `INSERT INTO consents (id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at, granted_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${CONSENT_COLUMNS}`,
        [
          c.id,
          c.patientId,
          c.granteeKind,
          c.granteeId,
          [...c.categories],
          c.access,
          c.purpose,
          c.expiresAt,
          c.grantedBy,
          c.now,
        ],
      )
      return toConsent(rows[0] as ConsentRow)
    },

    async consentsOf(patientId: string): Promise<ConsentRecord[]> {
      const { rows } = await db.query<ConsentRow>(
        `SELECT ${CONSENT_COLUMNS} FROM consents WHERE patient_id = $1 ORDER BY created_at DESC, id`,
        [patientId],
      )
      return rows.map(toConsent)
    },

    /** Revokes an unrevoked consent of this patient; undefined when there is none (unknown, another patient's, or already revoked). */
    async revokeConsent(
      q: Queryable,
      patientId: string,
      consentId: string,
      by: string,
      now: Date,
    ): Promise<ConsentRecord | undefined> {
      const { rows } = await q.query<ConsentRow>(
        `UPDATE consents SET revoked_at = $4, revoked_by = $3 WHERE id = $2 AND patient_id = $1 AND revoked_at IS NULL RETURNING ${CONSENT_COLUMNS}`,
        [patientId, consentId, by, now],
      )
      return rows[0] && toConsent(rows[0])
    },

    async consentOf(patientId: string, consentId: string): Promise<ConsentRecord | undefined> {
      const { rows } = await db.query<ConsentRow>(
        `SELECT ${CONSENT_COLUMNS} FROM consents WHERE id = $2 AND patient_id = $1`,
        [patientId, consentId],
      )
      return rows[0] && toConsent(rows[0])
    },

    async insertBreakGlass(
      q: Queryable,
      s: { id: string; userId: string; patientId: string; reason: string; startedAt: Date; expiresAt: Date },
    ): Promise<BreakGlassRecord> {
      const { rows } = await q.query<BreakGlassRow>(
        `INSERT INTO break_glass_sessions (id, user_id, patient_id, reason, started_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${BREAK_GLASS_COLUMNS}`,
        [s.id, s.userId, s.patientId, s.reason, s.startedAt, s.expiresAt],
      )
      return toBreakGlass(rows[0] as BreakGlassRow)
    },

    async listBreakGlass(filter: { reviewed?: boolean | undefined }): Promise<BreakGlassRecord[]> {
      const where =
        filter.reviewed === undefined
          ? ''
          : filter.reviewed
            ? 'WHERE reviewed_at IS NOT NULL'
            : 'WHERE reviewed_at IS NULL'
      const { rows } = await db.query<BreakGlassRow>(
        `SELECT ${BREAK_GLASS_COLUMNS} FROM break_glass_sessions ${where} ORDER BY started_at DESC, id LIMIT 1000`,
      )
      return rows.map(toBreakGlass)
    },

    /** Marks a session reviewed (once: a second review keeps the first reviewer). */
    async reviewBreakGlass(id: string, by: string, now: Date): Promise<BreakGlassRecord | undefined> {
      const { rows } = await db.query<BreakGlassRow>(
        `UPDATE break_glass_sessions SET reviewed_at = COALESCE(reviewed_at, $3), reviewed_by = COALESCE(reviewed_by, $2) WHERE id = $1 RETURNING ${BREAK_GLASS_COLUMNS}`,
        [id, by, now],
      )
      return rows[0] && toBreakGlass(rows[0])
    },
  }
}
