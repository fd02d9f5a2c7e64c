import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createKeyring } from '../crypto/keyring.ts'
import { cursorSeal, openPosition, sealPosition } from './cursor.ts'
import { jsonDefect, jsonTextDepthExceeds } from './untrusted-text.ts'

const ring = createKeyring(`k1:${Buffer.alloc(32, 7).toString('base64')}`)

test("[SRS-HTTP-203] cursor seal: its own cursors open; forged, altered, truncated and other lists' do not", () => {
  const seal = cursorSeal(ring, 'audit entries')
  const content = Buffer.from('2024-05-01T09:30:00.000Z|0d4c2f5e-3f7a-4a39-9a51-6bf2d0f5e1a2').toString(
    'base64url',
  )
  const cursor = seal.seal(content)
  assert.equal(seal.open(cursor), content)
  assert.equal(seal.open(content), undefined, 'an unsealed cursor')
  assert.equal(seal.open(cursor.slice(0, -1)), undefined, 'truncated')
  assert.equal(seal.open(`A${cursor.slice(1)}`), undefined, 'altered content')
  assert.equal(
    seal.open(`${cursor.slice(0, -1)}${cursor.endsWith('A') ? 'B' : 'A'}`),
    undefined,
    'altered tag',
  )
  assert.equal(cursorSeal(ring, 'device data').open(cursor), undefined, "another list's cursor")
  assert.equal(
    cursorSeal(createKeyring(`k1:${Buffer.alloc(32, 8).toString('base64')}`), 'audit entries').open(cursor),
    undefined,
    "another deployment's key",
  )
  assert.equal(seal.open('x'.repeat(5000)), undefined)
  assert.equal(seal.open('not base64url!'), undefined)
})

test('[SRS-HTTP-204] untrusted text: NUL, lone surrogates, depth, length and non-finite numbers are found without recursion', () => {
  assert.equal(jsonDefect({ a: ['ok', { b: 'x\u0000' }] })?.pointer, '/a/1/b')
  assert.equal(jsonDefect({ a: '\ud83d\ude00 paired is fine' }), undefined)
  assert.equal(jsonDefect({ a: 'lone \ud83d' })?.detail, 'contains an unpaired UTF-16 surrogate')
  assert.equal(jsonDefect({ a: '\ude00 lone' })?.detail, 'contains an unpaired UTF-16 surrogate')
  assert.equal(jsonDefect({ 'a/b~': 'x'.repeat(70_000) })?.pointer, '/a~1b~0')
  assert.equal(jsonDefect({ n: Number.POSITIVE_INFINITY })?.detail, 'a number out of range')
  let deep: unknown = 'leaf'
  for (let i = 0; i < 100_000; i++) deep = [deep]
  assert.match(jsonDefect(deep)?.detail ?? '', /nested deeper/)
  assert.ok(jsonTextDepthExceeds('['.repeat(33) + ']'.repeat(33)))
  assert.ok(!jsonTextDepthExceeds(`{"a":"${'['.repeat(100)}"}`), 'brackets inside strings do not count')
  assert.ok(
    !jsonTextDepthExceeds(`{"a":"\\"${'['.repeat(100)}"}`),
    'an escaped quote does not end the string',
  )
})

test('[SRS-HTTP-203] a sealed keyset position opens to the same instant and id; an out-of-range instant or a non-UUID id does not open', () => {
  const seal = cursorSeal(ring, 'security events')
  const at = new Date('2026-12-05T09:30:00.123Z')
  const id = '0d4c2f5e-3f7a-4a39-9a51-6bf2d0f5e1a2'
  assert.deepEqual(openPosition(seal, sealPosition(seal, at, id)), { at, id })
  assert.equal(openPosition(cursorSeal(ring, 'device data'), sealPosition(seal, at, id)), undefined)
  // Sealed by this server, but not a position: each is refused rather than queried.
  const sealed = (text: string) => seal.seal(Buffer.from(text).toString('base64url'))
  assert.equal(openPosition(seal, sealed(`0000-01-01T00:00:00.000Z|${id}`)), undefined, 'year 0')
  assert.equal(openPosition(seal, sealed(`not a time|${id}`)), undefined)
  assert.equal(openPosition(seal, sealed(`${at.toISOString()}|${id.toUpperCase()}`)), undefined)
  assert.equal(openPosition(seal, sealed(`${at.toISOString()}|`)), undefined, 'no id')
  assert.equal(openPosition(seal, sealed(at.toISOString())), undefined, 'no separator')
})
