// A patient's target range per measurement (ADR-0027): what the charts draw and mark against. Every
// reader of the readings sees them; a clinician of the care team sets one or goes back to the
// default (the API refuses anyone else, and the page says what to do).
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorNote, Outcome, Progress, useAction, useLoad } from '../ui.tsx'

interface Target {
  code: string
  label: string
  unit: string
  low: number
  high: number
  source: 'patient' | 'default'
}

export function TargetRanges({
  patientId,
  canEdit,
  onChange,
}: {
  patientId: string
  canEdit: boolean
  onChange: () => void
}) {
  const [tick, setTick] = useState(0)
  const targets = useLoad(
    async () => (await api.get<{ targets: Target[] }>(`/patients/${patientId}/target-ranges`)).targets,
    [patientId, tick],
  )
  const [form, setForm] = useState({ code: '2339-0', low: '', high: '' })
  const action = useAction()
  const chosen = targets.data?.find((t) => t.code === form.code)
  const changed = (done: string) => {
    setTick((t) => t + 1)
    onChange()
    return done
  }
  return (
    <section class="card" aria-labelledby="targets-title">
      <h2 id="targets-title">Target ranges</h2>
      {targets.loading && !targets.data && <Progress label="Loading target ranges…" />}
      {targets.error && <ErrorNote message={targets.error} />}
      {targets.data && (
        <ul class="rows" aria-label="Target ranges">
          {targets.data.map((t) => (
            <li key={t.code} class="row">
              <span>{t.label}</span>
              <span>
                {t.low}–{t.high} {t.unit}
              </span>
              <span>{t.source === 'patient' ? 'Set by the care team' : 'Default'}</span>
            </li>
          ))}
        </ul>
      )}
      {canEdit && targets.data && (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault()
            void action.run(async () => {
              await api.put(`/patients/${patientId}/target-ranges/${form.code}`, {
                low: Number(form.low),
                high: Number(form.high),
                unit: chosen?.unit ?? '',
              })
              return changed(
                `Target range of ${chosen?.label ?? form.code} saved: the charts now use ${form.low}–${form.high} ${chosen?.unit ?? ''}.`,
              )
            })
          }}
        >
          <h3>Set a target range</h3>
          <label>
            Measurement
            <select value={form.code} onChange={(e) => setForm({ ...form, code: e.currentTarget.value })}>
              {targets.data.map((t) => (
                <option key={t.code} value={t.code}>
                  {t.label} ({t.unit})
                </option>
              ))}
            </select>
          </label>
          <label>
            Low ({chosen?.unit})
            <input
              required
              inputMode="decimal"
              value={form.low}
              onInput={(e) => setForm({ ...form, low: e.currentTarget.value })}
            />
          </label>
          <label>
            High ({chosen?.unit})
            <input
              required
              inputMode="decimal"
              value={form.high}
              onInput={(e) => setForm({ ...form, high: e.currentTarget.value })}
            />
          </label>
          <div class="actions">
            <button type="submit" disabled={action.busy}>
              Save target range
            </button>
            <button
              type="button"
              class="secondary"
              disabled={action.busy || chosen?.source !== 'patient'}
              onClick={() =>
                void action.run(async () => {
                  await api.del(`/patients/${patientId}/target-ranges/${form.code}`)
                  return changed(`${chosen?.label ?? form.code}: back to the default range.`)
                })
              }
            >
              Use the default
            </button>
          </div>
          <Outcome action={action} />
        </form>
      )}
    </section>
  )
}
