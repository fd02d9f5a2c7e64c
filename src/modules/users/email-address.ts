// The email policy lives in platform/mail (ADR-0015), where the sign-in pages can reach it too.
export {
  emailAddressProblem,
  emailLocalPart,
  isPlausibleEmail,
  normalizeEmail,
} from '../../platform/mail/email-address.ts'
