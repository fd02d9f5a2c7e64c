// Per-subscription signing secrets (Standard Webhooks: "whsec_" + base64 of 32 random bytes),
// generated here, shown once, stored sealed by the keyring and bound to the subscription id —
// as OAuth client secrets are (ADR-0005, ADR-0020). After a rotation the previous secret keeps
// signing alongside the new one until its overlap ends, so receivers can switch without a gap.

import { randomBytes } from 'node:crypto'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Subscription } from './repository.ts'

export const SECRET_PREFIX = 'whsec_'

export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`
}

const aad = (subscriptionId: string) => `event-subscription:${subscriptionId}`

export function sealSecret(
  keyring: Pick<Keyring, 'encrypt'>,
  subscriptionId: string,
  secret: string,
): string {
  return keyring.encrypt(secret, aad(subscriptionId))
}

/** The secrets that sign a delivery now: the current one, and the previous one during its overlap. */
export function signingSecrets(
  keyring: Pick<Keyring, 'decryptString'>,
  s: Subscription,
  now: Date,
): string[] {
  const secrets: string[] = []
  if (s.secretSealed) secrets.push(keyring.decryptString(s.secretSealed, aad(s.id)))
  if (
    s.previousSecretSealed &&
    s.previousSecretExpiresAt &&
    s.previousSecretExpiresAt.getTime() > now.getTime()
  )
    secrets.push(keyring.decryptString(s.previousSecretSealed, aad(s.id)))
  return secrets
}
