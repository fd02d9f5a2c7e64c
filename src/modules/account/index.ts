// The account module's public face: the signed-in user's own account (/api/v2/account) and the
// verification of their email address (the API that mails the link, the page that consumes it).

export { accountRoutesV2 } from './routes.v2.ts'
export {
  createEmailVerification,
  EMAIL_VERIFICATION_PATH,
  type EmailVerification,
  type EmailVerificationDeps,
} from './email-verification.ts'
export { emailVerificationPageRoutes, emailVerificationRoutesV2 } from './email-verification.routes.ts'
