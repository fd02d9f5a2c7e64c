export type { Principal, PrincipalKind, Authenticate, Membership, PrincipalDirectory } from './principal.ts'
