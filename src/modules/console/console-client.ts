// The web console's OAuth client (ADR-0022): a first-party public client (no secret; PKCE S256 is
// required for every client by the authorization server), built into the server rather than
// stored, so its one redirect URI is always this instance's PUBLIC_URL + /console/callback and
// no two instances sharing a database overwrite each other's registration. Its scopes are the
// ceiling; the policy decision point decides what each signed-in user may do with them.

import type { ClientMetadata } from 'oidc-provider'
import { API_SCOPES } from '../../security/oauth-server/scopes.ts'

export const CONSOLE_CLIENT_ID = 'vigil-console'

/** The SMART scopes the console asks for on the FHIR resource: reads in the signed-in user's own context. */
export const CONSOLE_FHIR_SCOPES = [
  'user/Patient.rs',
  'user/Observation.rs',
  'user/Device.rs',
  'user/DiagnosticReport.rs',
] as const

export function consoleRedirectUri(publicUrl: string): string {
  return `${publicUrl}/console/callback`
}

export function consoleClientMetadata(publicUrl: string): ClientMetadata {
  return {
    client_id: CONSOLE_CLIENT_ID,
    client_name: 'Vigil console',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [consoleRedirectUri(publicUrl)],
    post_logout_redirect_uris: [`${publicUrl}/console/`],
    scope: ['openid', 'offline_access', 'profile', 'email', ...API_SCOPES, ...CONSOLE_FHIR_SCOPES].join(' '),
    // Vigil's own app: the user is not asked to consent to it (interactions.ts).
    first_party: true,
  } as ClientMetadata
}

/** The client store with the console answered from its built-in metadata; every other id goes to the store. */
export function withConsoleClient<T extends { find(clientId: string): Promise<unknown> }>(
  store: T,
  publicUrl: string,
): T {
  const metadata = consoleClientMetadata(publicUrl)
  return {
    ...store,
    find: async (clientId: string) =>
      clientId === CONSOLE_CLIENT_ID ? { ...metadata } : store.find(clientId),
  }
}
