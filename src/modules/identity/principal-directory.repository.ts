// What the token authenticator needs to know of a token's subject (security/authn's
// PrincipalDirectory port): a user's memberships and own patient record, a device's current
// binding, a service client's organisation. Read when a token is first seen; the principal built
// from it is cached until any of these rows changes (security/authn/principal-cache.ts, ADR-0029).
// The events module asks the same questions of a subscription's owner at each delivery, plus
// whether the user is still active and the client still registered. SQL only (ADR-0030).

import type { Database } from '../../platform/db/index.ts'
import type { PrincipalDirectory } from '../../security/authn/index.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface IdentityDirectory extends PrincipalDirectory {
  /** Whether this user exists and is active (not disabled, not erased). */
  userIsActive(userId: string): Promise<boolean>
  /** A registered OAuth client's organisation; undefined when no such client is registered. */
  registeredClient(clientId: string): Promise<{ organisationId: string | null } | undefined>
}

export function createPrincipalDirectory(db: Database): IdentityDirectory {
  return {
    async userIsActive(userId) {
      if (!UUID.test(userId)) return false
      const { rows } = await db.query<{ status: string }>(
        'SELECT status FROM published_users WHERE id = $1',
        [userId],
      )
      return rows[0]?.status === 'active'
    },
    async registeredClient(clientId) {
      const { rows } = await db.query<{ organisation_id: string | null }>(
        'SELECT organisation_id FROM published_oauth_clients WHERE client_id = $1',
        [clientId],
      )
      const row = rows[0]
      return row && { organisationId: row.organisation_id }
    },
    async user(userId) {
      if (!UUID.test(userId)) return undefined
      const { rows } = await db.query<{
        role: string | null
        organisation_id: string | null
        patient_id: string | null
      }>(
        `SELECT r.role, r.organisation_id, p.id AS patient_id
           FROM published_users u LEFT JOIN published_user_roles r ON r.user_id = u.id LEFT JOIN published_patients p ON p.user_id = u.id
          WHERE u.id = $1`,
        [userId],
      )
      if (rows.length === 0) return undefined
      return {
        memberships: rows
          .filter((r) => r.role !== null)
          .map((r) => ({ role: r.role as string, organisationId: r.organisation_id })),
        patientId: rows[0]?.patient_id ?? null,
      }
    },
    async deviceForClient(clientId) {
      const { rows } = await db.query<{
        id: string
        status: 'active' | 'disabled'
        organisation_id: string | null
        patient_id: string | null
        patient_organisation_id: string | null
        patient_erased: boolean | null
      }>(
        `SELECT d.id, d.status, d.organisation_id, b.patient_id,
                p.organisation_id AS patient_organisation_id, p.erased_at IS NOT NULL AS patient_erased
           FROM published_devices d LEFT JOIN published_device_bindings b ON b.device_id = d.id AND b.unbound_at IS NULL
           LEFT JOIN published_patients p ON p.id = b.patient_id
          WHERE d.client_id = $1`,
        [clientId],
      )
      const row = rows[0]
      return (
        row && {
          id: row.id,
          status: row.status,
          patientId: row.patient_id,
          organisationId: row.organisation_id,
          boundPatient:
            row.patient_id !== null && row.patient_erased !== null
              ? { organisationId: row.patient_organisation_id, erased: row.patient_erased }
              : null,
        }
      )
    },
    async clientOrganisation(clientId) {
      const { rows } = await db.query<{ organisation_id: string | null }>(
        'SELECT organisation_id FROM published_oauth_clients WHERE client_id = $1',
        [clientId],
      )
      return rows[0]?.organisation_id ?? null
    },
  }
}
