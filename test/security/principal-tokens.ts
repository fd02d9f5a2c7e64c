// Tokens for the principals of the authorization world (test/support/world.ts), one per audience:
// the API's and the FHIR server's. Shared by the generated security suites (path spellings,
// escalation); the same minting the authorization matrix uses, so a token here is looked up by the
// real authenticator exactly as one from the token endpoint.

import type { App } from '../../src/app.ts'
import { ALL_API_SCOPES, mintToken, userToken, type World } from '../support/world.ts'
import { PRINCIPALS, type PrincipalName } from './authorization-matrix.rows.ts'

export interface AudienceTokens {
  readonly api: string
  readonly fhir: string
}

/** The principals that hold a valid token (anonymous, expired, revoked and wrong-audience callers are the matrix's own). */
const WITHOUT_VALID_TOKEN = ['anonymous', 'expired', 'revoked', 'wrongAudience'] as const
export type TokenPrincipal = Exclude<PrincipalName, (typeof WITHOUT_VALID_TOKEN)[number]>
export const TOKEN_PRINCIPALS: readonly TokenPrincipal[] = PRINCIPALS.filter(
  (p): p is TokenPrincipal => !(WITHOUT_VALID_TOKEN as readonly string[]).includes(p),
)

const USER_OF: Partial<Record<TokenPrincipal, keyof World['users']>> = {
  patientSelf: 'patient',
  patientOther: 'otherPatient',
  caregiverWith: 'caregiverWith',
  caregiverWithout: 'caregiverWithout',
  clinicianTeam: 'clinicianTeam',
  clinicianOutside: 'clinicianOutside',
  clinicianConsent: 'clinicianConsent',
  clinicianRevoked: 'clinicianRevoked',
  clinicianBreakGlass: 'clinicianBreakGlass',
  orgAdminThis: 'orgAdminA',
  orgAdminOther: 'orgAdminB',
  admin: 'admin',
  auditor: 'auditor',
}

export const FHIR_USER_SCOPES = 'openid fhirUser user/*.rs user/*.cud patient/*.rs'

/** The world user behind a principal name, if it is a user. */
export function worldUserOf(
  world: World,
  principal: TokenPrincipal,
): { id: string; email: string } | undefined {
  const key = USER_OF[principal]
  return key ? world.users[key] : undefined
}

/** Both audiences' tokens for one principal of the world. */
export async function tokensFor(
  app: App,
  publicUrl: string,
  world: World,
  principal: TokenPrincipal,
): Promise<AudienceTokens> {
  const user = worldUserOf(world, principal)
  if (user) {
    return {
      api: await userToken(app, publicUrl, world, user, ALL_API_SCOPES),
      fhir: await userToken(app, publicUrl, world, user, FHIR_USER_SCOPES, { resource: 'fhir' }),
    }
  }
  const client =
    principal === 'deviceBound'
      ? { clientId: world.devices.bound.clientId, scope: 'device-data:write' }
      : principal === 'deviceOther'
        ? { clientId: world.devices.other.clientId, scope: 'device-data:write' }
        : {
            clientId: (principal === 'serviceOther'
              ? world.services.orgB
              : principal === 'serviceConsent'
                ? world.services.consented
                : world.services.orgA
            ).clientId,
            scope: 'patients:read device-data:read reports:read',
          }
  return {
    api: await mintToken(app, publicUrl, { clientId: client.clientId, scope: client.scope }),
    fhir: await mintToken(app, publicUrl, {
      clientId: client.clientId,
      scope: 'system/*.rs',
      resource: 'fhir',
    }),
  }
}
