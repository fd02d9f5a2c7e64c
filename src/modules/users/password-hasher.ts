// Password hashing: argon2id with the OWASP Password Storage Cheat Sheet's minimum parameters
// (m = 19456 KiB, t = 2, p = 1). Passwords are NFKC-normalised first (NIST SP 800-63B §5.1.1.2),
// so the same passphrase typed on two keyboards verifies.

import { randomBytes } from 'node:crypto'
import {
  hash as argon2Hash,
  parseOptions,
  verify as argon2Verify,
  type Algorithm,
  type Options,
} from '@node-rs/argon2'

export interface Argon2idParameters {
  /** KiB */
  readonly memoryCost: number
  readonly timeCost: number
  readonly parallelism: number
}

/** OWASP Password Storage Cheat Sheet, argon2id option 2 (19 MiB, 2 passes, 1 lane). */
export const OWASP_ARGON2ID: Argon2idParameters = { memoryCost: 19456, timeCost: 2, parallelism: 1 }

// @node-rs/argon2 declares Algorithm as an ambient const enum, which isolatedModules cannot
// read; 2 is its Argon2id member.
const ARGON2ID = 2 as Algorithm

export interface PasswordHasher {
  hash(password: string): Promise<string>
  /** False for a wrong password and for a malformed or foreign hash; never throws on input. */
  verify(passwordHash: string, password: string): Promise<boolean>
  /** True when the hash was made with other parameters (or another algorithm): rehash at next login. */
  needsRehash(passwordHash: string): boolean
  /** Spends the time of one verify against a hash with the current parameters, for an account
   *  that does not exist (or has no password), so timing does not reveal which emails exist. */
  dummyVerify(password: string): Promise<void>
}

export function createPasswordHasher(parameters: Argon2idParameters = OWASP_ARGON2ID): PasswordHasher {
  const options: Options = { ...parameters, algorithm: ARGON2ID }
  const normalize = (password: string): string => password.normalize('NFKC')
  let dummyHash: Promise<string> | undefined

  return {
    hash: (password) => argon2Hash(normalize(password), options),

    async verify(passwordHash, password) {
      try {
        return await argon2Verify(passwordHash, normalize(password))
      } catch {
        return false
      }
    },

    needsRehash(passwordHash) {
      try {
        const used = parseOptions(passwordHash)
        return (
          used.algorithm !== ARGON2ID ||
          used.memoryCost !== parameters.memoryCost ||
          used.timeCost !== parameters.timeCost ||
          used.parallelism !== parameters.parallelism
        )
      } catch {
        return true
      }
    },

    async dummyVerify(password) {
      // Made once, lazily, from random bytes nobody knows: the verify below always fails.
      dummyHash ??= argon2Hash(randomBytes(32), options)
      await argon2Verify(await dummyHash, normalize(password)).catch(() => false)
    },
  }
}
