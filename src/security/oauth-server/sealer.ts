/** Encrypts secrets at rest (the keyring in platform/crypto provides it), bound to their context by aad. */
export interface Sealer {
  seal(plaintext: string, aad: string): string
  unseal(sealed: string, aad: string): string
}
