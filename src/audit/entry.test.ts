// The entry's hash and identity: every field is covered, nulls are explicit, ids are UUIDv7.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chainFor } from './audit-trail.ts'
import {
  canonicalEntry,
  entryHash,
  GENESIS_HASH,
  truncateUserAgent,
  USER_AGENT_MAX,
  type AuditEntry,
} from './entry.ts'
import { uuidv7 } from './entry-id.ts'
import { isOperationalProbe, outcomeFor } from './http-audit.ts'

const BASE: Omit<AuditEntry, 'hash'> = {
  id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  chain: 2,
  seq: 7,
  occurredAt: new Date('2025-03-01T10:00:00.123Z'),
  actorKind: 'user',
  actorId: 'u-1',
  clientId: 'app',
  ip: '10.0.0.1',
  userAgent: 'ua',
  action: 'device-data.read',
  resourceType: 'device-data',
  resourceId: 'r-1',
  patientId: 'p-1',
  outcome: 'success',
  status: 200,
  decisionRule: 'rule',
  consentId: 'c-1',
  breakGlass: false,
  requestId: 'req-1',
  traceId: 't-1',
  prevHash: GENESIS_HASH,
}

test('[SRS-AUDIT-003] entry hash: SHA-256 over a fixed-order serialisation that changes with every single field', () => {
  const h = entryHash(BASE)
  assert.match(h, /^[0-9a-f]{64}$/)
  assert.equal(entryHash({ ...BASE }), h, 'deterministic')
  const changed: Record<keyof typeof BASE, unknown> = {
    id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c',
    chain: 3,
    seq: 8,
    occurredAt: new Date('2025-03-01T10:00:00.124Z'),
    actorKind: 'device',
    actorId: 'u-2',
    clientId: null,
    ip: '10.0.0.2',
    userAgent: null,
    action: 'device-data.write',
    resourceType: 'x',
    resourceId: null,
    patientId: 'p-2',
    outcome: 'denied',
    status: 403,
    decisionRule: null,
    consentId: null,
    breakGlass: true,
    requestId: 'req-2',
    traceId: null,
    prevHash: 'f'.repeat(64),
  }
  for (const [field, value] of Object.entries(changed)) {
    assert.notEqual(entryHash({ ...BASE, [field]: value }), h, `${field} is covered by the hash`)
  }
  // Explicit nulls: a missing value and an empty string are different entries.
  assert.notEqual(entryHash({ ...BASE, actorId: null }), entryHash({ ...BASE, actorId: '' }))
  assert.ok(canonicalEntry(BASE).startsWith('["vigil-audit-v1",'), 'the format is versioned')
})

test('[SRS-AUDIT-001] entry ids are UUIDv7: time-ordered and unique', () => {
  const a = uuidv7(new Date('2025-01-01T00:00:00Z'))
  const b = uuidv7(new Date('2025-01-01T00:00:00.001Z'))
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.ok(a < b, 'later ids sort after earlier ones')
  assert.notEqual(uuidv7(new Date(0)), uuidv7(new Date(0)))
  // The first 48 bits are the milliseconds, big-endian (RFC 9562 §5.7).
  const at = new Date('2026-12-07T05:10:11.123Z')
  assert.equal(uuidv7(at).replace('-', '').slice(0, 12), at.getTime().toString(16).padStart(12, '0'))
  assert.throws(() => uuidv7(new Date(Number.NaN)), RangeError)
  assert.throws(() => uuidv7(new Date(-1)), RangeError)
})

test('[SRS-AUDIT-001] [SRS-PERF-610] entry ids carry 74 random bits: no two of 20,000 in one millisecond alike, and every random bit varies', () => {
  const at = new Date('2026-12-07T00:00:00Z')
  const ids = Array.from({ length: 20_000 }, () => uuidv7(at))
  assert.equal(new Set(ids).size, ids.length)
  // rand_a: hex digits 15-17; rand_b: the low two bits of digit 20, then digits 21-23 and 25-36.
  const hex = ids.map((id) => id.replaceAll('-', ''))
  const ones = new Array<number>(128).fill(0)
  for (const h of hex)
    for (let bit = 0; bit < 128; bit++)
      if ((parseInt(h[bit >> 2] as string, 16) >> (3 - (bit & 3))) & 1) ones[bit]!++
  const randomBits = [...Array(128).keys()].filter((bit) => (bit >= 52 && bit < 64) || bit >= 66)
  assert.equal(randomBits.length, 74)
  for (const bit of randomBits) {
    const share = (ones[bit] as number) / ids.length
    assert.ok(share > 0.45 && share < 0.55, `bit ${bit} set in ${(share * 100).toFixed(1)} % of ids`)
  }
  // Fixed bits: version 0111 at bits 48-51, variant 10 at bits 64-65.
  for (const [bit, value] of [
    [48, 0],
    [49, 1],
    [50, 1],
    [51, 1],
    [64, 1],
    [65, 0],
  ] as const)
    assert.equal(ones[bit], value * ids.length, `bit ${bit}`)
})

test('[SRS-AUDIT-001] the user agent is truncated to 256 code points; empty is null', () => {
  assert.equal(truncateUserAgent(undefined), null)
  assert.equal(truncateUserAgent(''), null)
  assert.equal(truncateUserAgent('curl/8'), 'curl/8')
  const long = '😀'.repeat(300)
  assert.equal(Array.from(truncateUserAgent(long) ?? '').length, USER_AGENT_MAX)
})

test('[SRS-AUDIT-004] chain choice: one request id always maps to the same chain, ids spread over all chains', () => {
  assert.equal(chainFor('req-abc', 8), chainFor('req-abc', 8))
  const used = new Set(Array.from({ length: 400 }, (_, i) => chainFor(`req-${i}`, 8)))
  assert.equal(used.size, 8)
})

test('[SRS-AUDIT-001] outcome by status: success, denied (401/403/429/concealed denial), failure (4xx), error (5xx)', () => {
  assert.equal(outcomeFor(200, false), 'success')
  assert.equal(outcomeFor(302, false), 'success')
  assert.equal(outcomeFor(401, false), 'denied')
  assert.equal(outcomeFor(403, true), 'denied')
  assert.equal(outcomeFor(404, true), 'denied')
  assert.equal(outcomeFor(429, false), 'denied')
  assert.equal(outcomeFor(404, false), 'failure')
  assert.equal(outcomeFor(400, false), 'failure')
  assert.equal(outcomeFor(503, false), 'error')
  assert.ok(isOperationalProbe('/health/live') && isOperationalProbe('/metrics'))
  assert.ok(!isOperationalProbe('/api/v2') && !isOperationalProbe(undefined))
})
