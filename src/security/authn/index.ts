export type { Principal, PrincipalKind, Authenticate, Membership, PrincipalDirectory } from './principal.ts'
export {
  createAccessTokenAuthenticator,
  routeAudience,
  type AccessTokenAuthenticatorDeps,
  type PrincipalAccounts,
} from './access-token.ts'
