// The rows of the authorization matrix: for every operation of the OpenAPI document, the status
// each kind of principal gets. Reviewed like policy: a change here is a change of who may do what.
//
// Reading a row: `expect` names the principals whose answer differs from `others`. Anonymous
// callers and expired, revoked or wrong-audience tokens always get 401 on secured operations
// (not listed per row). `public` rows answer the same to everyone. 404 is a concealed denial
// (the caller may not learn the patient exists); 403 a refusal of the kind of caller.
// Targets: `patient` is the world's patient (care team: clinicianTeam; consents: clinicianConsent
// and caregiverWith; revoked: clinicianRevoked; break-glass: clinicianBreakGlass; devices:
// deviceBound). Write operations prepare a fresh target per cell (prepare), so cells stay independent.

import type { App } from '../../src/app.ts'
import type { Database } from '../../src/platform/db/index.ts'
import type { World } from '../support/world.ts'

export const PRINCIPALS = [
  'anonymous',
  'expired',
  'revoked',
  'wrongAudience',
  'patientSelf',
  'patientOther',
  'caregiverWith',
  'caregiverWithout',
  'clinicianTeam',
  'clinicianOutside',
  'clinicianConsent',
  'clinicianRevoked',
  'clinicianBreakGlass',
  'orgAdminThis',
  'orgAdminOther',
  'admin',
  'auditor',
  'deviceBound',
  'deviceOther',
  'service',
] as const
export type PrincipalName = (typeof PRINCIPALS)[number]

export interface MatrixContext {
  readonly app: App
  readonly world: World
  readonly db: Database
  readonly publicUrl: string
}

/** Per-cell request parts (a fresh target for a write). */
export interface Cell {
  readonly params?: Record<string, string>
  readonly query?: Record<string, string>
  readonly body?: unknown
}

export interface Row {
  /** Everyone gets this status (public operations). */
  readonly public?: number
  readonly expect: Partial<Record<PrincipalName, number>> & { readonly others: number }
  readonly params?: (c: MatrixContext) => Record<string, string>
  readonly query?: (c: MatrixContext) => Record<string, string>
  /** The body (default: the operation's OpenAPI example). */
  readonly body?: (c: MatrixContext) => unknown
  readonly headers?: Record<string, string>
  readonly prepare?: (c: MatrixContext, principal: PrincipalName) => Promise<Cell | undefined>
  /** Operations the audit trail leaves out by design (operational probes, ADR-0006). */
  readonly unaudited?: boolean
}

const publicRow = (status: number, extra: Partial<Row> = {}): Row => ({ public: status, expect: { others: status }, ...extra })
const everyone = (status: number): Row['expect'] => ({ others: status })

let clientCounter = 0

export const MATRIX: Record<string, Row> = {
  // Operational and documentation endpoints, open by design (SPEC: reviewed exceptions).
  'GET /openapi.json': publicRow(200),
  'GET /docs': publicRow(200),
  'GET /health/live': publicRow(200, { unaudited: true }),
  'GET /health/ready': publicRow(200, { unaudited: true }),
  // No METRICS_TOKEN in tests: open to the scraper (production requires it).
  'GET /metrics': publicRow(200, { unaudited: true }),
  'GET /api/v1/': publicRow(200),
  'GET /api/v2/': publicRow(200),

  // Sign-in pages: an unknown interaction answers the same to everyone.
  'GET /interaction/{uid}': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/login': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/totp': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/enrol': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/continue': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/consent': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'GET /account/password-reset': publicRow(200),
  // The example's CSRF token is not the form's: refused before anything else.
  'POST /account/password-reset': publicRow(403),
  // Unknown or spent single-use links: 410 Gone, the same page for every caller.
  'GET /account/password-reset/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  'POST /account/password-reset/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  // The password page needs a sign-in session cookie; a bearer token is not one.
  'GET /account/password': publicRow(403),
  'POST /account/password': publicRow(403),
  'GET /account/verify-email/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  'POST /account/verify-email/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),

  // The caller's own identity: any authenticated user (account:read); devices and services hold no such scope.
  'GET /api/v2/me': { expect: { others: 200, deviceBound: 403, deviceOther: 403, service: 403 } },
  'POST /api/v2/me/email-verification': { expect: { others: 204, deviceBound: 403, deviceOther: 403, service: 403 } },

  // OAuth clients: platform administrators only.
  'GET /api/v2/admin/clients': { expect: { others: 403, admin: 200 } },
  'POST /api/v2/admin/clients': {
    expect: { others: 403, admin: 201 },
    prepare: async () => ({ body: { clientId: `matrix-client-${++clientCounter}-${Date.now()}`, type: 'confidential', grantTypes: ['client_credentials'], scope: 'device-data:write' } }),
  },
  'DELETE /api/v2/admin/clients/{clientId}': {
    expect: { others: 403, admin: 204 },
    prepare: async (c, principal) => {
      const id = `matrix-delete-${principal}-${Date.now()}`
      await c.db.query("INSERT INTO oauth_clients (client_id, metadata) VALUES ($1, $2)", [id, { client_id: id, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' }])
      return { params: { clientId: id } }
    },
  },
}

export { everyone }
