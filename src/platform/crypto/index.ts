export {
  createKeyring,
  keyringSealer,
  KeyringError,
  type Keyring,
  type KeyringErrorCode,
  type Sealer,
} from './keyring.ts'
export { resolveSecrets, type ResolvedSecrets } from './dev-secrets.ts'
export {
  sealWithDataKey,
  sealManyWithDataKey,
  openWithDataKey,
  envelopeKeyVersion,
  DATA_KEY_BYTES,
} from './envelope.ts'
