export { createKeyring, KeyringError, type Keyring, type KeyringErrorCode } from './keyring.ts'
export { resolveSecrets, type ResolvedSecrets } from './dev-secrets.ts'
