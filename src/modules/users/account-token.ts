// Tokens sent by mail (password reset, email verification): 256 random bits, base64url, and only
// their SHA-256 is stored — the token is high-entropy, so a fast hash suffices, and a read of
// the database does not yield a usable link.

import { createHash, randomBytes } from 'node:crypto'

export function generateAccountToken(): string {
  return randomBytes(32).toString('base64url')
}

export function hashAccountToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}
