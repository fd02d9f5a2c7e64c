// What the authorization server needs from the accounts module (the users module implements it;
// app.ts wires the two). Kept as a port so the protocol layer holds no account logic.

import type { Queryable } from '../../platform/db/index.ts'

export type Role = 'patient' | 'caregiver' | 'clinician' | 'org-admin' | 'admin' | 'auditor'

export interface DirectoryAccount {
  readonly id: string
  readonly email: string
  readonly emailVerified: boolean
  readonly displayName: string | null
  readonly status: 'active' | 'disabled'
  readonly roles: readonly Role[]
}

export type PasswordCheck =
  | {
      readonly ok: true
      readonly account: DirectoryAccount
      readonly secondFactor: 'none' | 'verify' | 'enrol'
    }
  | { readonly ok: false; readonly reason: 'invalid' | 'locked' }

/** The outcome of setting a password (reset link or change). `problems` are the password policy's
 *  reason codes (too_short, common, …), never the password. */
export type PasswordUpdate =
  | { readonly ok: true; readonly accountId: string }
  | { readonly ok: false; readonly reason: 'invalid-link' | 'wrong-password' | 'locked' }
  | { readonly ok: false; readonly reason: 'policy'; readonly problems: readonly string[] }

/**
 * The authorization server's work in the transaction that changes an account: ending its sessions
 * and tokens when a password is set (revoke-account.ts), so the password never changes without
 * them ending; the sign-in's next step when a second factor is confirmed.
 */
export type AccountTransactionWork = (tx: Queryable, accountId: string) => Promise<unknown>

export interface PasswordResetLink {
  /** Goes into the mailed link only; never logged or stored. */
  readonly token: string
  /** The account's address as stored, where the link is sent. */
  readonly email: string
  readonly expiresAt: Date
}

export interface AccountDirectory {
  findAccount(id: string): Promise<DirectoryAccount | undefined>
  /** The account's FHIR identity (SMART fhirUser and launch/patient): its own patient record, if
   *  any and not erased, and whether it holds a clinician role. */
  fhirIdentity(accountId: string): Promise<{ patientId: string | null; clinician: boolean }>
  /** Same result shape and similar timing whether or not the email exists. */
  /** trustedDevice: the sign-in device cookie the page verified (ADR-0014). */
  checkPassword(input: {
    email: string
    password: string
    ip: string
    trustedDevice?: { accountId: string; deviceId: string } | undefined
  }): Promise<PasswordCheck>
  /** TOTP code or one-time recovery code. */
  verifyTotp(input: {
    accountId: string
    code: string
    ip: string
  }): Promise<{ ok: boolean; locked: boolean }>
  /** A new, unconfirmed TOTP secret for enrolment (kept, sealed, by the accounts module): what to show. */
  startTotpEnrolment(
    accountId: string,
  ): Promise<{ otpauthUri: string; qrSvgDataUrl: string; secretBase32: string }>
  /** Confirms enrolment with a first code; returns one-time recovery codes to show once. */
  confirmTotpEnrolment(input: {
    accountId: string
    code: string
    /** The sign-in's next step, recorded in the transaction that confirms the factor. */
    alsoInTransaction?: AccountTransactionWork
  }): Promise<{ ok: true; recoveryCodes: readonly string[] } | { ok: false }>
  /** A reset link for an active account, within the per-address and per-IP request limits;
   *  undefined otherwise (unknown, disabled, throttled) — the caller answers the same either way. */
  requestPasswordReset(input: { email: string; ip: string }): Promise<PasswordResetLink | undefined>
  /** The account a live (unused, unexpired) reset link belongs to, without using the link. */
  findPasswordResetAccount(token: string): Promise<DirectoryAccount | undefined>
  /** Uses the link once and sets the password; a policy refusal leaves the link usable. */
  completePasswordReset(input: {
    token: string
    newPassword: string
    alsoInTransaction?: AccountTransactionWork
  }): Promise<PasswordUpdate>
  /** Checks the current password (throttled like a login) and sets the new one. */
  changePassword(input: {
    accountId: string
    currentPassword: string
    newPassword: string
    ip: string
    alsoInTransaction?: AccountTransactionWork
  }): Promise<PasswordUpdate>
}
