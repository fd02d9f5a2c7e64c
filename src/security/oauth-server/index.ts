export type {
  AccountDirectory,
  DirectoryAccount,
  PasswordCheck,
  PasswordResetLink,
  PasswordUpdate,
  Role,
} from './account-directory.ts'
export {
  createClientStore,
  generateClientSecret,
  type ClientStore,
  type StoredClient,
} from './client-store.ts'
export { INTERNAL_AUDIENCES, type InternalAudience } from './internal-audiences.ts'
export { interactionRoutes } from './interactions.ts'
export { oauthProtocolRoutes } from './mount.ts'
export {
  apiResource,
  CLIENT_AUTH_SIGNING_ALGS,
  createProvider,
  fhirResource,
  OAUTH_ROUTES,
} from './provider.ts'
export type { Sealer } from './sealer.ts'
export {
  API_SCOPES,
  FHIR_SCOPES,
  SMART_SCOPES_SUPPORTED,
  OIDC_SCOPES,
  scopeDescriptions,
  STATIC_SCOPES,
} from './scopes.ts'
export { createLaunch, isSmartAppOrigin, isSmartCorsPath, LAUNCH_TTL_SECONDS } from './smart.ts'
export { loadSigningKeys, rotateSigningKey } from './signing-keys.ts'
export { EXCHANGED_TOKEN_MAX_TTL_SECONDS, TOKEN_EXCHANGE_GRANT_TYPE } from './token-exchange.ts'
export { revokeAllForAccount, revokeAllForAccountIn, type RevokeOptions } from './revoke-account.ts'
export { passwordChangeRoutes } from './password-change.ts'
export { passwordResetRoutes } from './password-reset.ts'
