import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto'
import { inspect } from 'node:util'
import fc from 'fast-check'
import { createKeyring, KeyringError } from './keyring.ts'

const keyA = Buffer.alloc(32, 0xa1).toString('base64')
const keyB = Buffer.alloc(32, 0xb2).toString('base64')
const RING_A = `a:${keyA}`
const RING_AB = `a:${keyA},b:${keyB}`
const AAD = 'users.totp_secret:7f1c2d'
const PLAINTEXT = 'JBSWY3DPEHPK3PXP totp seed of jane@example.com'

/** Runs fn, asserts it throws a KeyringError with the given code, and that the message leaks nothing. */
function assertKeyringError(
  fn: () => unknown,
  code: string,
  secrets: readonly string[] = [PLAINTEXT, keyA, keyB],
): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KeyringError, `expected KeyringError, got ${String(err)}`)
    assert.equal(err.code, code)
    for (const secret of secrets)
      assert.ok(!err.message.includes(secret), 'the error message carries secret material')
    return true
  })
}

/** Flips one bit in the decoded bytes of a part of a sealed value, keeping the format valid. */
function flipBit(sealed: string, partFromEnd: 1 | 2 | 3): string {
  const parts = sealed.split('.')
  const index = parts.length - partFromEnd
  const bytes = Buffer.from(parts[index] ?? '', 'base64url')
  bytes[0] = (bytes[0] ?? 0) ^ 0x01
  parts[index] = bytes.toString('base64url')
  return parts.join('.')
}

test('[SRS-CRYPTO-001] keyring: a string and raw bytes round-trip, in the compact v1 format with a 96-bit IV and 128-bit tag', () => {
  const ring = createKeyring(RING_A)
  const sealed = ring.encrypt(PLAINTEXT, AAD)
  assert.match(sealed, /^v1\.a\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
  assert.ok(!sealed.includes(PLAINTEXT))
  assert.equal(ring.decryptString(sealed, AAD), PLAINTEXT)

  const bytes = new Uint8Array([0, 1, 2, 250, 255])
  assert.deepEqual(ring.decrypt(ring.encrypt(bytes, AAD), AAD), Buffer.from(bytes))
  assert.equal(ring.decryptString(ring.encrypt('', AAD), AAD), '')
})

test('[SRS-CRYPTO-001] keyring: values are sealed under an HKDF-derived subkey, never the raw key, with version and kid authenticated', () => {
  const sealed = createKeyring(RING_A).encrypt(PLAINTEXT, AAD)
  const [, kid, iv, ciphertext, tag] = sealed.split('.') as [string, string, string, string, string]
  const open = (key: Buffer) => {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
    decipher.setAAD(Buffer.from(JSON.stringify(['v1', kid, AAD])))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
      'utf8',
    )
  }
  const kek = Buffer.from(keyA, 'base64')
  assert.equal(open(Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), 'vigil aes-gcm', 32))), PLAINTEXT)
  assert.throws(() => open(kek))
})

test('[SRS-CRYPTO-001] keyring: any plaintext and context round-trip (property)', () => {
  const ring = createKeyring(RING_AB)
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.uint8Array(), fc.string(), (text, bytes, aad) => {
      assert.equal(ring.decryptString(ring.encrypt(text, aad), aad), text)
      assert.deepEqual(ring.decrypt(ring.encrypt(bytes, aad), aad), Buffer.from(bytes))
    }),
    { numRuns: 200 },
  )
})

test('[SRS-CRYPTO-001] keyring: the same value sealed twice gives different ciphertexts (fresh IV each time)', () => {
  const ring = createKeyring(RING_A)
  const ivs = new Set(Array.from({ length: 50 }, () => ring.encrypt(PLAINTEXT, AAD).split('.')[2]))
  assert.equal(ivs.size, 50)
})

test('[SRS-CRYPTO-001] keyring: a changed iv, ciphertext or tag is refused with KeyringError, never garbage', () => {
  const ring = createKeyring(RING_A)
  const sealed = ring.encrypt(PLAINTEXT, AAD)
  assertKeyringError(() => ring.decrypt(flipBit(sealed, 3), AAD), 'KEYRING_AUTH_FAILED') // iv
  assertKeyringError(() => ring.decrypt(flipBit(sealed, 2), AAD), 'KEYRING_AUTH_FAILED') // ciphertext
  assertKeyringError(() => ring.decrypt(flipBit(sealed, 1), AAD), 'KEYRING_AUTH_FAILED') // tag
})

test('[SRS-CRYPTO-001] keyring: a changed kid is refused, whether unknown or another key of the ring', () => {
  const ring = createKeyring(RING_AB)
  const sealed = ring.encrypt(PLAINTEXT, AAD)
  assert.ok(sealed.startsWith('v1.b.'))
  assertKeyringError(() => ring.decrypt(sealed.replace(/^v1\.b\./, 'v1.z.'), AAD), 'KEYRING_UNKNOWN_KEY')
  assertKeyringError(() => ring.decrypt(sealed.replace(/^v1\.b\./, 'v1.a.'), AAD), 'KEYRING_AUTH_FAILED')

  // Even when two kids share one key, the kid is authenticated: relabelling fails.
  const twins = createKeyring(`x:${keyA},y:${keyA}`)
  const underY = twins.encrypt(PLAINTEXT, AAD)
  assertKeyringError(() => twins.decrypt(underY.replace(/^v1\.y\./, 'v1.x.'), AAD), 'KEYRING_AUTH_FAILED')
})

test('[SRS-CRYPTO-001] keyring: truncated, re-encoded or malformed sealed values are refused', () => {
  const ring = createKeyring(RING_A)
  const sealed = ring.encrypt(PLAINTEXT, AAD)
  const parts = sealed.split('.')
  const tag = parts[4] ?? ''
  // A truncated tag (12 bytes) must not be accepted as a weaker tag (NIST SP 800-38D Appendix C).
  const truncated = [
    ...parts.slice(0, 4),
    Buffer.from(tag, 'base64url').subarray(0, 12).toString('base64url'),
  ].join('.')
  assertKeyringError(() => ring.decrypt(truncated, AAD), 'KEYRING_MALFORMED')
  // A last character changed only in its unused bits decodes to the same bytes: still refused.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet[alphabet.indexOf(tag.at(-1) ?? '') ^ 1] ?? ''
  assert.deepEqual(Buffer.from(tag.slice(0, -1) + last, 'base64url'), Buffer.from(tag, 'base64url'))
  assertKeyringError(() => ring.decrypt(sealed.slice(0, -1) + last, AAD), 'KEYRING_MALFORMED')
  for (const bad of [
    '',
    'v1',
    'v2.a.x.y.z',
    sealed.replace(/^v1/, 'v2'),
    sealed + '.',
    `v1.a.${parts[2]}.${parts[3]}`,
    sealed.replace(parts[3] ?? '', '!!!!'),
  ]) {
    assert.throws(() => ring.decrypt(bad, AAD), KeyringError, JSON.stringify(bad))
  }
})

test('[SRS-CRYPTO-001] keyring: a ciphertext copied to another row (wrong associated data) is refused', () => {
  const ring = createKeyring(RING_A)
  const sealed = ring.encrypt(PLAINTEXT, 'patients.mrn:row-1')
  assertKeyringError(() => ring.decrypt(sealed, 'patients.mrn:row-2'), 'KEYRING_AUTH_FAILED')
  assertKeyringError(() => ring.decrypt(sealed, 'patients.name:row-1'), 'KEYRING_AUTH_FAILED')
  assert.equal(ring.decryptString(sealed, 'patients.mrn:row-1'), PLAINTEXT)
})

test('[SRS-CRYPTO-002] keyring: after rotation, new values use the newest key and old ones still open and are flagged for re-encryption', () => {
  const before = createKeyring(RING_A)
  const old = before.encrypt(PLAINTEXT, AAD)
  assert.equal(before.currentKid, 'a')
  assert.equal(before.needsRotation(old), false)

  const after = createKeyring(RING_AB)
  assert.equal(after.currentKid, 'b')
  assert.deepEqual(after.kids, ['a', 'b'])
  assert.equal(after.decryptString(old, AAD), PLAINTEXT)
  assert.equal(after.needsRotation(old), true)

  const fresh = after.encrypt(PLAINTEXT, AAD)
  assert.ok(fresh.startsWith('v1.b.'))
  assert.equal(after.needsRotation(fresh), false)
  // The old ring never had b: a value written after rotation does not open there.
  assertKeyringError(() => before.decrypt(fresh, AAD), 'KEYRING_UNKNOWN_KEY')
  // Once a is retired, what was sealed under it no longer opens: re-encrypt first.
  assertKeyringError(() => createKeyring(`b:${keyB}`).decrypt(old, AAD), 'KEYRING_UNKNOWN_KEY')
})

test('[SRS-CRYPTO-002] keyring: blind indexes are deterministic, stable across rotation and separate per purpose', () => {
  const before = createKeyring(RING_A)
  const after = createKeyring(RING_AB)
  const email = 'jane@example.com'
  const index = before.blindIndex(email, 'user email')
  assert.match(index, /^[A-Za-z0-9_-]{43}$/)
  assert.equal(before.blindIndex(email, 'user email'), index)
  assert.equal(after.blindIndex(email, 'user email'), index)
  assert.notEqual(before.blindIndex(email, 'patient identifier'), index)
  assert.notEqual(before.blindIndex('john@example.com', 'user email'), index)
  // Keyed: a ring with another first key gives unrelated indexes (no offline dictionary without the key).
  assert.notEqual(createKeyring(`b:${keyB}`).blindIndex(email, 'user email'), index)
  assert.ok(!index.includes(email))
  // HMAC-SHA256 under HKDF(first key, "vigil blind index " + purpose), as documented.
  const key = Buffer.from(
    hkdfSync('sha256', Buffer.from(keyA, 'base64'), Buffer.alloc(0), 'vigil blind index user email', 32),
  )
  assert.equal(index, createHmac('sha256', key).update(email).digest('base64url'))
})

test('[SRS-CRYPTO-001] keyring: a malformed spec is refused without echoing key material', () => {
  const short = Buffer.alloc(16, 1).toString('base64')
  const long = Buffer.alloc(33, 1).toString('base64')
  const cases = [
    '',
    '   ',
    'a',
    `:${keyA}`,
    `a:${short}`,
    `a:${long}`,
    `a:${keyA},a:${keyB}`,
    `a:${keyA},,b:${keyB}`,
    'a:not*base64',
    `a b:${keyA}`,
    `a:${keyA}:extra`,
  ]
  for (const spec of cases) {
    assertKeyringError(() => createKeyring(spec), 'KEYRING_INVALID_SPEC', [keyA, keyB, short, long])
  }
})

test('[SRS-CRYPTO-001] keyring: keys are not visible on the keyring object', () => {
  const ring = createKeyring(RING_AB)
  const shown = JSON.stringify(ring) + inspect(ring, { depth: 10, showHidden: true })
  for (const key of [keyA, keyB]) assert.ok(!shown.includes(key))
  assert.ok(!shown.includes(Buffer.from(keyA, 'base64').toString('hex')))
})
