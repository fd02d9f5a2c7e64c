// Email addresses: one policy wherever an address enters (account creation, invitations,
// self-registration, password-reset requests) — ADR-0015.
//
// An address is accepted only in plain ASCII: a dot-atom local part (RFC 5322 §3.2.3) and a domain
// of letter-digit-hyphen labels, an internationalised domain only in its IDNA A-label form
// (xn--…). So no address can look like another one and be a different account: `аdmin@demo.test`
// with a Cyrillic а, a zero-width space, full-width letters, a right-to-left override — each is
// refused with a reason, not normalised into something it did not say. The address as typed is
// kept for display and mail (it is ASCII, so what is shown is what is stored); lookups and
// uniqueness use the normalised form (trimmed, lower-cased; NFKC kept for addresses stored before
// this policy).

import { domainToASCII } from 'node:url'

const MAX_EMAIL_LENGTH = 254 // RFC 5321 §4.5.3.1.3 path limit less the angle brackets
const MAX_LOCAL_LENGTH = 64 // RFC 5321 §4.5.3.1.1

export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase()
}

const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/

/** Why an address is refused (a sentence for the caller, naming no character), or undefined when it is acceptable. */
export function emailAddressProblem(email: string): string | undefined {
  const address = email.trim()
  if (/[^\x21-\x7e]/.test(address))
    return 'must be written in plain ASCII letters, digits and punctuation (an internationalised domain in its xn-- form); look-alike letters from other scripts, invisible and control characters are not accepted'
  if (address.length > MAX_EMAIL_LENGTH) return `is longer than ${MAX_EMAIL_LENGTH} characters`
  const at = address.lastIndexOf('@')
  if (at <= 0 || at === address.length - 1) return 'is not an email address (name@domain)'
  const local = address.slice(0, at)
  const domain = address.slice(at + 1).toLowerCase()
  if (local.length > MAX_LOCAL_LENGTH || !local.split('.').every((atom) => ATEXT.test(atom)))
    return 'has a part before the @ that is not a plain address (letters, digits and . _ + - and similar, no leading, trailing or double dot)'
  const labels = domain.split('.')
  if (domain.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l)))
    return 'has a domain that is not a plain host name (letters, digits and hyphens in dotted labels)'
  // An A-label must be valid Punycode of a valid IDN: domainToASCII gives '' for one that is not.
  if (labels.some((l) => l.startsWith('xn--')) && domainToASCII(domain) !== domain)
    return 'has an xn-- domain label that is not valid IDNA'
  return undefined
}

/** Whether the address meets the policy (emailAddressProblem says why not). */
export function isPlausibleEmail(email: string): boolean {
  return emailAddressProblem(email) === undefined
}

/** The part before the last @, normalised; used by the password policy. */
export function emailLocalPart(email: string): string {
  const normalized = normalizeEmail(email)
  const at = normalized.lastIndexOf('@')
  return at < 0 ? normalized : normalized.slice(0, at)
}
