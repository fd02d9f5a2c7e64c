// A real SMTP server (smtp-server) on a loopback port for tests that follow mailed links: every
// message it accepts is kept, with its envelope and its decoded text part.
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  readonly to: readonly string[]
  readonly raw: string
  /** The text/plain part, quoted-printable decoded. */
  readonly text: string
}

export interface TestSmtpServer {
  readonly url: string
  readonly received: ReceivedMail[]
  /** Delays each MAIL FROM by this many milliseconds (a slow relay). */
  delayMs: number
  /** Resolves with the first mail to `to` that arrives after `since` mails, within `timeoutMs`. */
  waitFor(to: string, options?: { since?: number; timeoutMs?: number }): Promise<ReceivedMail>
  close(): Promise<void>
}

/** Quoted-printable (RFC 2045 §6.7): soft line breaks removed, =XX octets decoded. */
export function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\r\n/g, '')
  return Buffer.from(
    joined.replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8')
}

/** The text/plain part of a message nodemailer composed (single part or multipart/alternative). */
function textPart(raw: string): string {
  // Split at the message's own boundary lines, never at any line starting with "--": a
  // quoted-printable soft break can fall just before "--" inside a base64url token, and cutting
  // there handed a test a truncated reset link (an unknown token: 410 instead of 403).
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1]
  const parts = boundary ? raw.split(`\r\n--${boundary}`).slice(1) : [raw]
  const part =
    parts.find((p) => /^Content-Type: text\/plain/im.test(p.slice(0, p.indexOf('\r\n\r\n')))) ?? raw
  const headersEnd = part.indexOf('\r\n\r\n')
  // The transfer encoding is read from this part's own headers (in a single-part message, the
  // message's: nodemailer may put it before Content-Type).
  const headers = part.slice(0, headersEnd)
  const body = part.slice(headersEnd + 4)
  return /^Content-Transfer-Encoding: quoted-printable/im.test(headers) ? decodeQuotedPrintable(body) : body
}

export async function startTestSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = []
  const state = { delayMs: 0 }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onMailFrom(_address, _session, callback) {
      setTimeout(() => callback(), state.delayMs)
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, text: textPart(raw) })
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.server.address() as AddressInfo).port
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    get delayMs() {
      return state.delayMs
    },
    set delayMs(ms: number) {
      state.delayMs = ms
    },
    async waitFor(to, options = {}) {
      const deadline = Date.now() + (options.timeoutMs ?? 10_000)
      for (;;) {
        const mail = received.slice(options.since ?? 0).find((m) => m.to.includes(to))
        if (mail) return mail
        if (Date.now() > deadline) throw new Error(`no mail to ${to} arrived`)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
