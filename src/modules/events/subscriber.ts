// Who a subscription delivers to, as the policy decision point sees it — rebuilt from the
// registry at every delivery (ADR-0020), never cached from the day it was created: a disabled
// user, a removed client or a changed membership stops deliveries on the next event.
//
//   user         — a SMART app's user (FHIR Subscription): their roles, memberships, own record,
//                  and the scopes and launch context of the token that created it;
//   client       — a backend service (its organisation), with the scopes of its token;
//   organisation — an organisation's integration, created by its administrator: it sees what the
//                  organisation's backend services see (rules.ts, service.*), nothing more.

import type { Database } from '../../platform/db/index.ts'
import type { Principal } from '../../security/authn/index.ts'
import { createPrincipalDirectory } from '../identity/index.ts'
import type { Subscription } from './repository.ts'

export type LoadSubscriber = (subscription: Subscription) => Promise<Principal | undefined>

export function createSubscriberLoader(db: Database): LoadSubscriber {
  const directory = createPrincipalDirectory(db)
  return async (s) => {
    if (s.ownerKind === 'organisation') {
      if (!s.organisationId) return undefined
      return {
        kind: 'client',
        id: `organisation:${s.organisationId}`,
        clientId: undefined,
        scopes: s.scopes,
        roles: [],
        memberships: [],
        patientId: null,
        organisationId: s.organisationId,
      }
    }
    if (s.ownerKind === 'client') {
      const client = await directory.registeredClient(s.ownerId)
      if (!client) return undefined
      return {
        kind: 'client',
        id: s.ownerId,
        clientId: s.ownerId,
        scopes: s.scopes,
        roles: [],
        memberships: [],
        patientId: null,
        organisationId: client.organisationId,
      }
    }
    if (!(await directory.userIsActive(s.ownerId))) return undefined
    const facts = await directory.user(s.ownerId)
    if (!facts) return undefined
    return {
      kind: 'user',
      id: s.ownerId,
      clientId: s.ownerClientId ?? undefined,
      scopes: s.scopes,
      roles: [...new Set(facts.memberships.map((m) => m.role))],
      memberships: facts.memberships,
      patientId: facts.patientId,
      launchPatientId: s.launchPatientId,
      organisationId: null,
    }
  }
}
