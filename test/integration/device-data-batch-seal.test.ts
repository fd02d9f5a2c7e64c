// A batch's readings are sealed with one data-key fetch and indexed without the generic stable
// JSON walk (issue 17, goal 2). Both must give what the per-reading path gave: sealed values the
// patient cipher opens (same envelope, same associated data), and content indexes byte-identical
// to the ones already stored, or duplicates would no longer be recognised.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { stableJson } from '../../src/modules/device-data/ingest.ts'
import {
  contentIndexText,
  openReading,
  sealReadings,
  type ReadingContent,
} from '../../src/modules/device-data/reading-content.ts'
import { envelopeKeyVersion } from '../../src/platform/crypto/envelope.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { patientCrypto } from './keys-support.ts'

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const NOTES = [
  '',
  'after lunch',
  'quote " and backslash \\',
  'ünïcödé ✓ 血压',
  'line\nbreak\ttab',
  '\u0000\u001f',
  '😀',
]
const UNITS = ['mg/dL', 'mm[Hg]', '/min', '%', 'kg', 'Cel']

function generate(next: () => number): { key: string; offset: number; content: ReadingContent } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T
  const number = (): number =>
    pick([
      () => Math.round(next() * 300),
      () => next() * 1000 - 500,
      () => 0,
      () => -0,
      () => 1e21,
      () => 5e-7,
    ])()
  const content: ReadingContent =
    next() < 0.3
      ? {
          components: [
            { code: '8480-6', value: number(), unit: 'mm[Hg]' },
            { code: '8462-4', value: number(), unit: 'mm[Hg]' },
          ].slice(0, 1 + Math.floor(next() * 2)),
          ...(next() < 0.5 ? { note: pick(NOTES) } : {}),
        }
      : {
          value: number(),
          unit: pick(UNITS),
          ...(next() < 0.5 ? { note: pick(NOTES) } : {}),
        }
  const key =
    next() < 0.5
      ? `${randomUUID()}|c|${pick(['a', 'x"y', 'ü', '\\'])}${Math.floor(next() * 1e6)}`
      : `${next() < 0.5 ? 'null' : randomUUID()}|t|8867-4|${Math.floor(next() * 2e12)}|${Math.floor(next() * 10) - 1}`
  return { key, offset: Math.floor(next() * 1680) - 720, content }
}

describe('batch sealing and the content index', () => {
  let t: TestApp
  before(async () => {
    t = await createTestApp()
  })
  after(() => t.close())

  test('[SRS-PERF-591] the content index text is byte-identical to the key-sorted JSON it replaces, over 20,000 generated readings', () => {
    const next = rng(17)
    for (let i = 0; i < 20_000; i++) {
      const { key, offset, content } = generate(next)
      assert.equal(contentIndexText(key, offset, content), stableJson({ key, offset, content }))
    }
    // An absent member is left out, as the old walk left out undefined ones.
    const sparse = { value: 5, unit: undefined, note: undefined } as unknown as ReadingContent
    assert.equal(contentIndexText('k', 0, sparse), stableJson({ key: 'k', offset: 0, content: sparse }))
    assert.equal(
      contentIndexText('k', 60, { value: 5, unit: 'kg' }),
      '{"content":{"unit":"kg","value":5},"key":"k","offset":60}',
    )
  })

  test('[SRS-PERF-591] a batch sealed with one key fetch opens through the patient cipher, each value bound to its own reading', async () => {
    const { patients, cipher, dataKeys } = patientCrypto(t.db)
    const patient = await patients.create({
      demographics: { name: { family: 'Batch' }, birthDate: '1970-01-01' },
    })
    const next = rng(5)
    const readings = Array.from({ length: 200 }, () => ({
      id: randomUUID(),
      content: generate(next).content,
    }))
    const sealed = await sealReadings(cipher, patient.id, readings)
    assert.equal(sealed.length, readings.length)
    const current = await dataKeys.current(patient.id)
    for (const [i, r] of readings.entries()) {
      const value = sealed[i] as string
      assert.equal(envelopeKeyVersion(value), current.version)
      assert.deepEqual(
        await openReading(cipher, patient.id, r.id, value),
        JSON.parse(JSON.stringify(r.content)),
      )
    }
    // Bound to the reading's id: another reading's id does not open it.
    await assert.rejects(
      openReading(cipher, patient.id, (readings[1] as { id: string }).id, sealed[0] as string),
    )
    assert.equal(new Set(sealed).size, sealed.length, 'a fresh IV per reading')
  })
})
