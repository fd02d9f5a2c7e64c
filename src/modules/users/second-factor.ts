// The second factor: TOTP enrolment and verification, recovery codes. Mandatory for clinicians,
// organisation admins, admins and auditors (user.ts, SECOND_FACTOR_ROLES); available to anyone.
//   - a code is accepted once: the accepted time step is recorded and only a later step passes,
//     in one guarded UPDATE, so two concurrent uses of one code cannot both succeed;
//   - five wrong codes (TOTP or recovery) lock the factor for 15 minutes; while locked even a
//     right code is refused; a success resets the count;
//   - the TOTP secret is stored sealed (AES-GCM through the keyring), bound to the user id.

import { AppError } from '../../platform/http/errors.ts'
import { keyringSealer, type Keyring } from '../../platform/crypto/index.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { generateRecoveryCodes, hashRecoveryCode } from './recovery-codes.ts'
import type { AlsoInTransaction } from './service.ts'
import {
  createSecondFactorRepository,
  deleteSecondFactors,
  type TotpCredential,
} from './second-factor.repository.ts'
import {
  generateTotpSecret,
  matchingSteps,
  normalizeTotpCode,
  provisioningUri,
  qrCodeDataUrl,
} from './totp.ts'

export const SECOND_FACTOR_MAX_FAILURES = 5
export const SECOND_FACTOR_LOCK_SECONDS = 15 * 60

/** Encrypts and decrypts a secret with associated data (the keyring, wired by the caller). */
export interface SecretSealer {
  seal(plaintext: string, aad: string): string | Promise<string>
  unseal(sealed: string, aad: string): string | Promise<string>
}

/** The keyring as a sealer (AES-256-GCM, the newest key; older keys still open). */
export function sealerFromKeyring(keyring: Pick<Keyring, 'encrypt' | 'decryptString'>): SecretSealer {
  return keyringSealer(keyring)
}

export type SecondFactorMethod = 'totp' | 'recovery_code'

/** Audit-ready facts; the caller adds who, from where and the request id. */
export type SecondFactorEvent =
  | {
      readonly type: 'second_factor.succeeded'
      readonly userId: string
      readonly method: SecondFactorMethod
      readonly at: Date
    }
  | {
      readonly type: 'second_factor.failed'
      readonly userId: string
      readonly method: SecondFactorMethod
      readonly reason: 'invalid' | 'replayed'
      readonly failures: number
      readonly at: Date
    }
  /** This failure locked the factor. */
  | {
      readonly type: 'second_factor.locked'
      readonly userId: string
      readonly method: SecondFactorMethod
      readonly lockedUntil: Date
      readonly at: Date
    }
  /** An attempt refused, unchecked, because the factor is locked. */
  | {
      readonly type: 'second_factor.blocked'
      readonly userId: string
      readonly method: SecondFactorMethod
      readonly lockedUntil: Date
      readonly at: Date
    }

export type SecondFactorFailureReason = 'invalid' | 'replayed' | 'locked' | 'not_enrolled'

export type SecondFactorResult =
  | { readonly ok: true; readonly events: readonly SecondFactorEvent[] }
  | {
      readonly ok: false
      readonly reason: SecondFactorFailureReason
      /** Set when the factor is locked (by this attempt or before it). */
      readonly lockedUntil?: Date
      readonly events: readonly SecondFactorEvent[]
    }

export type TotpConfirmation =
  | {
      readonly ok: true
      readonly recoveryCodes: readonly string[]
      readonly events: readonly SecondFactorEvent[]
    }
  | Extract<SecondFactorResult, { ok: false }>

export interface TotpEnrolment {
  /** base32; shown for manual entry, never stored in clear. */
  readonly secret: string
  readonly provisioningUri: string
  readonly qrCodeDataUrl: string
}

export interface SecondFactorStatus {
  readonly totp: 'none' | 'pending' | 'enrolled'
  readonly lockedUntil: Date | null
  readonly recoveryCodesLeft: number
}

export interface SecondFactorService {
  /** Stores a new pending secret (replacing a pending one); SECOND_FACTOR_ALREADY_ENROLLED when one is confirmed. */
  startTotpEnrolment(input: { userId: string; email: string; secret?: string }): Promise<TotpEnrolment>
  /** The first right code confirms the enrolment and returns ten recovery codes, shown once; the
   *  confirmation, the codes and the caller's work are written in one transaction. */
  confirmTotpEnrolment(
    userId: string,
    code: string,
    now?: Date,
    alsoInTransaction?: AlsoInTransaction,
  ): Promise<TotpConfirmation>
  verify(userId: string, code: string, now?: Date): Promise<SecondFactorResult>
  useRecoveryCode(userId: string, code: string, now?: Date): Promise<SecondFactorResult>
  /** Replaces all recovery codes (the old ones stop working). */
  regenerateRecoveryCodes(userId: string, now?: Date): Promise<string[]>
  status(userId: string, now?: Date): Promise<SecondFactorStatus>
  isEnrolled(userId: string): Promise<boolean>
  removeTotp(userId: string): Promise<void>
}

export interface SecondFactorDeps {
  readonly db: Database
  readonly sealer: SecretSealer
  readonly clock: () => Date
  readonly issuer?: string
}

// Associated data binds a sealed secret to its row: copied to another user, it does not open.
const aadFor = (userId: string): string => `vigil:totp:${userId}`

export function createSecondFactorService({
  db,
  sealer,
  clock,
  issuer,
}: SecondFactorDeps): SecondFactorService {
  const repo = createSecondFactorRepository(db)

  const blocked = (
    userId: string,
    method: SecondFactorMethod,
    lockedUntil: Date,
    at: Date,
  ): SecondFactorResult => ({
    ok: false,
    reason: 'locked',
    lockedUntil,
    events: [{ type: 'second_factor.blocked', userId, method, lockedUntil, at }],
  })

  async function fail(
    userId: string,
    method: SecondFactorMethod,
    reason: 'invalid' | 'replayed',
    at: Date,
  ): Promise<SecondFactorResult> {
    const failure = await repo.recordFailure(
      userId,
      at,
      SECOND_FACTOR_MAX_FAILURES,
      SECOND_FACTOR_LOCK_SECONDS,
    )
    const failures = failure?.failedCount ?? 0
    const events: SecondFactorEvent[] = [
      { type: 'second_factor.failed', userId, method, reason, failures, at },
    ]
    const lockedUntil = failure?.lockedUntil ?? undefined
    if (lockedUntil && failures === SECOND_FACTOR_MAX_FAILURES)
      events.push({ type: 'second_factor.locked', userId, method, lockedUntil, at })
    return lockedUntil ? { ok: false, reason, lockedUntil, events } : { ok: false, reason, events }
  }

  const isLocked = (cred: TotpCredential, at: Date): cred is TotpCredential & { lockedUntil: Date } =>
    cred.lockedUntil !== null && cred.lockedUntil > at

  /** A TOTP code checked against the credential, and its step accepted by `accept` (a write that says whether it took it). */
  async function checkTotp(
    userId: string,
    code: string,
    at: Date,
    confirming: boolean,
    accept: (secretSealed: string, step: number) => Promise<boolean>,
  ): Promise<SecondFactorResult> {
    const cred = await repo.findTotp(userId)
    if (!cred || (cred.confirmedAt === null) !== confirming)
      return { ok: false, reason: 'not_enrolled', events: [] }
    if (isLocked(cred, at)) return blocked(userId, 'totp', cred.lockedUntil, at)
    const secret = await sealer.unseal(cred.secretSealed, aadFor(userId))
    const steps = matchingSteps(secret, normalizeTotpCode(code), at)
    const fresh = steps.find((step) => cred.lastUsedStep === null || step > cred.lastUsedStep)
    if (fresh !== undefined && (await accept(cred.secretSealed, fresh))) {
      return { ok: true, events: [{ type: 'second_factor.succeeded', userId, method: 'totp', at }] }
    }
    // A right code for a step already used, or one a concurrent request took first: a replay.
    return fail(userId, 'totp', steps.length > 0 ? 'replayed' : 'invalid', at)
  }

  /** Replaces the user's recovery codes with `codes` (their hashes); on `q` when given. */
  function storeRecoveryCodes(userId: string, codes: readonly string[], at: Date, q?: Queryable) {
    return repo.replaceRecoveryCodes(
      userId,
      codes.map((c) => hashRecoveryCode(userId, c)),
      at,
      q,
    )
  }

  return {
    async startTotpEnrolment({ userId, email, secret = generateTotpSecret() }) {
      const sealed = await sealer.seal(secret, aadFor(userId))
      if (!(await repo.savePendingTotp(userId, sealed, clock())))
        throw new AppError('SECOND_FACTOR_ALREADY_ENROLLED')
      const uri = provisioningUri(email, secret, issuer)
      return { secret, provisioningUri: uri, qrCodeDataUrl: await qrCodeDataUrl(uri) }
    },

    async confirmTotpEnrolment(userId, code, now = clock(), alsoInTransaction) {
      // The factor confirmed, its recovery codes and the caller's work (the sign-in's next step)
      // in one transaction: a failure between them left the factor confirmed with no recovery
      // code, and the person's retry refused as not enrolled, so no code was ever shown.
      const recoveryCodes = generateRecoveryCodes()
      const result = await checkTotp(userId, code, now, true, (secretSealed, step) =>
        db.transaction(async (tx) => {
          if (!(await repo.acceptTotpStep(userId, secretSealed, step, now, true, tx))) return false
          await storeRecoveryCodes(userId, recoveryCodes, now, tx)
          await alsoInTransaction?.(tx, userId)
          return true
        }),
      )
      return result.ok ? { ok: true, recoveryCodes, events: result.events } : result
    },

    verify: (userId, code, now = clock()) =>
      checkTotp(userId, code, now, false, (secretSealed, step) =>
        repo.acceptTotpStep(userId, secretSealed, step, now, false),
      ),

    async useRecoveryCode(userId, code, now = clock()) {
      const cred = await repo.findTotp(userId)
      if (!cred || cred.confirmedAt === null) return { ok: false, reason: 'not_enrolled', events: [] }
      if (isLocked(cred, now)) return blocked(userId, 'recovery_code', cred.lockedUntil, now)
      if (await repo.useRecoveryCode(userId, hashRecoveryCode(userId, code), now)) {
        await repo.resetFailures(userId)
        return {
          ok: true,
          events: [{ type: 'second_factor.succeeded', userId, method: 'recovery_code', at: now }],
        }
      }
      return fail(userId, 'recovery_code', 'invalid', now)
    },

    async regenerateRecoveryCodes(userId, now = clock()) {
      const cred = await repo.findTotp(userId)
      if (!cred || cred.confirmedAt === null)
        throw new AppError('SECOND_FACTOR_NOT_ENROLLED', 'Recovery codes need an enrolled second factor')
      const codes = generateRecoveryCodes()
      await storeRecoveryCodes(userId, codes, now)
      return codes
    },

    async status(userId, now = clock()) {
      const cred = await repo.findTotp(userId)
      return {
        totp: !cred ? 'none' : cred.confirmedAt === null ? 'pending' : 'enrolled',
        lockedUntil: cred && isLocked(cred, now) ? cred.lockedUntil : null,
        recoveryCodesLeft: cred ? await repo.countUnusedRecoveryCodes(userId) : 0,
      }
    },

    async isEnrolled(userId) {
      const cred = await repo.findTotp(userId)
      return cred !== undefined && cred.confirmedAt !== null
    },

    removeTotp: (userId) => repo.deleteTotp(userId),
  }
}

/**
 * An administrator's reset of a user's second factor (ADR-0027): the TOTP credential, confirmed or
 * pending, and every recovery code go, in one transaction with the request's audit entry. Returns
 * what was removed; the user enrols again at their next sign-in.
 */
export function resetSecondFactor(
  db: Database,
  userId: string,
  audit: (
    tx: Queryable,
    entry: { status: number; action: string; resourceType: string; resourceId: string },
  ) => Promise<void>,
): Promise<{ totp: boolean; recoveryCodes: number }> {
  return db.transaction(async (tx) => {
    const removed = await deleteSecondFactors(tx, userId)
    await audit(tx, {
      status: 200,
      action: 'second_factor.reset',
      resourceType: 'account',
      resourceId: userId,
    })
    return removed
  })
}
