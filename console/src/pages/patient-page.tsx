// Clinician: one patient — demographics, charts, DiagnosticReports. What appears is only what the
// API returned for this user; a patient they may not see answers 404 and the page says so, offering
// break-glass (emergency access, a reason required, 60 minutes, recorded in the audit trail).
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, fhir, query } from '../api.ts'
import { formatDate, formatTime, patientName } from '../format.ts'
import { has, useMe } from '../session.ts'
import { ErrorNote, Outcome, Progress, useAction, useLoad } from '../ui.tsx'
import type { PatientView } from './patient-list.tsx'
import { Readings } from './readings.tsx'
import { TargetRanges } from './target-ranges.tsx'

// Break-glass sessions opened in this tab (memory only): patient id → expiry.
const emergency = new Map<string, number>()

function BreakGlassBanner({ patientId }: { patientId: string }) {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 15_000)
    return () => window.clearInterval(t)
  }, [])
  const until = emergency.get(patientId)
  if (!until || until <= now) return null
  const minutes = Math.max(1, Math.ceil((until - now) / 60_000))
  return (
    <div class="banner" role="status">
      <strong>Emergency access (break-glass).</strong> {minutes} {minutes === 1 ? 'minute' : 'minutes'} left,
      until {formatTime(until)}. Every view is recorded in the audit trail and reviewed by an administrator.
    </div>
  )
}

function BreakGlassForm({ patientId, onOpened }: { patientId: string; onOpened: () => void }) {
  const [reason, setReason] = useState('')
  const action = useAction()
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault()
        void action.run(async () => {
          const s = await api.post<{ expiresAt: string }>(`/patients/${patientId}/break-glass`, {
            reason: reason.trim(),
          })
          emergency.set(patientId, Date.parse(s.expiresAt))
          onOpened()
          return 'Emergency access opened.'
        })
      }}
    >
      <h2>Emergency access</h2>
      <p>
        If this is an emergency and the patient's care team cannot be reached, you may open access for 60
        minutes. Your reason is recorded and reviewed.
      </p>
      <label>
        Reason for emergency access (at least 10 characters)
        <textarea
          required
          minLength={10}
          maxLength={1000}
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={action.busy || reason.trim().length < 10}>
        Open emergency access
      </button>
      <Outcome action={action} />
    </form>
  )
}

interface Report {
  id: string
  status: string
  code?: { text?: string; coding?: Array<{ display?: string; code?: string }> }
  effectiveDateTime?: string
  issued?: string
  conclusion?: string
  result?: Array<{ reference: string }>
}

function Reports({ patientId }: { patientId: string }) {
  const list = useLoad(
    async () =>
      (
        await fhir.get<{ entry?: Array<{ resource: Report }> }>(
          `/DiagnosticReport${query({ patient: patientId, _count: 50 })}`,
        )
      ).entry?.map((e) => e.resource) ?? [],
    [patientId],
  )
  const [open, setOpen] = useState<string | null>(null)
  const detail = useLoad(async () => (open ? fhir.get<Report>(`/DiagnosticReport/${open}`) : null), [open])
  return (
    <section class="card" aria-labelledby="reports-title">
      <h2 id="reports-title">Reports</h2>
      {list.loading && <Progress label="Loading reports…" />}
      {list.error && <ErrorNote message={list.error} />}
      {list.data && list.data.length === 0 && <p>No reports.</p>}
      {list.data && list.data.length > 0 && (
        <ul class="rows" aria-label="Reports">
          {list.data.map((r) => (
            <li key={r.id} class="row">
              <button
                type="button"
                class="link"
                aria-expanded={open === r.id}
                onClick={() => setOpen(open === r.id ? null : r.id)}
              >
                {r.code?.text ?? r.code?.coding?.[0]?.display ?? 'Report'}
              </button>
              <span>{formatTime(r.effectiveDateTime ?? r.issued)}</span>
              <span>{r.status}</span>
              {open === r.id && (
                <div class="report-detail">
                  {detail.loading && <Progress label="Opening the report…" />}
                  {detail.error && <ErrorNote message={detail.error} />}
                  {detail.data && (
                    <>
                      <p>
                        <strong>Conclusion:</strong> {detail.data.conclusion ?? 'none recorded'}
                      </p>
                      <p>
                        Issued {formatTime(detail.data.issued)}; {detail.data.result?.length ?? 0}{' '}
                        {detail.data.result?.length === 1 ? 'result' : 'results'}.
                      </p>
                    </>
                  )}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

export function PatientHeader({ patient }: { patient: PatientView }) {
  const d = patient.demographics
  return (
    <section class="card" aria-labelledby="patient-title">
      <h1 id="patient-title">{patientName(d)}</h1>
      <p>
        Born {formatDate(d.birthDate)}
        {d.gender ? ` · ${d.gender}` : ''}
        {d.identifiers?.length ? ` · ${d.identifiers.map((i) => i.value).join(', ')}` : ''}
      </p>
    </section>
  )
}

export function PatientPage({ id }: { id: string }) {
  const me = useMe()
  const [tick, setTick] = useState(0)
  // A new target range redraws the charts against it.
  const [targets, setTargets] = useState(0)
  const patient = useLoad(async () => {
    try {
      return await api.get<PatientView>(`/patients/${id}`)
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null
      throw err
    }
  }, [id, tick])
  if (patient.loading && !patient.data) return <Progress label="Opening the patient…" />
  if (patient.error) return <ErrorNote message={patient.error} />
  if (patient.data === null || patient.data === undefined)
    return (
      <section class="card">
        <h1>Patient not available</h1>
        <p>
          This patient is not in your care teams and has not shared data with you, or does not exist. Go back
          to your patient list.
        </p>
        {has(me, 'clinician') && <BreakGlassForm patientId={id} onOpened={() => setTick((t) => t + 1)} />}
      </section>
    )
  return (
    <>
      <BreakGlassBanner patientId={id} />
      <PatientHeader patient={patient.data} />
      <Readings key={targets} patientId={id} />
      <TargetRanges patientId={id} canEdit={has(me, 'clinician')} onChange={() => setTargets((t) => t + 1)} />
      <Reports patientId={id} />
    </>
  )
}
