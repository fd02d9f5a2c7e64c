// The users module's public face: accounts, roles and organisations, password hashing and
// policy, the second factor (TOTP, recovery codes) and login throttling. Everything else in this
// folder is private to it.

export {
  ROLES,
  GLOBAL_ROLES,
  ORGANISATION_ONLY_ROLES,
  SECOND_FACTOR_ROLES,
  isRole,
  isValidGrant,
  secondFactorRequired,
} from './user.ts'
export type { Role, RoleGrant, User, UserStatus, Organisation } from './user.ts'
export { normalizeEmail, isPlausibleEmail, emailAddressProblem } from './email-address.ts'

export {
  createPasswordHasher,
  OWASP_ARGON2ID,
  type PasswordHasher,
  type Argon2idParameters,
} from './password-hasher.ts'
export {
  checkPasswordPolicy,
  PASSWORD_MIN_LENGTH,
  PASSWORD_MAX_LENGTH,
  type PasswordPolicyViolation,
  type PasswordContext,
} from './password-policy.ts'

export {
  createUserRepository,
  type UserRepository,
  type NewUser,
  type UserCredentials,
} from './repository.ts'
export {
  createUserService,
  PASSWORD_RESET_MAX_TTL_SECONDS,
  EMAIL_VERIFICATION_TTL_SECONDS,
  type UserService,
  type UserServiceDeps,
  type CreateUserInput,
  type AuthenticateResult,
  type IssuedToken,
} from './service.ts'

export {
  createSecondFactorService,
  resetSecondFactor,
  sealerFromKeyring,
  SECOND_FACTOR_MAX_FAILURES,
  SECOND_FACTOR_LOCK_SECONDS,
  type SecondFactorService,
  type SecondFactorDeps,
  type SecretSealer,
  type SecondFactorResult,
  type SecondFactorEvent,
  type SecondFactorMethod,
  type SecondFactorStatus,
  type TotpConfirmation,
  type TotpEnrolment,
} from './second-factor.ts'
export { generateTotpSecret, provisioningUri, qrCodeDataUrl, totpCode, TOTP_ISSUER } from './totp.ts'
export { RECOVERY_CODE_COUNT, RECOVERY_CODE_LENGTH } from './recovery-codes.ts'

export {
  createLoginThrottle,
  DEFAULT_LOGIN_THROTTLE_POLICY,
  accountKey,
  userIdOfAccountKey,
  unknownAccountKey,
  ipKey,
  type LoginThrottle,
  type LoginThrottlePolicy,
  type LoginEvent,
  type LoginAttempt,
  type ThrottleCheck,
} from './login-throttle.ts'

export {
  createPasswordResetThrottle,
  DEFAULT_PASSWORD_RESET_THROTTLE_POLICY,
  type PasswordResetThrottle,
  type PasswordResetThrottlePolicy,
} from './password-reset-throttle.ts'

export { createLoginUnlock, type LoginUnlock } from './login-throttle-unlock.ts'
