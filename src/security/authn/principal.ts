// Who is calling. One shape for users, devices and clients (backend services, SMART apps),
// filled from the access token and the facts the accounts and device registry hold about its
// subject. The policy decision point decides on this shape alone (ADR-0008).

import type { FastifyRequest } from 'fastify'

export type PrincipalKind = 'user' | 'device' | 'client'

export interface Membership {
  /** patient, caregiver, clinician, org-admin, admin, auditor */
  readonly role: string
  /** null for the platform-wide roles (admin, auditor) and for a patient not yet in any organisation's care */
  readonly organisationId: string | null
}

export interface Principal {
  readonly kind: PrincipalKind
  /** The user id, the device id, or the client id. */
  readonly id: string
  /** The OAuth client the token was issued to. */
  readonly clientId: string | undefined
  readonly scopes: readonly string[]
  /** Every role held, in any organisation (coarse checks); memberships say where. */
  readonly roles: readonly string[]
  readonly memberships?: readonly Membership[]
  /**
   * A patient user: their own patient record. A device: the patient it is bound to now (null
   * when unbound). Otherwise null.
   */
  readonly patientId?: string | null
  /** A SMART app's launch context (the `patient` of its token): what `patient/` scopes reach. Never grants access by itself. */
  readonly launchPatientId?: string | null
  /** A device or backend service: the organisation it belongs to. */
  readonly organisationId?: string | null
  /**
   * A bound device: the facts about its patient the policy decision point needs to decide the
   * device's own writes, read with the binding (ADR-0033). Cached with the principal, so dropped on
   * any write to the patient's row (a local write, or the patient's vigil_auth notification).
   */
  readonly boundPatient?: { readonly organisationId: string | null; readonly erased: boolean }
}

/** Turns a request's credentials into a Principal: null when it carries none; throws AppError('INVALID_TOKEN') when they are bad. */
export type Authenticate = (request: FastifyRequest) => Promise<Principal | null>

/** What the registry knows of a token's subject, looked up when a token is first seen; the principal cache drops it on any change to these rows (ADR-0029), so a disabled user or unbound device stops at once. */
export interface PrincipalDirectory {
  /** A user's memberships and own patient record. */
  user(userId: string): Promise<{ memberships: readonly Membership[]; patientId: string | null } | undefined>
  /** The device registered for this OAuth client, if any, with the patient it is bound to now. */
  deviceForClient(clientId: string): Promise<
    | {
        id: string
        status: 'active' | 'disabled'
        patientId: string | null
        organisationId: string | null
        /** The bound patient's organisation and erasure, read with the binding (null when unbound). */
        boundPatient: { organisationId: string | null; erased: boolean } | null
      }
    | undefined
  >
  /** A backend service client's organisation. */
  clientOrganisation(clientId: string): Promise<string | null>
}
