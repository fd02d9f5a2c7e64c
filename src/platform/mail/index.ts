export {
  createMailer,
  mailerOptionsFromConfig,
  MailError,
  type MailMessage,
  type Mailer,
  type MailerOptions,
} from './mailer.ts'
