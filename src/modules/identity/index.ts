// The identity module's public face: the users module seen through the ports the security layer
// declares — the authorization server's AccountDirectory and the authenticator's PrincipalDirectory.

export { createAccountDirectory, type AccountDirectoryDeps, type AccountEvent } from './account-directory.ts'
export { createPrincipalDirectory, type IdentityDirectory } from './principal-directory.repository.ts'
