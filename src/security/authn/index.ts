export type { Principal, PrincipalKind, Authenticate } from './principal.ts'
export { rejectAllTokens } from './reject-all-tokens.ts'
