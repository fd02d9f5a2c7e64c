// The clients module's public face: OAuth client registration rules (shared by `vigil client
// create` and the admin API), the admin API's service and its routes.

export {
  CLIENT_TYPES,
  GRANT_TYPES,
  CLIENT_SCOPES,
  checkClientRegistration,
  clientMetadata,
  publicJwkProblem,
  redirectUriProblem,
  serviceClientMetadata,
  type ClientRegistration,
  type ClientType,
} from './client-registration.ts'
export { presentClient, type ClientView } from './client.presenter.ts'
export { createClientService, type ClientService, type CreatedClient } from './service.ts'
export { clientRoutesV2, PublicJwk } from './routes.v2.ts'
