// A patient's measurements over a chosen period: a chart per measurement (raw readings for a day,
// server-side hour or day buckets for 2 weeks and 90 days), and for glucose the ambulatory glucose
// profile computed by the server. Shared by the clinician's patient page and the patient's own.
import { useState } from 'preact/hooks'
import { api, fhir, query } from '../api.ts'
import { Chart, type ChartPoint } from '../chart.tsx'
import { offsetOf, viewerTimeZone } from '../format.ts'
import { ErrorNote, Progress, useLoad } from '../ui.tsx'

type Period = 'day' | '2w' | '90d'
const PERIODS: Record<Period, { label: string; ms: number; bucket?: 'hour' | 'day' }> = {
  day: { label: 'Day', ms: 86_400_000 },
  '2w': { label: '2 weeks', ms: 14 * 86_400_000, bucket: 'hour' },
  '90d': { label: '90 days', ms: 90 * 86_400_000, bucket: 'day' },
}
const GLUCOSE = new Set(['2339-0', '41653-7', '15074-8', '14743-9'])
const NAMES: Record<string, string> = {
  '2339-0': 'Glucose',
  '41653-7': 'Glucose (glucometer)',
  '15074-8': 'Glucose',
  '14743-9': 'Glucose (glucometer)',
  '8867-4': 'Heart rate',
  '8480-6': 'Systolic blood pressure',
  '8462-4': 'Diastolic blood pressure',
  '59408-5': 'Oxygen saturation',
  '2708-6': 'Oxygen saturation',
  '29463-7': 'Body weight',
  '8310-5': 'Body temperature',
}

interface Reading {
  id: string
  deviceId: string | null
  code: string
  value?: number
  unit?: string
  components?: Array<{ code: string; value: number; unit: string }>
  effectiveDateTime: string
}
interface Series {
  code: string
  display: string
  unit: string
  target: { low: number; high: number } | null
  points: ChartPoint[]
}
interface Summary {
  series: Array<{
    code: string
    display: string
    unit: string
    target: { low: number; high: number } | null
    buckets: Array<{
      start: string
      count: number
      min: number
      max: number
      mean: number
      p25: number
      p50: number
      p75: number
    }>
  }>
}
interface Profile {
  unit: string
  readings: number
  daysWithData: number
  mean: number | null
  gmi: number | null
  cv: number | null
  thresholds: { veryLow: number; low: number; high: number; veryHigh: number }
  timeInRanges: { veryLow: number; low: number; inRange: number; high: number; veryHigh: number }
  profile: Array<{ minute: number; p5: number; p25: number; p50: number; p75: number; p95: number }>
}

// Targets for raw readings: the same defaults the summary operation returns.
async function targets(
  patientId: string,
  from: Date,
  to: Date,
): Promise<Map<string, { display: string; target: Series['target'] }>> {
  const s = await api.get<Summary>(
    `/device-data/summary${query({ patient: patientId, from: from.toISOString(), to: to.toISOString(), bucket: 'day', timeZone: viewerTimeZone })}`,
  )
  return new Map(s.series.map((x) => [x.code, { display: x.display, target: x.target }]))
}

async function deviceNames(patientId: string): Promise<Map<string, string>> {
  try {
    const bundle = await fhir.get<{
      entry?: Array<{
        resource: {
          id: string
          manufacturer?: string
          modelNumber?: string
          deviceName?: Array<{ name: string }>
        }
      }>
    }>(`/Device${query({ patient: patientId })}`)
    return new Map(
      (bundle.entry ?? []).map((e) => [
        e.resource.id,
        e.resource.deviceName?.[0]?.name ??
          [e.resource.manufacturer, e.resource.modelNumber].filter(Boolean).join(' ') ??
          'device',
      ]),
    )
  } catch {
    return new Map()
  }
}

async function loadDay(patientId: string, from: Date, to: Date): Promise<Series[]> {
  const [meta, devices] = await Promise.all([targets(patientId, from, to), deviceNames(patientId)])
  const readings: Reading[] = []
  let cursor: string | null = null
  // At most 10 pages of 1,000: a day of 5-minute readings is 288 per measurement.
  for (let page = 0; page < 10; page++) {
    const answer: { readings: Reading[]; nextCursor: string | null } = await api.get(
      `/device-data${query({ patient: patientId, from: from.toISOString(), to: to.toISOString(), limit: 1000, cursor })}`,
    )
    readings.push(...answer.readings)
    cursor = answer.nextCursor
    if (!cursor) break
  }
  const byCode = new Map<string, Series>()
  const add = (code: string, unit: string, r: Reading, value: number) => {
    let s = byCode.get(code)
    if (!s)
      byCode.set(
        code,
        (s = {
          code,
          display: NAMES[code] ?? meta.get(code)?.display ?? code,
          unit,
          target: meta.get(code)?.target ?? null,
          points: [],
        }),
      )
    const device = r.deviceId ? (devices.get(r.deviceId) ?? 'a paired device') : 'entered by hand'
    s.points.push({
      at: Date.parse(r.effectiveDateTime),
      value,
      detail: `${device}, device time zone ${offsetOf(r.effectiveDateTime)}`,
    })
  }
  for (const r of readings) {
    if (typeof r.value === 'number') add(r.code, r.unit ?? '', r, r.value)
    for (const c of r.components ?? []) add(c.code, c.unit, r, c.value)
  }
  return [...byCode.values()].sort((a, b) => a.code.localeCompare(b.code))
}

async function loadBuckets(
  patientId: string,
  from: Date,
  to: Date,
  bucket: 'hour' | 'day',
): Promise<Series[]> {
  const s = await api.get<Summary>(
    `/device-data/summary${query({ patient: patientId, from: from.toISOString(), to: to.toISOString(), bucket, timeZone: viewerTimeZone })}`,
  )
  return s.series.map((x) => ({
    code: x.code,
    display: NAMES[x.code] ?? x.display,
    unit: x.unit,
    target: x.target,
    points: x.buckets.map((b) => ({
      at: Date.parse(b.start),
      value: b.mean,
      low: b.p25,
      high: b.p75,
      detail: `${bucket === 'hour' ? 'hour' : 'day'} mean of ${b.count} ${b.count === 1 ? 'reading' : 'readings'}, range ${b.min}–${b.max}, median ${b.p50}`,
    })),
  }))
}

const pct = (f: number) => `${Math.round(f * 1000) / 10} %`
const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`

function GlucoseProfile({
  patientId,
  code,
  from,
  to,
}: {
  patientId: string
  code: string
  from: Date
  to: Date
}) {
  const agp = useLoad(
    () =>
      api.get<Profile>(
        `/device-data/glucose-profile${query({ patient: patientId, code, from: from.toISOString(), to: to.toISOString(), timeZone: viewerTimeZone })}`,
      ),
    [patientId, code, from.getTime(), to.getTime()],
  )
  // Times of day drawn on one local day (the axis shows hours in the viewer's zone).
  const day = new Date(2000, 0, 1).getTime()
  return (
    <section class="card" aria-labelledby="agp-title">
      <h2 id="agp-title">Ambulatory glucose profile</h2>
      {agp.loading && <Progress label="Computing the glucose profile…" />}
      {agp.error && <ErrorNote message={agp.error} />}
      {agp.data && (
        <>
          <dl class="metrics">
            <div>
              <dt>
                Time in range ({agp.data.thresholds.low}–{agp.data.thresholds.high} {agp.data.unit})
              </dt>
              <dd>{pct(agp.data.timeInRanges.inRange)}</dd>
            </div>
            <div>
              <dt>Below range (under {agp.data.thresholds.low})</dt>
              <dd>
                {pct(agp.data.timeInRanges.low + agp.data.timeInRanges.veryLow)} (very low:{' '}
                {pct(agp.data.timeInRanges.veryLow)})
              </dd>
            </div>
            <div>
              <dt>Above range (over {agp.data.thresholds.high})</dt>
              <dd>
                {pct(agp.data.timeInRanges.high + agp.data.timeInRanges.veryHigh)} (very high:{' '}
                {pct(agp.data.timeInRanges.veryHigh)})
              </dd>
            </div>
            <div>
              <dt>Mean glucose</dt>
              <dd>
                {agp.data.mean ?? '—'} {agp.data.unit}
              </dd>
            </div>
            <div>
              <dt>GMI</dt>
              <dd>{agp.data.gmi === null ? '—' : `${agp.data.gmi.toFixed(1)} %`}</dd>
            </div>
            <div>
              <dt>Variability (CV)</dt>
              <dd>{agp.data.cv ?? '—'} %</dd>
            </div>
            <div>
              <dt>Readings, days with data</dt>
              <dd>
                {agp.data.readings}, {agp.data.daysWithData}
              </dd>
            </div>
          </dl>
          {agp.data.profile.length > 0 && (
            <Chart
              title="Glucose by time of day (median, 25th–75th percentile band)"
              unit={agp.data.unit}
              target={{ low: agp.data.thresholds.low, high: agp.data.thresholds.high }}
              from={day}
              to={day + 86_400_000}
              points={agp.data.profile.map((s) => ({
                at: day + s.minute * 60_000,
                value: s.p50,
                low: s.p25,
                high: s.p75,
                detail: `${hhmm(s.minute)}–${hhmm(s.minute + 15)}: 5th ${s.p5}, 25th ${s.p25}, 75th ${s.p75}, 95th ${s.p95}`,
              }))}
            />
          )}
        </>
      )}
    </section>
  )
}

export function Readings({ patientId }: { patientId: string }) {
  const [period, setPeriod] = useState<Period>('day')
  // Fixed when the period is chosen, so a re-render does not move the window.
  const [now, setNow] = useState(() => Date.now())
  const to = new Date(now + 60_000)
  const from = new Date(now - PERIODS[period].ms)
  const bucket = PERIODS[period].bucket
  const series = useLoad(
    () => (bucket ? loadBuckets(patientId, from, to, bucket) : loadDay(patientId, from, to)),
    [patientId, period, now],
  )
  const glucose = series.data?.find((s) => GLUCOSE.has(s.code))
  // The AGP needs days of data: at least the last 14 days.
  const agpFrom = new Date(Math.min(from.getTime(), now - 14 * 86_400_000))
  return (
    <>
      <section class="card" aria-labelledby="readings-title">
        <h2 id="readings-title">Readings</h2>
        <fieldset class="periods">
          <legend>Period</legend>
          {(Object.keys(PERIODS) as Period[]).map((p) => (
            <label key={p}>
              <input
                type="radio"
                name="period"
                value={p}
                checked={period === p}
                onChange={() => {
                  setPeriod(p)
                  setNow(Date.now())
                }}
              />{' '}
              {PERIODS[p].label}
            </label>
          ))}
        </fieldset>
        <p class="hint">
          Times in your time zone ({viewerTimeZone}).{' '}
          {bucket
            ? `Each point is the ${bucket === 'hour' ? 'hourly' : 'daily'} mean; the shaded band spans the 25th to 75th percentile.`
            : 'Every reading of the last 24 hours.'}
        </p>
        {series.loading && <Progress label="Loading readings…" />}
        {series.error && <ErrorNote message={series.error} />}
        {series.data && series.data.length === 0 && <p>No readings in this period.</p>}
        {series.data?.map((s) => (
          <div key={s.code} class="measurement">
            <h3>
              {s.display} <span class="unit">({s.unit})</span>
            </h3>
            <Chart
              title={s.display}
              unit={s.unit}
              points={s.points}
              target={s.target}
              from={from.getTime()}
              to={to.getTime()}
            />
          </div>
        ))}
      </section>
      {glucose && <GlucoseProfile patientId={patientId} code={glucose.code} from={agpFrom} to={to} />}
    </>
  )
}
