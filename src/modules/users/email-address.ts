// Email addresses are compared without regard to case: NFKC (so full-width and compatibility
// characters fold to their plain forms), trimmed, lower-cased. The address as typed is kept for
// display and mail; only the normalised form is unique.

const MAX_EMAIL_LENGTH = 254 // RFC 5321 §4.5.3.1.3 path limit less the angle brackets

export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase()
}

/** A deliberately loose syntax check (one @, non-empty local part, a dotted domain, no spaces):
 *  the verification mail is the real test of an address. */
export function isPlausibleEmail(email: string): boolean {
  const normalized = normalizeEmail(email)
  return normalized.length <= MAX_EMAIL_LENGTH && /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/u.test(normalized)
}

/** The part before the last @, normalised; used by the password policy. */
export function emailLocalPart(email: string): string {
  const normalized = normalizeEmail(email)
  const at = normalized.lastIndexOf('@')
  return at < 0 ? normalized : normalized.slice(0, at)
}
