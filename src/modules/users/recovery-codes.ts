// One-time recovery codes: 10 codes of 10 characters from an alphabet without look-alikes
// (no 0/O, 1/I/L). Each is ≈ 49.5 bits of randomness (10 × log2 31) chosen by the server, never by a
// person, so there is no dictionary to try: a fast hash (SHA-256) is the right store, unlike
// passwords, which need argon2. The user id is hashed in, so one guess tests one account and two
// users' identical codes do not share a hash. Shown once at enrolment; only hashes are kept.

import { createHash, randomInt } from 'node:crypto'

export const RECOVERY_CODE_COUNT = 10
export const RECOVERY_CODE_LENGTH = 10
export const RECOVERY_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ'

/** Codes for display, grouped as XXXXX-XXXXX. */
export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    let code = ''
    for (let i = 0; i < RECOVERY_CODE_LENGTH; i++)
      code += RECOVERY_CODE_ALPHABET[randomInt(RECOVERY_CODE_ALPHABET.length)]
    return `${code.slice(0, 5)}-${code.slice(5)}`
  })
}

/** Case, spaces and hyphens do not matter when a code is typed back. */
export function normalizeRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]+/g, '')
}

export function hashRecoveryCode(userId: string, code: string): string {
  return createHash('sha256')
    .update(`${userId}:${normalizeRecoveryCode(code)}`)
    .digest('hex')
}
