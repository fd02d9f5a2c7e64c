export type { Principal, PrincipalKind, Authenticate, Membership, PrincipalDirectory } from './principal.ts'
export { rejectAllTokens } from './reject-all-tokens.ts'
