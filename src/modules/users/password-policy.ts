// Password policy after NIST SP 800-63B §5.1.1.2 (memorized secrets):
// - at least 8 characters, counted as Unicode code points after NFKC normalisation; up to 128
//   accepted (the guideline asks for at least 64), so passphrases fit;
// - no composition rules (no "one digit, one symbol") and no periodic expiry;
// - refuse values from lists of commonly used or breached passwords, context-specific words (the
//   email's local part) and repetitive characters.
// The result is a list of reason codes; the password itself never appears in a message or error.

import { dictionary } from '@zxcvbn-ts/language-common'
import { emailLocalPart, normalizeEmail } from './email-address.ts'

export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 128

export type PasswordPolicyViolation =
  'too_short' | 'too_long' | 'common' | 'contains_email' | 'repeated_character'

export interface PasswordContext {
  /** The account's email: a password equal to or containing its local part is refused. */
  readonly email?: string | undefined
}

// The shipped list: zxcvbn-ts's common-passwords dictionary (≈ 49k entries drawn from breach
// corpora, all lower case). Built into a Set on first use and kept: it is immutable data.
let commonPasswords: ReadonlySet<string> | undefined
function isCommon(candidate: string): boolean {
  commonPasswords ??= new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()))
  return commonPasswords.has(candidate)
}

// A local part shorter than this would refuse too much by containment (any password holding "al");
// equality is still refused.
const MIN_LOCAL_PART_FOR_CONTAINMENT = 3

export function checkPasswordPolicy(
  password: string,
  context: PasswordContext = {},
): PasswordPolicyViolation[] {
  const normalized = password.normalize('NFKC')
  const codePoints = [...normalized]
  const lower = normalized.toLowerCase()
  const reasons: PasswordPolicyViolation[] = []

  if (codePoints.length < PASSWORD_MIN_LENGTH) reasons.push('too_short')
  if (codePoints.length > PASSWORD_MAX_LENGTH) reasons.push('too_long')
  if (codePoints.length > 0 && codePoints.every((c) => c === codePoints[0]))
    reasons.push('repeated_character')
  if (isCommon(lower)) reasons.push('common')

  if (context.email !== undefined) {
    const local = emailLocalPart(context.email)
    const containsLocal =
      local.length >= MIN_LOCAL_PART_FOR_CONTAINMENT ? lower.includes(local) : lower === local
    if (local.length > 0 && (containsLocal || lower === normalizeEmail(context.email)))
      reasons.push('contains_email')
  }
  return reasons
}
