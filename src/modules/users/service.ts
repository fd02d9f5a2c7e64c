// Account use cases: creating users, logging in with a password, changing and resetting it,
// verifying the email. The OAuth server's login and 2FA pages call these; HTTP stays there.

import type { Database, Queryable } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { generateAccountToken, hashAccountToken } from './account-token.ts'
import { emailAddressProblem } from './email-address.ts'
import {
  accountKey,
  createLoginThrottle,
  unknownAccountKey,
  type LoginEvent,
  type LoginThrottle,
} from './login-throttle.ts'
import type { PasswordHasher } from './password-hasher.ts'
import { checkPasswordPolicy } from './password-policy.ts'
import { createUserRepository, type UserRepository } from './repository.ts'
import { createSecondFactorRepository } from './second-factor.repository.ts'
import {
  isValidGrant,
  secondFactorRequired,
  type Organisation,
  type RoleGrant,
  type User,
  type UserStatus,
} from './user.ts'

/** Upper bound for a reset link's life (issue 3: ≤ 30 minutes). */
export const PASSWORD_RESET_MAX_TTL_SECONDS = 30 * 60
export const EMAIL_VERIFICATION_TTL_SECONDS = 24 * 60 * 60

export interface CreateUserInput {
  readonly email: string
  /** Omitted for an invited account that sets its password through a reset link. */
  readonly password?: string | undefined
  readonly displayName?: string | undefined
  readonly roles?: readonly RoleGrant[]
  /** Set by trusted callers (admin creation, demo seed); self-registration verifies by mail. */
  readonly emailVerified?: boolean
}

export type AuthenticateResult =
  | {
      readonly ok: true
      readonly user: User
      /** A confirmed second factor exists: ask for it before the login completes. */
      readonly needsSecondFactor: boolean
      /** The user's roles demand a second factor and none is confirmed: enrol before going on. */
      readonly mustEnrolSecondFactor: boolean
      readonly events: readonly LoginEvent[]
    }
  | {
      readonly ok: false
      /** The same for an unknown email, a wrong password, a disabled account or no password. */
      readonly reason: 'invalid' | 'locked'
      readonly lockedUntil?: Date
      readonly events: readonly LoginEvent[]
    }

export interface IssuedToken {
  /** Goes into the mailed link; never stored. */
  readonly token: string
  readonly userId: string
  readonly expiresAt: Date
}

/**
 * The caller's work in the transaction that changes an account (sets its password, disables it):
 * ending the account's sessions and tokens. The change is made only with it, and it only with the
 * change.
 */
export type AlsoInTransaction = (tx: Queryable, userId: string) => Promise<unknown>

export interface UserService {
  /** Self-registration: a patient without an organisation; the email is verified by mail. */
  register(input: { email: string; password: string; displayName?: string | undefined }): Promise<User>
  /** VALIDATION_FAILED (email, roles, password policy — reasons in `errors`), EMAIL_TAKEN. */
  createUser(input: CreateUserInput): Promise<User>
  /** trustedDevice: a sign-in device cookie the caller verified (security/oauth-server/device-cookies.ts); it counts only when it names the account signing in. */
  authenticate(input: {
    email: string
    password: string
    ip?: string | undefined
    trustedDevice?: { accountId: string; deviceId: string } | undefined
  }): Promise<AuthenticateResult>
  secondFactorRequired(user: Pick<User, 'roles'>): boolean
  /** FORBIDDEN for a wrong current password (counted like a failed login), RATE_LIMITED while locked. */
  changePassword(input: {
    userId: string
    currentPassword: string
    newPassword: string
    ip?: string | undefined
    alsoInTransaction?: AlsoInTransaction | undefined
  }): Promise<void>
  /** undefined for an unknown or disabled email: the caller answers the same either way. */
  createPasswordResetToken(email: string): Promise<IssuedToken | undefined>
  /** The account of an unused, unexpired reset token, without using it (the link's page shows
   *  its form only for a live link); undefined otherwise. */
  peekPasswordResetToken(token: string): Promise<User | undefined>
  /** The user of an unused, unexpired email verification token, without using it. */
  peekEmailVerificationToken(token: string): Promise<User | undefined>
  /** Single use; LINK_NOT_USABLE for an unknown, used or expired token, VALIDATION_FAILED for the policy
   *  (the token then stays usable). Also verifies the email and clears the login counter. */
  consumePasswordResetToken(
    token: string,
    newPassword: string,
    alsoInTransaction?: AlsoInTransaction,
  ): Promise<User>
  createEmailVerificationToken(userId: string): Promise<IssuedToken>
  consumeEmailVerificationToken(token: string): Promise<User>
  findById(id: string): Promise<User | undefined>
  findByEmail(email: string): Promise<User | undefined>
  setStatus(userId: string, status: UserStatus, alsoInTransaction?: AlsoInTransaction): Promise<void>
  /** False when already held. VALIDATION_FAILED for a scope that does not fit the role. */
  addRole(userId: string, grant: RoleGrant): Promise<boolean>
  /** False when the user does not hold the role in that scope. */
  removeRole(userId: string, grant: RoleGrant): Promise<boolean>
  /** ORGANISATION_NAME_TAKEN when the name is taken. */
  createOrganisation(name: string): Promise<Organisation>
  findOrganisationByName(name: string): Promise<Organisation | undefined>
}

export interface UserServiceDeps {
  readonly db: Database
  readonly hasher: PasswordHasher
  readonly clock: () => Date
  readonly throttle?: LoginThrottle
  readonly repository?: UserRepository
  readonly passwordResetTtlSeconds?: number
}

function policyError(reasons: readonly string[]): AppError {
  return new AppError('VALIDATION_FAILED', 'The password does not meet the password policy', {
    errors: reasons.map((reason) => ({ pointer: '/password', detail: reason })),
  })
}

const invalidToken = (): AppError => new AppError('LINK_NOT_USABLE')

export function createUserService(deps: UserServiceDeps): UserService {
  const { db, hasher, clock } = deps
  const repo = deps.repository ?? createUserRepository(db)
  const secondFactors = createSecondFactorRepository(db)
  const throttle = deps.throttle ?? createLoginThrottle({ db, clock })
  const resetTtl = Math.min(
    deps.passwordResetTtlSeconds ?? PASSWORD_RESET_MAX_TTL_SECONDS,
    PASSWORD_RESET_MAX_TTL_SECONDS,
  )

  async function hashAccepted(password: string, email: string): Promise<string> {
    const reasons = checkPasswordPolicy(password, { email })
    if (reasons.length > 0) throw policyError(reasons)
    return hasher.hash(password)
  }

  async function assertGrants(grants: readonly RoleGrant[]): Promise<void> {
    for (const grant of grants) {
      const orgMissing =
        grant.organisationId !== null && !(await repo.findOrganisationById(grant.organisationId))
      if (!isValidGrant(grant) || orgMissing) {
        throw new AppError('VALIDATION_FAILED', 'A role does not fit its organisation scope', {
          errors: [
            {
              pointer: '/roles',
              detail: `${grant.role} ${grant.organisationId === null ? 'without' : 'with'} an organisation${orgMissing ? ' that does not exist' : ''}`,
            },
          ],
        })
      }
    }
  }

  async function createUser(input: CreateUserInput): Promise<User> {
    // One policy for every address that enters (ADR-0015): plain ASCII, so no look-alike of another account.
    const emailProblem = emailAddressProblem(input.email)
    if (emailProblem)
      throw new AppError('VALIDATION_FAILED', `The email address ${emailProblem}`, {
        errors: [{ pointer: '/email', detail: `the address ${emailProblem}` }],
      })
    const roles = input.roles ?? []
    await assertGrants(roles)
    const conflict = (): AppError => new AppError('EMAIL_TAKEN')
    if (await repo.findByEmail(input.email)) throw conflict()
    const passwordHash = input.password === undefined ? null : await hashAccepted(input.password, input.email)
    const now = clock()
    const user = await repo.create({
      email: input.email.trim(),
      passwordHash,
      // A patient's name is PHI: it lives only in their patient record, sealed with their data key
      // (ADR-0009), never in users.display_name in plaintext.
      displayName: roles.some((r) => r.role === 'patient') ? null : input.displayName?.trim() || null,
      roles,
      emailVerifiedAt: input.emailVerified ? now : null,
      now,
    })
    if (!user) throw conflict() // lost a race with a concurrent registration of the same email
    return user
  }

  async function issueToken(
    kind: 'email_verification' | 'password_reset',
    userId: string,
    ttlSeconds: number,
  ): Promise<IssuedToken> {
    const token = generateAccountToken()
    const now = clock()
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000)
    await repo.insertToken(kind, { tokenHash: hashAccountToken(token), userId, expiresAt, now })
    return { token, userId, expiresAt }
  }

  /** Changes an account by `write` (the user's id when it did), and the caller's work, in one transaction. */
  function changingAccount(
    write: (q: Queryable) => Promise<string | undefined>,
    alsoInTransaction: AlsoInTransaction | undefined,
  ): Promise<string | undefined> {
    return db.transaction(async (tx) => {
      const userId = await write(tx)
      if (userId !== undefined) await alsoInTransaction?.(tx, userId)
      return userId
    })
  }

  async function mustFind(userId: string): Promise<User> {
    const user = await repo.findById(userId)
    if (!user) throw new AppError('NOT_FOUND', 'The account was not found')
    return user
  }

  return {
    register: ({ email, password, displayName }) =>
      createUser({ email, password, displayName, roles: [{ role: 'patient', organisationId: null }] }),

    createUser,

    async authenticate({ email, password, ip, trustedDevice }) {
      const credentials = await repo.findCredentialsByEmail(email)
      const device =
        credentials && trustedDevice?.accountId === credentials.user.id ? trustedDevice.deviceId : undefined
      const attempt = {
        accountKey: credentials ? accountKey(credentials.user.id) : unknownAccountKey(email),
        ip,
        trustedDevice: device,
      }
      const check = await throttle.check(attempt)
      if (!check.allowed) {
        // A delayed attempt costs the same argon2 verify as any other (ADR-0014): the answer's
        // timing says nothing about delays, nor about which addresses have accounts.
        await hasher.dummyVerify(password)
        return { ok: false, reason: 'locked', lockedUntil: check.lockedUntil, events: check.events }
      }

      // An unknown email (or an account without a password) costs one argon2 verify too, so
      // the answer's shape and timing do not reveal which emails have accounts.
      let valid = false
      if (credentials?.passwordHash) valid = await hasher.verify(credentials.passwordHash, password)
      else await hasher.dummyVerify(password)

      if (!credentials?.passwordHash || !valid || credentials.user.status !== 'active') {
        const failure = await throttle.recordFailure(attempt)
        return failure.lockedUntil
          ? { ok: false, reason: 'locked', lockedUntil: failure.lockedUntil, events: failure.events }
          : { ok: false, reason: 'invalid', events: failure.events }
      }

      const { user } = credentials
      if (hasher.needsRehash(credentials.passwordHash))
        await repo.replacePasswordHash(user.id, await hasher.hash(password), clock())
      const success = await throttle.recordSuccess(attempt)
      // Through a device cookie only the device's count is cleared: strangers stay delayed (ADR-0014).
      const totp = await secondFactors.findTotp(user.id)
      const enrolled = totp !== undefined && totp.confirmedAt !== null
      return {
        ok: true,
        user,
        needsSecondFactor: enrolled,
        mustEnrolSecondFactor: secondFactorRequired(user) && !enrolled,
        events: success.events,
      }
    },

    secondFactorRequired,

    async changePassword({ userId, currentPassword, newPassword, ip, alsoInTransaction }) {
      const user = await mustFind(userId)
      const attempt = { accountKey: accountKey(userId), ip }
      const check = await throttle.check(attempt)
      if (!check.allowed) {
        const retryAfter = Math.max(1, Math.ceil((check.lockedUntil.getTime() - clock().getTime()) / 1000))
        throw new AppError('RATE_LIMITED', 'Too many failed attempts; try again later', {
          headers: { 'retry-after': String(retryAfter) },
        })
      }
      const currentHash = await repo.findPasswordHash(userId)
      if (!currentHash || !(await hasher.verify(currentHash, currentPassword))) {
        await throttle.recordFailure(attempt)
        throw new AppError('FORBIDDEN', 'The current password is not correct')
      }
      const passwordHash = await hashAccepted(newPassword, user.email)
      await changingAccount(async (q) => {
        await repo.setPassword(userId, passwordHash, clock(), q)
        return userId
      }, alsoInTransaction)
    },

    async createPasswordResetToken(email) {
      const user = await repo.findByEmail(email)
      if (!user || user.status !== 'active') return undefined
      return issueToken('password_reset', user.id, resetTtl)
    },

    async peekPasswordResetToken(token) {
      const userId = await repo.peekToken('password_reset', hashAccountToken(token), clock())
      return userId === undefined ? undefined : repo.findById(userId)
    },

    async peekEmailVerificationToken(token) {
      const userId = await repo.peekToken('email_verification', hashAccountToken(token), clock())
      return userId === undefined ? undefined : repo.findById(userId)
    },

    async consumePasswordResetToken(token, newPassword, alsoInTransaction) {
      const tokenHash = hashAccountToken(token)
      const userId = await repo.peekToken('password_reset', tokenHash, clock())
      const user = userId && (await repo.findById(userId))
      if (!user) throw invalidToken()
      // Policy first: a refused password leaves the link usable for another try.
      const passwordHash = await hashAccepted(newPassword, user.email)
      // The sign-in delay goes with the password it counted against, in the same transaction: a
      // failure clearing it after the reset had committed answered 500 with the link used up.
      const changed = await changingAccount(async (q) => {
        const id = await repo.consumePasswordResetToken(tokenHash, passwordHash, clock(), q)
        if (id !== undefined) await throttle.recordSuccess({ accountKey: accountKey(id) }, q)
        return id
      }, alsoInTransaction)
      if (!changed) throw invalidToken()
      return mustFind(user.id)
    },

    async createEmailVerificationToken(userId) {
      const user = await mustFind(userId)
      return issueToken('email_verification', user.id, EMAIL_VERIFICATION_TTL_SECONDS)
    },

    async consumeEmailVerificationToken(token) {
      const userId = await repo.consumeEmailVerificationToken(hashAccountToken(token), clock())
      if (!userId) throw invalidToken()
      return mustFind(userId)
    },

    findById: (id) => repo.findById(id),
    findByEmail: (email) => repo.findByEmail(email),
    async setStatus(userId, status, alsoInTransaction) {
      await changingAccount(async (q) => {
        await repo.setStatus(userId, status, clock(), q)
        return userId
      }, alsoInTransaction)
    },

    async addRole(userId, grant) {
      await assertGrants([grant])
      return repo.addRole(userId, grant)
    },

    removeRole: (userId, grant) => repo.removeRole(userId, grant),

    async createOrganisation(name) {
      const organisation = await repo.createOrganisation(name.trim())
      if (!organisation) throw new AppError('ORGANISATION_NAME_TAKEN')
      return organisation
    },

    findOrganisationByName: (name) => repo.findOrganisationByName(name.trim()),
  }
}
