// The facts the policy decision point decides on, read fresh from the database for every
// decision (ADR-0008): no cache, so a revoked consent or an ended break-glass session refuses the
// very next request. One round trip per decision. SQL only (ADR-0030): this is the patients
// module's repository for the PDP's AccessFactSource port.

import type { Database } from '../../platform/db/index.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { AccessFactSource, ConsentFact, PatientFacts } from '../../security/policy/index.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface FactRow {
  organisation_id: string | null
  erased_at: Date | string | null
  care_team: boolean
  consents: Array<{
    id: string
    grantee_kind: 'user' | 'organisation'
    grantee_id: string
    categories: string[]
    access: 'read' | 'read-write'
    purpose: string
    expires_at: string
  }> | null
  break_glass_id: string | null
  break_glass_expires_at: Date | string | null
}

const ABSENT: PatientFacts = {
  exists: false,
  erased: false,
  organisationId: null,
  careTeam: false,
  consents: [],
  breakGlass: null,
}

function organisationsOf(principal: Principal): string[] {
  const orgs = (principal.memberships ?? [])
    .map((m) => m.organisationId)
    .filter((o): o is string => o !== null)
  if (principal.organisationId) orgs.push(principal.organisationId)
  return [...new Set(orgs)]
}

export function createAccessFactSource(db: Database): AccessFactSource {
  return {
    async patientFacts(principal, patientId, now) {
      if (!UUID.test(patientId)) return ABSENT
      const userId = principal.kind === 'user' && UUID.test(principal.id) ? principal.id : null
      const orgs = organisationsOf(principal)
      const { rows } = await db.query<FactRow>(
        `SELECT p.organisation_id, p.erased_at,
                EXISTS (SELECT 1 FROM published_care_team_members c WHERE c.patient_id = p.id AND c.user_id = $2) AS care_team,
                (SELECT json_agg(json_build_object('id', k.id, 'grantee_kind', k.grantee_kind, 'grantee_id', k.grantee_id, 'categories', k.categories,
                                                   'access', k.access, 'purpose', k.purpose, 'expires_at', k.expires_at))
                   FROM published_consents k
                  WHERE k.patient_id = p.id AND k.revoked_at IS NULL AND k.expires_at > $3
                    AND ((k.grantee_kind = 'user' AND k.grantee_id = $2) OR (k.grantee_kind = 'organisation' AND k.grantee_id = ANY($4::uuid[])))) AS consents,
                b.id AS break_glass_id, b.expires_at AS break_glass_expires_at
           FROM patients p
           LEFT JOIN LATERAL (SELECT id, expires_at FROM published_break_glass_sessions s
                               WHERE s.patient_id = p.id AND s.user_id = $2 AND s.ended_at IS NULL AND s.expires_at > $3
                               ORDER BY s.expires_at DESC LIMIT 1) b ON true
          WHERE p.id = $1`,
        [patientId, userId, now, orgs],
      )
      const row = rows[0]
      if (!row) return ABSENT
      const consents: ConsentFact[] = (row.consents ?? []).map((c) => ({
        id: c.id,
        granteeKind: c.grantee_kind,
        granteeId: c.grantee_id,
        categories: c.categories,
        access: c.access,
        purpose: c.purpose,
        expiresAt: new Date(c.expires_at),
      }))
      return {
        exists: true,
        erased: row.erased_at !== null,
        organisationId: row.organisation_id,
        careTeam: row.care_team === true,
        consents,
        breakGlass:
          row.break_glass_id && row.break_glass_expires_at
            ? { id: row.break_glass_id, expiresAt: new Date(row.break_glass_expires_at) }
            : null,
      }
    },

    async candidatePatients(principal, now) {
      const userId = principal.kind === 'user' && UUID.test(principal.id) ? principal.id : null
      const orgs = organisationsOf(principal)
      const { rows } = await db.query<{ id: string }>(
        `SELECT patient_id AS id FROM published_care_team_members WHERE user_id = $1
         UNION SELECT patient_id FROM published_consents WHERE revoked_at IS NULL AND expires_at > $2
                 AND ((grantee_kind = 'user' AND grantee_id = $1) OR (grantee_kind = 'organisation' AND grantee_id = ANY($3::uuid[])))
         UNION SELECT patient_id FROM published_break_glass_sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2
         UNION SELECT id FROM patients WHERE $4::boolean AND organisation_id = ANY($3::uuid[]) AND erased_at IS NULL`,
        [userId, now, orgs, principal.kind === 'client'],
      )
      return rows.map((r) => r.id)
    },
  }
}
