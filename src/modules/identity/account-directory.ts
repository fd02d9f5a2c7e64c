// The users module seen through the authorization server's port (AccountDirectory): password
// checks with throttling, the second factor, enrolment, and password reset and change. The events
// the users module reports (failures, locks) are handed to onEvent, which app.ts turns into log
// lines and audit entries (ADR-0006, security events).

import { keyringSealer, type Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import type {
  AccountDirectory,
  DirectoryAccount,
  PasswordUpdate,
  Role,
} from '../../security/oauth-server/index.ts'
import {
  createPasswordHasher,
  createPasswordResetThrottle,
  createSecondFactorService,
  createUserService,
  type PasswordHasher,
  type PasswordResetThrottlePolicy,
  type User,
  type UserService,
} from '../users/index.ts'
import * as repo from './repository.ts'

export type AccountEvent = { readonly type: string } & Record<string, unknown>

function toDirectoryAccount(user: User): DirectoryAccount {
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerifiedAt !== null,
    displayName: user.displayName,
    status: user.status,
    roles: [...new Set(user.roles.map((g) => g.role as Role))],
  }
}

/** The users module's refusals as the port's outcomes; anything else is a fault and propagates. */
function refusal(err: unknown): PasswordUpdate {
  if (!(err instanceof AppError)) throw err
  switch (err.code) {
    case 'VALIDATION_FAILED':
      return { ok: false, reason: 'policy', problems: (err.errors ?? []).map((e) => e.detail) }
    case 'LINK_NOT_USABLE':
      return { ok: false, reason: 'invalid-link' }
    case 'FORBIDDEN':
      return { ok: false, reason: 'wrong-password' }
    case 'RATE_LIMITED':
      return { ok: false, reason: 'locked' }
    default:
      throw err
  }
}

/** Recovery codes are 10 characters of an unambiguous alphabet; TOTP codes are 6 digits. */
const looksLikeRecoveryCode = (code: string) => /^[A-Za-z0-9-]{10,12}$/.test(code) && !/^\d+$/.test(code)

export interface AccountDirectoryDeps {
  readonly db: Database
  readonly keyring: Keyring
  readonly clock?: () => Date
  readonly hasher?: PasswordHasher
  /** The user service to act through (the composition root's); default: one built here on db. */
  readonly users?: UserService
  readonly onEvent?: (event: AccountEvent) => void
  readonly passwordResetThrottle?: PasswordResetThrottlePolicy
}

export function createAccountDirectory(
  deps: AccountDirectoryDeps,
): AccountDirectory & { users: ReturnType<typeof createUserService> } {
  const clock = deps.clock ?? (() => new Date())
  const users =
    deps.users ?? createUserService({ db: deps.db, hasher: deps.hasher ?? createPasswordHasher(), clock })
  const secondFactor = createSecondFactorService({
    db: deps.db,
    clock,
    sealer: keyringSealer(deps.keyring),
  })
  const resetThrottle = createPasswordResetThrottle({
    db: deps.db,
    clock,
    ...(deps.passwordResetThrottle ? { policy: deps.passwordResetThrottle } : {}),
  })
  const emit = (events: readonly object[]) => {
    for (const e of events) deps.onEvent?.(e as AccountEvent)
  }

  return {
    users,
    async findAccount(id) {
      const user = await users.findById(id)
      return user && toDirectoryAccount(user)
    },

    fhirIdentity: (accountId) => repo.fhirIdentity(deps.db, accountId),

    async checkPassword({ email, password, ip, trustedDevice }) {
      const result = await users.authenticate({ email, password, ip, trustedDevice })
      emit(result.events)
      if (!result.ok) return { ok: false, reason: result.reason }
      const secondFactorStep = result.needsSecondFactor
        ? 'verify'
        : result.mustEnrolSecondFactor
          ? 'enrol'
          : 'none'
      return { ok: true, account: toDirectoryAccount(result.user), secondFactor: secondFactorStep }
    },

    async verifyTotp({ accountId, code }) {
      const result = looksLikeRecoveryCode(code)
        ? await secondFactor.useRecoveryCode(accountId, code)
        : await secondFactor.verify(accountId, code)
      emit(result.events)
      return { ok: result.ok, locked: !result.ok && result.reason === 'locked' }
    },

    async startTotpEnrolment(accountId) {
      const user = await users.findById(accountId)
      if (!user) throw new Error('enrolment for an unknown account')
      const enrolment = await secondFactor.startTotpEnrolment({ userId: accountId, email: user.email })
      return {
        otpauthUri: enrolment.provisioningUri,
        qrSvgDataUrl: enrolment.qrCodeDataUrl,
        secretBase32: enrolment.secret,
      }
    },

    async confirmTotpEnrolment({ accountId, code, alsoInTransaction }) {
      const result = await secondFactor.confirmTotpEnrolment(accountId, code, undefined, alsoInTransaction)
      emit(result.events)
      return result.ok ? { ok: true, recoveryCodes: result.recoveryCodes } : { ok: false }
    },

    async requestPasswordReset({ email, ip }) {
      if (!(await resetThrottle.admit({ email, ip }))) {
        emit([{ type: 'password.reset-throttled', at: clock() }])
        return undefined
      }
      const issued = await users.createPasswordResetToken(email)
      const user = issued && (await users.findById(issued.userId))
      if (!issued || !user) return undefined
      emit([{ type: 'password.reset-requested', userId: user.id, at: clock() }])
      return { token: issued.token, email: user.email, expiresAt: issued.expiresAt }
    },

    async findPasswordResetAccount(token) {
      const user = await users.peekPasswordResetToken(token)
      return user && user.status === 'active' ? toDirectoryAccount(user) : undefined
    },

    async completePasswordReset({ token, newPassword, alsoInTransaction }) {
      try {
        const user = await users.consumePasswordResetToken(token, newPassword, alsoInTransaction)
        emit([{ type: 'password.reset', userId: user.id, at: clock() }])
        return { ok: true, accountId: user.id }
      } catch (err) {
        return refusal(err)
      }
    },

    async changePassword({ accountId, currentPassword, newPassword, ip, alsoInTransaction }) {
      try {
        await users.changePassword({ userId: accountId, currentPassword, newPassword, ip, alsoInTransaction })
        emit([{ type: 'password.changed', userId: accountId, at: clock() }])
        return { ok: true, accountId }
      } catch (err) {
        return refusal(err)
      }
    },
  }
}
