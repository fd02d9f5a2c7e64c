// TOTP (RFC 6238) with the parameters every authenticator app supports: HMAC-SHA1, 6 digits,
// 30-second steps, 160-bit secrets (RFC 4226 §4 recommends 160 bits). Pure functions; the state
// (replay, failures, lock) lives in second-factor.ts.

import { timingSafeEqual } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'
import QRCode from 'qrcode'

export const TOTP_ISSUER = 'Vigil'
export const TOTP_PERIOD_SECONDS = 30
export const TOTP_DIGITS = 6
const TOTP_ALGORITHM = 'SHA1'
const SECRET_BYTES = 20
/** RFC 6238 §5.2: accept one step either side for clock drift and typing time. */
export const TOTP_WINDOW = 1

/** A new random secret, base32 (what authenticator apps and the otpauth URI carry). */
export function generateTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32
}

/** otpauth://totp/Vigil:<email>?secret=…&issuer=Vigil&algorithm=SHA1&digits=6&period=30 */
export function provisioningUri(email: string, secret: string, issuer = TOTP_ISSUER): string {
  return new TOTP({
    issuer,
    label: email,
    secret: Secret.fromBase32(secret),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString()
}

/** The provisioning URI as a QR code, an SVG data URL for an <img> on the enrolment page. */
export async function qrCodeDataUrl(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`
}

export function timeStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS)
}

/** The code for the step containing `at` (tests, the demo seed). */
export function totpCode(secret: string, at: Date): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: at.getTime(),
  })
}

export function isWellFormedTotpCode(code: string): boolean {
  return new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code)
}

/** Strips the spaces people type ("123 456"). */
export function normalizeTotpCode(code: string): string {
  return code.replace(/\s+/g, '')
}

/** The time steps within the window whose code equals `code`, latest first. */
export function matchingSteps(secret: string, code: string, at: Date): number[] {
  if (!isWellFormedTotpCode(code)) return []
  const current = timeStep(at)
  const given = Buffer.from(code)
  const steps: number[] = []
  for (let step = current + TOTP_WINDOW; step >= current - TOTP_WINDOW; step--) {
    const expected = Buffer.from(totpCode(secret, new Date(step * TOTP_PERIOD_SECONDS * 1000)))
    // Timing-safe compare: a plain === leaks how many leading digits matched.
    if (timingSafeEqual(expected, given)) steps.push(step)
  }
  return steps
}
