// What the authorization server needs from the accounts module (the users module implements it;
// app.ts wires the two). Kept as a port so the protocol layer holds no account logic.

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
  | { readonly ok: true; readonly account: DirectoryAccount; readonly secondFactor: 'none' | 'verify' | 'enrol' }
  | { readonly ok: false; readonly reason: 'invalid' | 'locked' }

export interface AccountDirectory {
  findAccount(id: string): Promise<DirectoryAccount | undefined>
  /** Same result shape and similar timing whether or not the email exists. */
  checkPassword(input: { email: string; password: string; ip: string }): Promise<PasswordCheck>
  /** TOTP code or one-time recovery code. */
  verifyTotp(input: { accountId: string; code: string; ip: string }): Promise<{ ok: boolean; locked: boolean }>
  /** A new, unconfirmed TOTP secret for enrolment (kept, sealed, by the accounts module): what to show. */
  startTotpEnrolment(accountId: string): Promise<{ otpauthUri: string; qrSvgDataUrl: string; secretBase32: string }>
  /** Confirms enrolment with a first code; returns one-time recovery codes to show once. */
  confirmTotpEnrolment(input: { accountId: string; code: string }): Promise<{ ok: true; recoveryCodes: readonly string[] } | { ok: false }>
}
