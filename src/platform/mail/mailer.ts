// Outgoing mail: verification links, password-reset links, security notices. Over SMTP when
// SMTP_URL is set (production requires it, config/index.ts); otherwise each message is written as
// an RFC 5322 .eml file under DATA_DIR/mail, so a developer opens the reset link from disk.
//
// Mail bodies carry single-use links that grant access to an account: they are never logged,
// the development files are readable by their owner only, and an SMTP failure is reported
// without the relay's credentials.

import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import path from 'node:path'
import nodemailer, { type SendMailOptions, type SMTPTransportOptions, type Transporter } from 'nodemailer'
import type { Logger } from 'pino'
import type { Config } from '../../config/index.ts'

export interface MailMessage {
  readonly to: string
  readonly subject: string
  readonly text: string
  readonly html?: string
}

export interface Mailer {
  /** Where mail goes: an SMTP relay, or .eml files in the development directory. */
  readonly transport: 'smtp' | 'directory'
  send(message: MailMessage): Promise<void>
  close(): void
}

export interface MailerOptions {
  readonly smtpUrl: string | undefined
  /** The From header, e.g. "Vigil <no-reply@example.com>". */
  readonly from: string
  /** Development directory for .eml files, used when smtpUrl is unset. */
  readonly devDir: string
  readonly logger?: Logger
}

/** A send that failed. The message names the relay and the reason, never credentials or the recipient. */
export class MailError extends Error {
  readonly code = 'MAIL_SEND_FAILED'
  /** nodemailer's code (EAUTH, ECONNECTION, ETIMEDOUT, EENVELOPE, …) when there is one. */
  readonly smtpCode: string | undefined
  readonly responseCode: number | undefined
  constructor(message: string, smtpCode?: string, responseCode?: number) {
    super(message)
    this.name = 'MailError'
    this.smtpCode = smtpCode
    this.responseCode = responseCode
  }
}

/** The mailer's options from the configuration: SMTP_URL, MAIL_FROM, and DATA_DIR/mail. */
export function mailerOptionsFromConfig(config: Config, logger?: Logger): MailerOptions {
  return {
    smtpUrl: config.mail.smtpUrl,
    from: config.mail.from,
    devDir: path.join(config.dataDir, 'mail'),
    ...(logger ? { logger } : {}),
  }
}

export function createMailer(options: MailerOptions): Mailer {
  return options.smtpUrl === undefined
    ? createDirectoryMailer(options)
    : createSmtpMailer(options.smtpUrl, options)
}

// Nodemailer can inline attachments from files and URLs named in a message; ours never need to,
// so a value that reached a message by mistake cannot make the server read a file or fetch a URL.
const NO_FILE_OR_URL_ACCESS = { disableFileAccess: true, disableUrlAccess: true } as const

const SMTP_PARAMETERS = new Set(['requireTLS'])

interface SmtpTarget {
  readonly options: SMTPTransportOptions
  readonly where: string
  readonly secrets: readonly string[]
}

function smtpTarget(smtpUrl: string): SmtpTarget {
  const url = new URL(smtpUrl)
  const secure = url.protocol === 'smtps:'
  if (!secure && url.protocol !== 'smtp:') throw new Error('mail: SMTP_URL must use smtp:// or smtps://')
  for (const name of url.searchParams.keys()) {
    if (!SMTP_PARAMETERS.has(name))
      throw new Error(`mail: SMTP_URL parameter "${name}" is not supported (only requireTLS)`)
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  // RFC 8314 §3.3: implicit TLS on 465 for smtps; 587 (submission, RFC 6409) otherwise.
  const port = url.port ? Number(url.port) : secure ? 465 : 587
  const user = decodeUserinfo(url.username)
  const pass = decodeUserinfo(url.password)
  const options: SMTPTransportOptions = {
    host,
    port,
    // smtps: TLS from the first byte, so credentials never cross the wire in the clear.
    secure,
    // smtp:// with ?requireTLS=true: STARTTLS or nothing (RFC 3207); without it, STARTTLS is still
    // used whenever the relay offers it.
    requireTLS: url.searchParams.get('requireTLS') === 'true',
    // Certificates are verified (nodemailer's default, kept); TLS 1.2 at least, as on our own listener.
    // SNI carries host names only (RFC 6066 §3), never an IP address.
    tls: { minVersion: 'TLSv1.2', ...(isIP(host) === 0 ? { servername: host } : {}) },
    ...(user ? { auth: { user, pass } } : {}),
    // A relay that does not answer must not hold a request (or a queue worker) for minutes.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    dnsTimeout: 10_000,
    // nodemailer's own logging would print SMTP traffic, including AUTH and message bodies.
    logger: false,
    debug: false,
    ...NO_FILE_OR_URL_ACCESS,
  }
  // Everything that could reveal the password in an error: the raw and URL-encoded forms and the
  // base64 forms AUTH LOGIN and AUTH PLAIN send (RFC 4616), in case a relay echoes them back.
  const secrets = pass
    ? [
        smtpUrl,
        url.password,
        pass,
        Buffer.from(pass).toString('base64'),
        Buffer.from(`\0${user}\0${pass}`).toString('base64'),
      ]
    : [smtpUrl]
  return { options, where: `${host}:${port}`, secrets }
}

function decodeUserinfo(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new Error('mail: SMTP_URL user or password has a malformed %-escape')
  }
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text
  // Longest first, so a secret that contains another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret) out = out.split(secret).join('[REDACTED]')
  }
  return out
}

function createSmtpMailer(smtpUrl: string, options: MailerOptions): Mailer {
  const target = smtpTarget(smtpUrl)
  const transporter: Transporter = nodemailer.createTransport(target.options)
  return {
    transport: 'smtp',
    async send(message) {
      try {
        await transporter.sendMail(composeMessage(options.from, message))
      } catch (err) {
        const e = err as Error & { code?: unknown; responseCode?: unknown }
        const code = typeof e.code === 'string' ? e.code : undefined
        const reason = scrub(scrub(String(e.message), target.secrets), [message.to])
        // The cause is not attached: nodemailer errors carry the SMTP command and response, which
        // a logger would serialise; the message below is all an operator needs.
        throw new MailError(
          `mail: sending through ${target.where} failed${code ? ` (${code})` : ''}: ${reason}`,
          code,
          typeof e.responseCode === 'number' ? e.responseCode : undefined,
        )
      }
    },
    close() {
      transporter.close()
    },
  }
}

function createDirectoryMailer(options: MailerOptions): Mailer {
  // RFC 5322 §2.1: lines end in CRLF; nodemailer writes LF unless told otherwise.
  const composer = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'windows',
    ...NO_FILE_OR_URL_ACCESS,
  })
  return {
    transport: 'directory',
    async send(message) {
      const info = await composer.sendMail(composeMessage(options.from, message))
      if (!Buffer.isBuffer(info.message)) throw new Error('mail: the composed message was not buffered')
      await mkdir(options.devDir, { recursive: true, mode: 0o700 })
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const file = path.join(options.devDir, `${stamp}-${randomUUID()}.eml`)
      // 0600: the file holds a live reset or verification link. 'wx': never overwrite.
      await writeFile(file, info.message, { mode: 0o600, flag: 'wx' })
      // The path only: neither the body (it carries the link) nor the recipient is logged.
      options.logger?.info({ file }, 'mail written')
    },
    close() {
      composer.close()
    },
  }
}

function composeMessage(from: string, message: MailMessage): SendMailOptions {
  return {
    from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    ...(message.html !== undefined ? { html: message.html } : {}),
  }
}
