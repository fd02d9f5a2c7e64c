// Envelope encryption under a data key (ADR-0009): round trip, binding to place and version,
// one canonical spelling of each sealed value.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { envelopeKeyVersion, openWithDataKey, sealManyWithDataKey, sealWithDataKey } from './envelope.ts'
import { KeyringError } from './keyring.ts'

const key = randomBytes(32)

test('[SRS-CRYPTO-020] a value sealed under a data key opens with the same key and associated data, and names its key version', () => {
  const sealed = sealWithDataKey(key, 3, '{"value":123.4}', 'p:reading:r1')
  assert.match(sealed, /^e1\.3\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
  assert.equal(envelopeKeyVersion(sealed), 3)
  assert.equal(openWithDataKey(key, sealed, 'p:reading:r1'), '{"value":123.4}')
  assert.ok(!sealed.includes('123.4'))
  assert.notEqual(
    sealWithDataKey(key, 3, 'x', 'a'),
    sealWithDataKey(key, 3, 'x', 'a'),
    'a fresh IV per value',
  )
})

test('[SRS-CRYPTO-020] another key, another place, a changed version or a flipped byte fail authentication', () => {
  const sealed = sealWithDataKey(key, 1, 'secret', 'here')
  assert.throws(
    () => openWithDataKey(randomBytes(32), sealed, 'here'),
    (e: unknown) => e instanceof KeyringError && e.code === 'KEYRING_AUTH_FAILED',
  )
  assert.throws(
    () => openWithDataKey(key, sealed, 'there'),
    (e: unknown) => e instanceof KeyringError && e.code === 'KEYRING_AUTH_FAILED',
  )
  assert.throws(
    () => openWithDataKey(key, sealed.replace(/^e1\.1\./, 'e1.2.'), 'here'),
    (e: unknown) => e instanceof KeyringError && e.code === 'KEYRING_AUTH_FAILED',
  )
  const parts = sealed.split('.')
  const ct = Buffer.from(parts[3] as string, 'base64url')
  ct[0] = (ct[0] as number) ^ 1
  parts[3] = ct.toString('base64url')
  assert.throws(() => openWithDataKey(key, parts.join('.'), 'here'), KeyringError)
})

test('[SRS-CRYPTO-020] the key version has one spelling: "01", "1e0", "0x1" or " 1" are refused as malformed', () => {
  const sealed = sealWithDataKey(key, 1, 'secret', 'here')
  const rest = sealed.slice('e1.1.'.length)
  for (const v of ['01', '1e0', '0x1', ' 1', '0', '-1', '1.0', '']) {
    assert.throws(
      () => openWithDataKey(key, `e1.${v}.${rest}`, 'here'),
      (e: unknown) => e instanceof KeyringError && e.code === 'KEYRING_MALFORMED',
      v,
    )
  }
  assert.throws(() => sealWithDataKey(key, 0, 'x', 'a'), TypeError)
  assert.throws(() => openWithDataKey(Buffer.alloc(16), sealed, 'here'), TypeError)
})

test('[SRS-CRYPTO-020][SRS-PERF-595] sealing many values at once gives each its own IV, and each opens only with its own associated data', () => {
  const key = randomBytes(32)
  const values = Array.from({ length: 2_000 }, (_, i) => ({
    plaintext: `value ${i % 7}`,
    aad: `row-${i}:value`,
  }))
  const sealed = sealManyWithDataKey(key, 3, values)
  assert.equal(sealed.length, values.length)
  const ivs = sealed.map((s) => s.split('.')[2])
  assert.equal(new Set(ivs).size, values.length, 'no IV is used twice under the key')
  assert.ok(ivs.every((iv) => Buffer.from(iv ?? '', 'base64url').length === 12))
  // Equal plaintexts give unrelated ciphertexts.
  assert.notEqual(sealed[0]?.split('.')[3], sealed[7]?.split('.')[3])
  sealed.forEach((s, i) => {
    assert.equal(envelopeKeyVersion(s), 3)
    assert.equal(openWithDataKey(key, s, values[i]!.aad), values[i]!.plaintext)
  })
  assert.throws(() => openWithDataKey(key, sealed[1]!, values[2]!.aad), KeyringError)
  // Two batches never share an IV either.
  const again = sealManyWithDataKey(key, 3, values).map((s) => s.split('.')[2])
  assert.equal(new Set([...ivs, ...again]).size, 2 * values.length)
  assert.deepEqual(sealManyWithDataKey(key, 3, []), [])
})
