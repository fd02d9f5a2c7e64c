// The arithmetic behind the console's charts: percentiles, buckets in a time zone (across a DST
// change), and the consensus time-in-ranges of the ambulatory glucose profile.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  bucketise,
  glucoseProfile,
  percentile,
  stats,
  timeInRanges,
  THRESHOLDS_MG_DL,
  THRESHOLDS_MMOL_L,
} from './aggregate.ts'

describe('reading summaries', () => {
  test('[SRS-DATA-400] percentiles interpolate between ranks; stats give count, min, max, mean and p5-p95', () => {
    assert.equal(percentile([1, 2, 3, 4], 50), 2.5)
    assert.equal(percentile([10], 95), 10)
    assert.equal(percentile([0, 10], 25), 2.5)
    const s = stats([5, 1, 3, 2, 4])
    assert.deepEqual(
      { count: s.count, min: s.min, max: s.max, mean: s.mean, p50: s.p50, p25: s.p25, p75: s.p75 },
      { count: 5, min: 1, max: 5, mean: 3, p50: 3, p25: 2, p75: 4 },
    )
  })

  test('[SRS-DATA-400] day buckets follow the time zone, including the day a DST change makes 23 hours long', () => {
    // Europe/Paris: 2026-03-29 02:00 local jumps to 03:00 (UTC+1 → UTC+2).
    const points = [
      { at: new Date('2026-03-28T22:30:00Z'), value: 1 }, // 23:30 on the 28th, Paris
      { at: new Date('2026-03-28T23:30:00Z'), value: 2 }, // 00:30 on the 29th
      { at: new Date('2026-03-29T21:30:00Z'), value: 3 }, // 23:30 on the 29th (UTC+2)
      { at: new Date('2026-03-29T22:30:00Z'), value: 4 }, // 00:30 on the 30th
    ]
    const days = bucketise(points, 'day', 'Europe/Paris')
    assert.deepEqual(
      days.map((d) => [d.start, d.count, d.mean]),
      [
        ['2026-03-27T23:00:00.000Z', 1, 1],
        ['2026-03-28T23:00:00.000Z', 2, 2.5],
        ['2026-03-29T22:00:00.000Z', 1, 4],
      ],
    )
    const hours = bucketise(points, 'hour', 'UTC')
    assert.equal(hours.length, 4)
    assert.equal(hours[0]?.start, '2026-03-28T22:00:00.000Z')
  })

  test('[SRS-DATA-401] time in ranges follows the international consensus thresholds (54/70/180/250 mg/dL, 3.0/3.9/10.0/13.9 mmol/L)', () => {
    const mg = timeInRanges([53, 54, 69, 70, 180, 181, 250, 251, 100, 120], THRESHOLDS_MG_DL)
    assert.deepEqual(mg, { veryLow: 0.1, low: 0.2, inRange: 0.4, high: 0.2, veryHigh: 0.1 })
    const mmol = timeInRanges([2.9, 3.0, 3.9, 10.0, 10.1, 14], THRESHOLDS_MMOL_L)
    assert.ok(Math.abs(mmol.veryLow + mmol.low + mmol.inRange + mmol.high + mmol.veryHigh - 1) < 0.001)
    assert.equal(mmol.inRange, Math.round((2 / 6) * 10000) / 10000)
  })

  test('[SRS-DATA-401] the glucose profile gives percentiles per 15-minute slot of the local day, days with data, mean, GMI and CV', () => {
    const points = []
    for (let day = 0; day < 3; day++) {
      // 08:00 and 08:10 local in New York (UTC-5 in January) each day.
      points.push({ at: new Date(Date.UTC(2026, 0, 10 + day, 13, 0)), value: 100 + day * 10 })
      points.push({ at: new Date(Date.UTC(2026, 0, 10 + day, 13, 10)), value: 200 })
    }
    const p = glucoseProfile(points, 'mg/dL', 'America/New_York')
    assert.equal(p.readings, 6)
    assert.equal(p.daysWithData, 3)
    assert.deepEqual(
      p.profile.map((s) => [s.minute, s.count, s.p50]),
      [[480, 6, 160]],
    )
    assert.equal(p.mean, 155)
    assert.equal(p.gmi, Math.round((3.31 + 0.02392 * 155) * 10) / 10)
    assert.ok(p.cv !== null && p.cv > 30)
    assert.deepEqual(glucoseProfile([], 'mmol/L', 'UTC').profile, [])
  })
})
