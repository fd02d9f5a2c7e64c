export { createKeyring, keyringSealer, KeyringError, type Keyring, type KeyringErrorCode, type Sealer } from './keyring.ts'
export { resolveSecrets, type ResolvedSecrets } from './dev-secrets.ts'
