// One measurement's chart on uPlot (made for tens of thousands of points): the target range drawn
// as a band, out-of-range points marked, and on hover the time (viewer's zone), value, device and
// the reading's own UTC offset. A table of the same data follows for screen readers and keyboards.
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { formatTime } from './format.ts'

export interface ChartPoint {
  readonly at: number // ms since epoch
  readonly value: number
  readonly low?: number // band (bucket percentiles)
  readonly high?: number
  readonly detail: string // hover text after the value
}

export interface ChartProps {
  readonly title: string
  readonly unit: string
  readonly points: readonly ChartPoint[]
  readonly target: { low: number; high: number } | null
  readonly from: number
  readonly to: number
}

const IN = '#1f5fa8'
const OUT = '#b3261e'

export function Chart({ title, unit, points, target, from, to }: ChartProps) {
  const holder = useRef<HTMLDivElement>(null)
  const tip = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const el = holder.current
    if (!el) return
    const xs = points.map((p) => p.at / 1000)
    const ys = points.map((p) => p.value)
    const out = points.map((p) =>
      target && (p.value < target.low || p.value > target.high) ? p.value : null,
    )
    const lows = points.map((p) => p.low ?? null)
    const highs = points.map((p) => p.high ?? null)
    const hasBand = points.some((p) => p.low !== undefined)
    const width = Math.max(280, el.clientWidth)
    const series: uPlot.Series[] = [
      {},
      {
        label: `${title} (${unit})`,
        stroke: IN,
        width: 1.5,
        points: { show: points.length < 400, size: 5, fill: IN },
      },
      {
        label: 'Out of target',
        stroke: OUT,
        width: 0,
        paths: () => null,
        points: { show: true, size: 9, fill: OUT, stroke: OUT },
      },
    ]
    const data: uPlot.AlignedData = [xs, ys, out]
    if (hasBand) {
      series.push(
        { label: '25th percentile', stroke: 'rgba(31,95,168,0.4)', width: 1 },
        { label: '75th percentile', stroke: 'rgba(31,95,168,0.4)', width: 1 },
      )
      data.push(lows, highs)
    }
    const values = ys.concat(target ? [target.low, target.high] : [])
    const min = Math.min(...values)
    const max = Math.max(...values)
    const pad = (max - min) * 0.1 || 1
    const opts: uPlot.Options = {
      width,
      height: 240,
      legend: { show: false },
      cursor: { points: { show: true } },
      scales: { x: { time: true, min: from / 1000, max: to / 1000 }, y: { range: [min - pad, max + pad] } },
      axes: [{ stroke: '#333' }, { stroke: '#333', label: unit, size: 60 }],
      series,
      ...(hasBand ? { bands: [{ series: [4, 3], fill: 'rgba(31,95,168,0.12)' }] } : {}),
      hooks: {
        // The target range: a green band behind the series.
        drawClear: [
          (u) => {
            if (!target) return
            const ctx = u.ctx
            const top = u.valToPos(target.high, 'y', true)
            const bottom = u.valToPos(target.low, 'y', true)
            ctx.save()
            ctx.fillStyle = 'rgba(46,125,50,0.12)'
            ctx.fillRect(u.bbox.left, top, u.bbox.width, bottom - top)
            ctx.restore()
          },
        ],
        setCursor: [
          (u) => {
            const t = tip.current
            if (!t) return
            const i = u.cursor.idx
            const p = i === null || i === undefined ? undefined : points[i]
            if (!p) {
              t.hidden = true
              return
            }
            t.hidden = false
            t.textContent = `${formatTime(p.at)} · ${p.value} ${unit}${target && (p.value < target.low || p.value > target.high) ? ' (out of target)' : ''} · ${p.detail}`
          },
        ],
      },
    }
    const plot = new uPlot(opts, data, el)
    const resize = () => plot.setSize({ width: Math.max(280, el.clientWidth), height: 240 })
    window.addEventListener('resize', resize)
    return () => {
      window.removeEventListener('resize', resize)
      plot.destroy()
    }
  }, [points, target, from, to, title, unit])

  const outCount = target ? points.filter((p) => p.value < target.low || p.value > target.high).length : 0
  const label = `${title}: ${points.length} ${points.length === 1 ? 'point' : 'points'}${target ? `, target ${target.low}–${target.high} ${unit}, ${outCount} out of target` : ''}`
  return (
    <figure class="chart">
      <div class="chart-canvas" ref={holder} role="img" aria-label={label} />
      <div class="chart-tip" ref={tip} hidden aria-live="polite" />
      <figcaption>
        {label}
        {target && <span class="legend-target"> Green band: target range.</span>}
        {outCount > 0 && <span class="legend-out"> Red dots: out of target.</span>}
      </figcaption>
      <details>
        <summary>Show the values as a table</summary>
        <div class="table-scroll" tabIndex={0} role="region" aria-label={`${title}: values`}>
          <table>
            <caption>{title}</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Value ({unit})</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {points.slice(-200).map((p) => (
                <tr key={p.at}>
                  <td>{formatTime(p.at)}</td>
                  <td>
                    {p.value}
                    {target && (p.value < target.low || p.value > target.high) ? ' (out of target)' : ''}
                  </td>
                  <td>{p.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  )
}
