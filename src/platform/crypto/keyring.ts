// The keyring: authenticated encryption of secrets at rest (TOTP seeds, PHI fields, client
// secrets) and keyed blind indexes for looking values up without storing them in plaintext.
//
// The spec is config.secrets.keyring: comma-separated `kid:base64(32 bytes)`, newest LAST. New
// values are sealed under the newest key; values sealed under any key still in the ring open,
// so rotation is "append a key, restart, re-encrypt in the background (needsRotation), then
// drop the old key". Only node:crypto is used.
//
// Sealed format: "v1.<kid>.<iv>.<ciphertext>.<tag>", each binary part base64url. The kid may
// itself contain dots (config allows them), so a sealed value is parsed from both ends: base64url
// never contains a dot.

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

export interface Keyring {
  readonly currentKid: string
  readonly kids: readonly string[]
  /** AES-256-GCM with a fresh 96-bit IV; aad binds the ciphertext to its context (table, column, row id). Output is a compact string "v1.<kid>.<iv b64url>.<ciphertext b64url>.<tag b64url>". */
  encrypt(plaintext: string | Uint8Array, aad: string): string
  /** Throws KeyringError (never returns garbage) on unknown kid, tampering, wrong aad. */
  decrypt(sealed: string, aad: string): Buffer
  decryptString(sealed: string, aad: string): string
  /** True when the sealed value was written under an older key (for re-encryption jobs). */
  needsRotation(sealed: string): boolean
  /** Keyed blind index: HMAC-SHA256 under a key derived (HKDF-SHA256, info "vigil blind index " + purpose) from the FIRST key in the ring, so it stays stable when keys rotate; base64url. For lookups of emails/identifiers without storing them in plaintext. */
  blindIndex(value: string, purpose: string): string
}

export type KeyringErrorCode =
  | 'KEYRING_INVALID_SPEC' // the configured ring is not kid:base64(32 bytes), unique kids
  | 'KEYRING_MALFORMED' // a sealed value is not in the v1 format
  | 'KEYRING_UNKNOWN_KEY' // sealed under a kid that is no longer (or never was) in the ring
  | 'KEYRING_AUTH_FAILED' // tampered with, or opened with the wrong associated data

/** Messages name what is wrong and never carry plaintext, ciphertext or key material. */
export class KeyringError extends Error {
  readonly code: KeyringErrorCode
  constructor(code: KeyringErrorCode, message: string) {
    super(message)
    this.name = 'KeyringError'
    this.code = code
  }
}

const VERSION = 'v1'
const KEY_BYTES = 32
// NIST SP 800-38D §8.2: a 96-bit IV is the recommended length (used directly as the counter
// block's nonce, no GHASH step), and with random IVs a key may seal at most 2^32 values (§8.3).
const IV_BYTES = 12
// NIST SP 800-38D §5.2.1.2 / Appendix C: the full 128-bit tag. Node's decipher would otherwise
// accept a truncated tag, which lowers the forgery bound; the length is pinned on both sides.
const TAG_BYTES = 16
const AES_INFO = 'vigil aes-gcm'
const BLIND_INDEX_INFO = 'vigil blind index '
const KID = /^[A-Za-z0-9_.-]{1,64}$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const BASE64URL = /^[A-Za-z0-9_-]*$/

// Each configured key is a key-encryption key (KEK) and is never used raw: HKDF-SHA256 (RFC 5869)
// derives one subkey per purpose, named by `info`, so the same KEK never directly serves both
// AES-GCM and HMAC. The KEKs are already uniformly random, so the salt is empty (RFC 5869 §3.1).
function deriveKey(kek: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), info, KEY_BYTES))
}

// The associated data authenticated with every value: the format version and kid as well as the
// caller's context, length-unambiguous (JSON), so a sealed value cannot be relabelled with another
// kid (two kids that happen to share a key) or moved to another row, column or table.
function associatedData(kid: string, aad: string): Buffer {
  return Buffer.from(JSON.stringify([VERSION, kid, aad]), 'utf8')
}

interface ParsedSpec {
  readonly kids: readonly string[]
  readonly keks: ReadonlyMap<string, Buffer>
}

function parseSpec(spec: string): ParsedSpec {
  const entries = spec.split(',').map((s) => s.trim())
  const keks = new Map<string, Buffer>()
  const kids: string[] = []
  entries.forEach((entry, index) => {
    // The entry itself is never echoed: it carries a key.
    const invalid = (why: string) =>
      new KeyringError('KEYRING_INVALID_SPEC', `keyring entry ${index + 1} of ${entries.length}: ${why}`)
    const colon = entry.indexOf(':')
    if (colon < 0) throw invalid('expected kid:base64(32 bytes)')
    const kid = entry.slice(0, colon)
    const encoded = entry.slice(colon + 1)
    if (!KID.test(kid)) throw invalid('the kid must be 1-64 characters of A-Z a-z 0-9 _ . -')
    if (keks.has(kid)) throw invalid(`duplicate kid "${kid}"`)
    if (!BASE64.test(encoded)) throw invalid(`the key for kid "${kid}" is not base64`)
    const kek = Buffer.from(encoded, 'base64')
    if (kek.length !== KEY_BYTES) throw invalid(`the key for kid "${kid}" is not ${KEY_BYTES} bytes`)
    keks.set(kid, kek)
    kids.push(kid)
  })
  return { kids, keks }
}

interface Sealed {
  readonly kid: string
  readonly iv: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

// Strict base64url: Buffer.from() silently skips bad characters and ignores trailing bits, so a
// changed character could decode to the same bytes. Requiring the canonical encoding makes any
// edit of the string an error.
function decodePart(part: string | undefined, what: string): Buffer {
  if (part === undefined || !BASE64URL.test(part))
    throw new KeyringError('KEYRING_MALFORMED', `sealed value: the ${what} is not base64url`)
  const bytes = Buffer.from(part, 'base64url')
  if (bytes.toString('base64url') !== part)
    throw new KeyringError('KEYRING_MALFORMED', `sealed value: the ${what} is not canonical base64url`)
  return bytes
}

function parseSealed(sealed: string): Sealed {
  if (typeof sealed !== 'string') throw new KeyringError('KEYRING_MALFORMED', 'sealed value: not a string')
  const parts = sealed.split('.')
  if (parts.length < 5 || parts[0] !== VERSION)
    throw new KeyringError(
      'KEYRING_MALFORMED',
      `sealed value: expected ${VERSION}.<kid>.<iv>.<ciphertext>.<tag>`,
    )
  const kid = parts.slice(1, -3).join('.')
  if (!KID.test(kid)) throw new KeyringError('KEYRING_MALFORMED', 'sealed value: the kid is not valid')
  const iv = decodePart(parts.at(-3), 'iv')
  const ciphertext = decodePart(parts.at(-2), 'ciphertext')
  const tag = decodePart(parts.at(-1), 'tag')
  if (iv.length !== IV_BYTES)
    throw new KeyringError('KEYRING_MALFORMED', `sealed value: the iv is not ${IV_BYTES} bytes`)
  if (tag.length !== TAG_BYTES)
    throw new KeyringError('KEYRING_MALFORMED', `sealed value: the tag is not ${TAG_BYTES} bytes`)
  return { kid, iv, ciphertext, tag }
}

export function createKeyring(spec: string): Keyring {
  if (typeof spec !== 'string' || spec.trim() === '')
    throw new KeyringError(
      'KEYRING_INVALID_SPEC',
      'keyring: no keys configured (expected comma-separated kid:base64(32 bytes), newest last)',
    )
  const { kids, keks } = parseSpec(spec)
  const currentKid = kids.at(-1) as string
  const firstKek = keks.get(kids[0] as string) as Buffer

  // Subkeys are derived once, at start-up; they live only in this closure (never as properties,
  // so neither JSON.stringify nor util.inspect of the keyring shows them).
  const aesKeys = new Map([...keks].map(([kid, kek]) => [kid, deriveKey(kek, AES_INFO)]))
  const blindKeys = new Map<string, Buffer>()

  function decrypt(sealed: string, aad: string): Buffer {
    const { kid, iv, ciphertext, tag } = parseSealed(sealed)
    const key = aesKeys.get(kid)
    if (!key)
      throw new KeyringError('KEYRING_UNKNOWN_KEY', `sealed value: kid "${kid}" is not in the keyring`)
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(associatedData(kid, aad))
    decipher.setAuthTag(tag)
    const head = decipher.update(ciphertext)
    try {
      // GCM releases nothing as trusted until final() has checked the tag: on failure the
      // partial plaintext in `head` is discarded, never returned.
      return Buffer.concat([head, decipher.final()])
    } catch {
      head.fill(0)
      throw new KeyringError(
        'KEYRING_AUTH_FAILED',
        `sealed value under kid "${kid}" failed authentication (tampered with, or opened in the wrong context)`,
      )
    }
  }

  return Object.freeze({
    currentKid,
    kids: Object.freeze([...kids]),

    encrypt(plaintext: string | Uint8Array, aad: string): string {
      if (typeof aad !== 'string') throw new TypeError('keyring.encrypt: aad must be a string')
      const key = aesKeys.get(currentKid) as Buffer
      // A fresh random 96-bit IV per value (NIST SP 800-38D §8.2.2): an IV reused under one key
      // reveals the XOR of two plaintexts and lets an attacker forge tags.
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(associatedData(currentKid, aad))
      const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext
      const ciphertext = Buffer.concat([cipher.update(data), cipher.final()])
      const tag = cipher.getAuthTag()
      return [
        VERSION,
        currentKid,
        iv.toString('base64url'),
        ciphertext.toString('base64url'),
        tag.toString('base64url'),
      ].join('.')
    },

    decrypt,

    decryptString(sealed: string, aad: string): string {
      return decrypt(sealed, aad).toString('utf8')
    },

    needsRotation(sealed: string): boolean {
      return parseSealed(sealed).kid !== currentKid
    },

    blindIndex(value: string, purpose: string): string {
      if (typeof purpose !== 'string' || purpose === '')
        throw new TypeError('keyring.blindIndex: purpose must be a non-empty string')
      if (typeof value !== 'string') throw new TypeError('keyring.blindIndex: value must be a string')
      // Derived from the FIRST key, so an index stays valid through rotations; that key must stay
      // in the ring for as long as indexes built from it are queried. One subkey per purpose, so
      // an email's index cannot be matched against a phone number's. Callers normalise the value
      // (case, Unicode form) first: the index is exact.
      let key = blindKeys.get(purpose)
      if (!key) {
        key = deriveKey(firstKek, BLIND_INDEX_INFO + purpose)
        blindKeys.set(purpose, key)
      }
      return createHmac('sha256', key).update(value, 'utf8').digest('base64url')
    },
  })
}

/** The seal/unseal pair the modules that keep secrets at rest take as a dependency. */
export interface Sealer {
  seal(plaintext: string, aad: string): string
  unseal(sealed: string, aad: string): string
}

export function keyringSealer(keyring: Pick<Keyring, 'encrypt' | 'decryptString'>): Sealer {
  return {
    seal: (plaintext, aad) => keyring.encrypt(plaintext, aad),
    unseal: (sealed, aad) => keyring.decryptString(sealed, aad),
  }
}
