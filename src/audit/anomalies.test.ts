// The crossing rule behind "exactly once per burst": decided by the trail alone, never by where a
// run started, so overlapping runs and several instances find the same crossing entry.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { findCrossings, type RuleRow } from './anomalies.ts'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const row = (seconds: number, group = 'a', value?: string): RuleRow => ({
  id: `e-${group}-${String(seconds).padStart(6, '0')}-${value ?? ''}`,
  at: new Date(T0 + seconds * 1000),
  group,
  value: value ?? null,
})
const EPOCH = new Date(0)

test('[SRS-AUDIT-015] anomaly rule: five entries within the window cross once, at the fifth', () => {
  const rows = [0, 10, 20, 30, 40, 45, 50].map((s) => row(s))
  const c = findCrossings(rows, { count: 5, windowSeconds: 60 }, { evaluateFrom: EPOCH })
  assert.equal(c.length, 1)
  assert.equal(c[0]?.entryId, rows[4]?.id)
  assert.equal(c[0]?.firstEntryId, rows[0]?.id)
  assert.equal(c[0]?.measure, 5)
})

test('[SRS-AUDIT-015] anomaly rule: four in a window is no burst; spread-out entries never cross', () => {
  assert.equal(
    findCrossings(
      [0, 10, 20, 30].map((s) => row(s)),
      { count: 5, windowSeconds: 60 },
      { evaluateFrom: EPOCH },
    ).length,
    0,
  )
  assert.equal(
    findCrossings(
      [0, 20, 40, 60, 80, 100].map((s) => row(s)),
      { count: 5, windowSeconds: 60 },
      { evaluateFrom: EPOCH },
    ).length,
    0,
  )
})

test('[SRS-AUDIT-015] anomaly rule: a sustained burst raises one event; a new one only after a full quiet window', () => {
  // one attempt every 12.5 s for 10 minutes: the count hovers around the threshold
  const sustained = Array.from({ length: 48 }, (_, i) => row(i * 12.5))
  assert.equal(findCrossings(sustained, { count: 5, windowSeconds: 60 }, { evaluateFrom: EPOCH }).length, 1)
  const twoBursts = [...[0, 1, 2, 3, 4].map((s) => row(s)), ...[200, 201, 202, 203, 204].map((s) => row(s))]
  assert.equal(findCrossings(twoBursts, { count: 5, windowSeconds: 60 }, { evaluateFrom: EPOCH }).length, 2)
})

test('[SRS-AUDIT-015] anomaly rule: a run starting mid-burst finds the same crossing, never a second one', () => {
  const rows = [0, 5, 10, 15, 20, 25, 30, 35, 40].map((s) => row(s))
  const full = findCrossings(rows, { count: 5, windowSeconds: 60 }, { evaluateFrom: EPOCH })
  // a later run evaluates from t=22 s (with its 2W look-back the rows are the same): no new crossing
  const later = findCrossings(rows, { count: 5, windowSeconds: 60 }, { evaluateFrom: new Date(T0 + 22_000) })
  assert.equal(full.length, 1)
  assert.equal(later.length, 0)
  // a run evaluating from before the crossing finds exactly it
  const overlapping = findCrossings(
    rows,
    { count: 5, windowSeconds: 60 },
    { evaluateFrom: new Date(T0 + 18_000) },
  )
  assert.deepEqual(
    overlapping.map((c) => c.entryId),
    full.map((c) => c.entryId),
  )
})

test('[SRS-AUDIT-015] anomaly rule: subjects are counted apart; distinct values count once each', () => {
  const rows = [...[0, 1, 2, 3].map((s) => row(s, 'a')), ...[0, 1, 2, 3].map((s) => row(s, 'b'))].sort(
    (x, y) => x.at.getTime() - y.at.getTime(),
  )
  assert.equal(findCrossings(rows, { count: 5, windowSeconds: 60 }, { evaluateFrom: EPOCH }).length, 0)
  const same = Array.from({ length: 10 }, (_, i) => row(i, 'u', 'p1'))
  assert.equal(
    findCrossings(same, { count: 3, windowSeconds: 60 }, { distinct: true, evaluateFrom: EPOCH }).length,
    0,
  )
  const many = Array.from({ length: 10 }, (_, i) => row(i, 'u', `p${i % 4}`))
  const c = findCrossings(many, { count: 3, windowSeconds: 60 }, { distinct: true, evaluateFrom: EPOCH })
  assert.equal(c.length, 1)
  assert.equal(c[0]?.entryId, many[2]?.id)
})

test('[SRS-AUDIT-013] anomaly rule: a threshold of one raises one event per episode (break-glass)', () => {
  const rows = [0, 60, 600, 3000, 7000, 7100].map((s) => row(s))
  const c = findCrossings(rows, { count: 1, windowSeconds: 3600 }, { evaluateFrom: EPOCH })
  assert.deepEqual(
    c.map((x) => x.entryId),
    [rows[0]?.id, rows[4]?.id],
  )
})
