// The arithmetic of reading summaries (issue 15): buckets of an hour or a day in the viewer's time
// zone, with count, min, max, mean and percentiles, and the ambulatory glucose profile (AGP) with
// the time-in-ranges metrics of the international consensus on CGM data (Battelino et al.,
// "Clinical Targets for Continuous Glucose Monitoring Data Interpretation", Diabetes Care 2019;
// 42:1593-1603). Pure functions of their inputs; no I/O, so they are tested alone.

export interface Point {
  /** UTC instant of the reading (device time). */
  readonly at: Date
  readonly value: number
}

export interface Stats {
  readonly count: number
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly p5: number
  readonly p25: number
  readonly p50: number
  readonly p75: number
  readonly p95: number
}

/** The p-th percentile (0-100) of ascending values, linearly interpolated between ranks (Hyndman & Fan type 7, as R and NumPy default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no values')
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (rank - lo)
}

const round = (v: number, places = 2) => Math.round(v * 10 ** places) / 10 ** places

export function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b)
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: round(sum / sorted.length),
    p5: round(percentile(sorted, 5)),
    p25: round(percentile(sorted, 25)),
    p50: round(percentile(sorted, 50)),
    p75: round(percentile(sorted, 75)),
    p95: round(percentile(sorted, 95)),
  }
}

/** Whether the runtime knows this IANA time zone. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** The UTC offset of a time zone at an instant, in minutes, cached per UTC hour (offsets change on hour or half-hour boundaries). */
export function offsetFinder(timeZone: string): (at: Date) => number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
  const cache = new Map<number, number>()
  const compute = (t: number) => {
    const parts: Record<string, number> = {}
    for (const p of format.formatToParts(new Date(t)))
      if (p.type !== 'literal') parts[p.type] = Number(p.value)
    const asUtc = Date.UTC(
      parts.year as number,
      (parts.month as number) - 1,
      parts.day as number,
      parts.hour as number,
      parts.minute as number,
      parts.second as number,
    )
    return Math.round((asUtc - Math.floor(t / 1000) * 1000) / 60_000)
  }
  return (at) => {
    // Half-hour slots, so zones that change offset at :30 are right too.
    const slot = Math.floor(at.getTime() / 1_800_000)
    let off = cache.get(slot)
    if (off === undefined) {
      off = compute(slot * 1_800_000)
      cache.set(slot, off)
    }
    return off
  }
}

export type Bucket = 'hour' | 'day'

/** The UTC start of the hour or local day (in timeZone) holding `at`. */
export function bucketStart(at: Date, bucket: Bucket, offsetAt: (d: Date) => number): number {
  const off = offsetAt(at) * 60_000
  const local = at.getTime() + off
  const unit = bucket === 'hour' ? 3_600_000 : 86_400_000
  const localStart = Math.floor(local / unit) * unit
  // The offset at the bucket's own start (a day that begins before a DST change).
  const guess = localStart - off
  return localStart - offsetAt(new Date(guess)) * 60_000
}

export function bucketise(
  points: readonly Point[],
  bucket: Bucket,
  timeZone: string,
): Array<{ start: string } & Stats> {
  const offsetAt = offsetFinder(timeZone)
  const groups = new Map<number, number[]>()
  for (const p of points) {
    const start = bucketStart(p.at, bucket, offsetAt)
    let g = groups.get(start)
    if (!g) groups.set(start, (g = []))
    g.push(p.value)
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, values]) => ({ start: new Date(start).toISOString(), ...stats(values) }))
}

/** Glucose thresholds of the consensus, in the unit of the readings. */
export interface GlucoseThresholds {
  readonly veryLow: number
  readonly low: number
  readonly high: number
  readonly veryHigh: number
}
export const THRESHOLDS_MG_DL: GlucoseThresholds = { veryLow: 54, low: 70, high: 180, veryHigh: 250 }
export const THRESHOLDS_MMOL_L: GlucoseThresholds = { veryLow: 3.0, low: 3.9, high: 10.0, veryHigh: 13.9 }

export interface TimeInRanges {
  /** Fractions of readings (0-1): < veryLow; veryLow–<low; low–high inclusive; >high–veryHigh; > veryHigh. */
  readonly veryLow: number
  readonly low: number
  readonly inRange: number
  readonly high: number
  readonly veryHigh: number
}

export function timeInRanges(values: readonly number[], t: GlucoseThresholds): TimeInRanges {
  const n = values.length
  let veryLow = 0
  let low = 0
  let inRange = 0
  let high = 0
  let veryHigh = 0
  for (const v of values) {
    if (v < t.veryLow) veryLow++
    else if (v < t.low) low++
    else if (v <= t.high) inRange++
    else if (v <= t.veryHigh) high++
    else veryHigh++
  }
  const f = (k: number) => (n === 0 ? 0 : round(k / n, 4))
  return { veryLow: f(veryLow), low: f(low), inRange: f(inRange), high: f(high), veryHigh: f(veryHigh) }
}

export const AGP_SLOT_MINUTES = 15

export interface GlucoseProfile {
  readonly readings: number
  /** The bounds time in ranges used: the consensus', with the patient's own target as the in-range band when set. */
  readonly thresholds: GlucoseThresholds
  readonly daysWithData: number
  readonly mean: number | null
  /** Glucose management indicator, % (Bergenstal et al., Diabetes Care 2018: 3.31 + 0.02392 × mean mg/dL). */
  readonly gmi: number | null
  /** Coefficient of variation, % (SD / mean); the consensus target is ≤ 36 %. */
  readonly cv: number | null
  readonly timeInRanges: TimeInRanges
  /** Percentiles by time of day in 15-minute slots (local time of the viewer's time zone); slots without readings are left out. */
  readonly profile: Array<{
    minute: number
    count: number
    p5: number
    p25: number
    p50: number
    p75: number
    p95: number
  }>
}

/** `target`: the patient's own target range (ADR-0027), which moves the in-range band's bounds; the level-2 thresholds stay the consensus'. */
export function glucoseProfile(
  points: readonly Point[],
  unit: 'mg/dL' | 'mmol/L',
  timeZone: string,
  target?: { low: number; high: number },
): GlucoseProfile {
  const offsetAt = offsetFinder(timeZone)
  const slots = new Map<number, number[]>()
  const days = new Set<number>()
  const values: number[] = []
  for (const p of points) {
    const local = p.at.getTime() + offsetAt(p.at) * 60_000
    days.add(Math.floor(local / 86_400_000))
    const minuteOfDay = Math.floor((((local % 86_400_000) + 86_400_000) % 86_400_000) / 60_000)
    const slot = Math.floor(minuteOfDay / AGP_SLOT_MINUTES) * AGP_SLOT_MINUTES
    let g = slots.get(slot)
    if (!g) slots.set(slot, (g = []))
    g.push(p.value)
    values.push(p.value)
  }
  const consensus = unit === 'mg/dL' ? THRESHOLDS_MG_DL : THRESHOLDS_MMOL_L
  const thresholds = target ? { ...consensus, low: target.low, high: target.high } : consensus
  let mean: number | null = null
  let cv: number | null = null
  let gmi: number | null = null
  if (values.length > 0) {
    const m = values.reduce((a, b) => a + b, 0) / values.length
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / Math.max(1, values.length - 1))
    mean = round(m)
    cv = round((sd / m) * 100, 1)
    const mgdl = unit === 'mg/dL' ? m : m * 18.016
    gmi = round(3.31 + 0.02392 * mgdl, 1)
  }
  const profile = [...slots.entries()]
    .sort(([a], [b]) => a - b)
    .map(([minute, v]) => {
      const s = stats(v)
      return { minute, count: s.count, p5: s.p5, p25: s.p25, p50: s.p50, p75: s.p75, p95: s.p95 }
    })
  return {
    readings: values.length,
    daysWithData: days.size,
    mean,
    gmi,
    cv,
    thresholds,
    timeInRanges: timeInRanges(values, thresholds),
    profile,
  }
}
