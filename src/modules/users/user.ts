// The account domain: users, their roles and the organisations they act in.

export const ROLES = ['patient', 'caregiver', 'clinician', 'org-admin', 'admin', 'auditor'] as const
export type Role = (typeof ROLES)[number]

/** Platform-wide roles: held without an organisation. */
export const GLOBAL_ROLES: readonly Role[] = ['admin', 'auditor']
/** Roles that only exist within an organisation. */
export const ORGANISATION_ONLY_ROLES: readonly Role[] = ['org-admin', 'clinician']

/** SRS §Product contract, users: clinicians, organisation and platform admins and auditors use 2FA always. */
export const SECOND_FACTOR_ROLES: readonly Role[] = ['clinician', 'org-admin', 'admin', 'auditor']

export interface RoleGrant {
  readonly role: Role
  /** null for a global role (admin, auditor) and for a patient or caregiver not yet in an organisation. */
  readonly organisationId: string | null
}

export type UserStatus = 'active' | 'disabled'

export interface User {
  readonly id: string
  /** As the user typed it. */
  readonly email: string
  readonly displayName: string | null
  readonly status: UserStatus
  readonly emailVerifiedAt: Date | null
  readonly passwordChangedAt: Date | null
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly roles: readonly RoleGrant[]
}

export interface Organisation {
  readonly id: string
  readonly name: string
  readonly createdAt: Date
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value)
}

/** True when the grant's organisation scope fits the role (mirrors the user_roles_scope check). */
export function isValidGrant(grant: RoleGrant): boolean {
  if (GLOBAL_ROLES.includes(grant.role)) return grant.organisationId === null
  if (ORGANISATION_ONLY_ROLES.includes(grant.role)) return grant.organisationId !== null
  return true
}

export function secondFactorRequired(user: Pick<User, 'roles'>): boolean {
  return user.roles.some((grant) => SECOND_FACTOR_ROLES.includes(grant.role))
}
