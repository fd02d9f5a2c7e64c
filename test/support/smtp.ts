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
function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\r\n/g, '')
  return Buffer.from(
    joined.replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8')
}

/** The text/plain part of a message nodemailer composed (single part or multipart/alternative). */
function textPart(raw: string): string {
  const start = raw.search(/Content-Type: text\/plain/i)
  const part = start >= 0 ? raw.slice(start) : raw
  const bodyStart = part.indexOf('\r\n\r\n')
  const end = part.search(/\r\n--[^\r\n]+/)
  const body = part.slice(bodyStart + 4, end > bodyStart ? end : undefined)
  return /Content-Transfer-Encoding: quoted-printable/i.test(part.slice(0, bodyStart))
    ? decodeQuotedPrintable(body)
    : body
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
