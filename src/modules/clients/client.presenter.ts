// A registered client as the admin API shows it. Built from the stored metadata field by field, so
// nothing else leaves — the secret, sealed or not, is never part of it (ADR-0005: secrets are
// shown once, at creation).

import type { ClientMetadata } from 'oidc-provider'
import { Type, type Static } from 'typebox'
import type { StoredClient } from '../../security/oauth-server/index.ts'
import { CLIENT_TYPES, clientTypeOf } from './client-registration.ts'

export const ClientView = Type.Object({
  clientId: Type.String(),
  type: Type.Enum(CLIENT_TYPES),
  name: Type.Union([Type.String(), Type.Null()]),
  grantTypes: Type.Array(Type.String()),
  redirectUris: Type.Array(Type.String()),
  scope: Type.String(),
  firstParty: Type.Boolean(),
})
export type ClientView = Static<typeof ClientView>

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []

export function presentClient(client: Pick<StoredClient, 'clientId' | 'metadata'>): ClientView {
  const m: ClientMetadata & { first_party?: unknown } = client.metadata
  return {
    clientId: client.clientId,
    type: clientTypeOf(m),
    name: typeof m.client_name === 'string' ? m.client_name : null,
    grantTypes: strings(m.grant_types ?? ['authorization_code']),
    redirectUris: strings(m.redirect_uris),
    scope: typeof m.scope === 'string' ? m.scope : '',
    firstParty: m.first_party === true,
  }
}
