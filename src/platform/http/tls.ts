// Native HTTPS: TLS 1.2 and 1.3 only, and only forward-secret AEAD cipher suites, set explicitly
// rather than inherited from OpenSSL's defaults (which still allow CBC suites under TLS 1.2).

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import type { TlsConfig } from '../../config/index.ts'

/** TLS 1.2: ECDHE key exchange (forward secrecy) with GCM or ChaCha20-Poly1305 (AEAD) only. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
]

/** TLS 1.3 suites are all AEAD and forward-secret; listed so the set is explicit. */
export const TLS13_CIPHERSUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
]

/** Why the certificate or key is refused; the message names the file's role and the reason, never key material. */
export class TlsMaterialError extends Error {
  override name = 'TlsMaterialError'
}

/** RSA under this many bits is refused (NIST SP 800-131A: 2048 bits since 2014). */
export const MIN_RSA_BITS = 2048
/** EC under this many bits is refused (P-256 and up). */
export const MIN_EC_BITS = 256
/** A certificate expiring sooner than this starts, with a warning. */
export const EXPIRY_WARNING_DAYS = 30

const CURVE_BITS: Readonly<Record<string, number>> = {
  prime192v1: 192,
  secp192r1: 192,
  secp224r1: 224,
  prime256v1: 256,
  'P-256': 256,
  secp256k1: 256,
  secp384r1: 384,
  'P-384': 384,
  secp521r1: 521,
  'P-521': 521,
}

function keyStrength(key: KeyObject, what: string): void {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails ?? {}
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0
    if (bits < MIN_RSA_BITS)
      throw new TlsMaterialError(
        `${what} is an RSA key of ${bits} bits; at least ${MIN_RSA_BITS} are required`,
      )
  } else if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown'
    const bits = CURVE_BITS[curve]
    if (bits === undefined)
      throw new TlsMaterialError(
        `${what} is an EC key on an unsupported curve (${curve}); use P-256, P-384 or P-521`,
      )
    if (bits < MIN_EC_BITS)
      throw new TlsMaterialError(
        `${what} is an EC key of ${bits} bits (${curve}); at least ${MIN_EC_BITS} are required`,
      )
  } else if (type !== 'ed25519' && type !== 'ed448') {
    throw new TlsMaterialError(
      `${what} is a ${type ?? 'unknown'} key; RSA (2048 bits or more), EC (P-256 or larger) or Ed25519/Ed448 are accepted`,
    )
  }
}

/**
 * Checks the certificate and key before the server starts (issue 11, finding 8; ADR-0013): the
 * certificate parses and is valid now, its key and the private key are strong enough, and the key
 * is the certificate's. Throws TlsMaterialError with the reason; returns warnings (expiring soon).
 */
export function checkTlsMaterial(
  certPem: Buffer,
  keyPem: Buffer,
  now: Date = new Date(),
): { readonly warnings: readonly string[]; readonly validTo: Date } {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(certPem)
  } catch {
    throw new TlsMaterialError('TLS_CERT_FILE does not hold a PEM X.509 certificate')
  }
  let key: KeyObject
  try {
    key = createPrivateKey(keyPem)
  } catch {
    throw new TlsMaterialError('TLS_KEY_FILE does not hold an unencrypted PEM private key')
  }
  const validFrom = new Date(cert.validFrom)
  const validTo = new Date(cert.validTo)
  if (now < validFrom)
    throw new TlsMaterialError(
      `TLS_CERT_FILE: the certificate is not valid yet (valid from ${validFrom.toISOString()})`,
    )
  if (now > validTo)
    throw new TlsMaterialError(`TLS_CERT_FILE: the certificate expired on ${validTo.toISOString()}`)
  keyStrength(cert.publicKey, "TLS_CERT_FILE: the certificate's key")
  keyStrength(key, 'TLS_KEY_FILE')
  if (!cert.checkPrivateKey(key))
    throw new TlsMaterialError('TLS_KEY_FILE does not match the certificate in TLS_CERT_FILE')
  const daysLeft = (validTo.getTime() - now.getTime()) / 86_400_000
  const warnings =
    daysLeft < EXPIRY_WARNING_DAYS
      ? [`the TLS certificate expires on ${validTo.toISOString()} (in ${Math.floor(daysLeft)} days)`]
      : []
  return { warnings, validTo }
}

/** The HTTPS server options; refuses (TlsMaterialError) a certificate or key checkTlsMaterial rejects. */
export function tlsServerOptions(
  tls: TlsConfig,
  onWarning: (message: string) => void = () => {},
): HttpsServerOptions {
  const cert = readFileSync(tls.certFile)
  const key = readFileSync(tls.keyFile)
  for (const warning of checkTlsMaterial(cert, key).warnings) onWarning(warning)
  return {
    cert,
    key,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
    ecdhCurve: 'X25519:P-256:P-384',
  }
}
