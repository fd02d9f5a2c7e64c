// Auditor: search the trail (who, patient, action, outcome, time range), page through it newest
// first, open an entry; and the trail's verification status with its last signed checkpoint.
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { formatTime } from '../format.ts'
import { Link } from '../link.tsx'
import { CursorPager, ErrorNote, Progress, useLoad } from '../ui.tsx'

export interface AuditEntryView {
  id: string
  occurredAt: string
  actorKind: string
  actorId: string | null
  clientId: string | null
  ip: string | null
  userAgent: string | null
  action: string
  resourceType: string | null
  resourceId: string | null
  patientId: string | null
  outcome: string
  status: number | null
  decisionRule: string | null
  consentId: string | null
  breakGlass: boolean
  requestId: string | null
  traceId: string | null
  chain: number
  seq: number
  prevHash: string
  hash: string
}

interface Filters {
  actor: string
  patient: string
  action: string
  outcome: string
  from: string
  to: string
}
const EMPTY: Filters = { actor: '', patient: '', action: '', outcome: '', from: '', to: '' }

function Verification() {
  const v = useLoad(
    () =>
      api.get<{
        intact: boolean
        verifiedAt: string
        entries: number | null
        chains: number | null
        lastCheckpoint: { id: string; createdAt: string } | null
        firstBad: { id: string | null; reason: string } | null
      }>('/audit/verification'),
    [],
  )
  return (
    <section class="card" aria-labelledby="verify-title">
      <h2 id="verify-title">Trail verification</h2>
      {v.loading && <Progress label="Verifying every chain of the trail…" />}
      {v.error && <ErrorNote message={v.error} />}
      {v.data && (
        <dl class="metrics">
          <div>
            <dt>Status</dt>
            <dd>{v.data.intact ? 'Intact' : 'TAMPERED — report this now'}</dd>
          </div>
          <div>
            <dt>Entries checked</dt>
            <dd>{v.data.entries ?? '—'}</dd>
          </div>
          <div>
            <dt>Last signed checkpoint</dt>
            <dd>{v.data.lastCheckpoint ? formatTime(v.data.lastCheckpoint.createdAt) : 'none yet'}</dd>
          </div>
          <div>
            <dt>Verified</dt>
            <dd>{formatTime(v.data.verifiedAt)}</dd>
          </div>
          {v.data.firstBad && (
            <div>
              <dt>First bad entry</dt>
              <dd>
                {v.data.firstBad.id ?? '—'}: {v.data.firstBad.reason}
              </dd>
            </div>
          )}
        </dl>
      )}
    </section>
  )
}

export function AuditSearch() {
  const [draft, setDraft] = useState<Filters>(EMPTY)
  const [filters, setFilters] = useState<Filters>(EMPTY)
  const [cursors, setCursors] = useState<Array<string | null>>([null])
  const cursor = cursors[cursors.length - 1] ?? null
  const page = useLoad(
    () =>
      api.get<{ entries: AuditEntryView[]; next: string | null }>(
        `/audit/entries${query({
          actor: filters.actor.trim(),
          patient: filters.patient.trim(),
          action: filters.action.trim(),
          outcome: filters.outcome,
          from: filters.from ? new Date(filters.from).toISOString() : undefined,
          to: filters.to ? new Date(filters.to).toISOString() : undefined,
          limit: 25,
          cursor,
        })}`,
      ),
    [filters, cursor],
  )
  const input = (name: keyof Filters, label: string, type = 'text') => (
    <label>
      {label}
      <input
        type={type}
        value={draft[name]}
        autocomplete="off"
        onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}
      />
    </label>
  )
  return (
    <>
      <Verification />
      <section class="card" aria-labelledby="audit-title">
        <h1 id="audit-title">Audit trail</h1>
        <form
          class="filters"
          role="search"
          onSubmit={(e) => {
            e.preventDefault()
            setFilters(draft)
            setCursors([null])
          }}
        >
          {input('actor', 'Who (user, device or client id)')}
          {input('patient', 'Patient id')}
          {input('action', 'Action (e.g. device-data.read)')}
          <label>
            Outcome
            <select
              value={draft.outcome}
              onChange={(e) => setDraft({ ...draft, outcome: e.currentTarget.value })}
            >
              <option value="">Any</option>
              <option value="success">success</option>
              <option value="denied">denied</option>
              <option value="failure">failure</option>
              <option value="error">error</option>
            </select>
          </label>
          {input('from', 'From (your time)', 'datetime-local')}
          {input('to', 'To (your time)', 'datetime-local')}
          <button type="submit">Search</button>
        </form>
        {page.loading && <Progress label="Searching the trail…" />}
        {page.error && <ErrorNote message={page.error} />}
        {page.data && page.data.entries.length === 0 && (
          <p>No entry matches. Widen the time range or clear a filter.</p>
        )}
        {page.data && page.data.entries.length > 0 && (
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Audit entries, newest first">
            <table>
              <caption>Audit entries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Action</th>
                  <th scope="col">Patient</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Grounds</th>
                </tr>
              </thead>
              <tbody>
                {page.data.entries.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <Link href={`/console/audit/entries/${e.id}`}>{formatTime(e.occurredAt)}</Link>
                    </td>
                    <td class="mono">
                      {e.actorKind} {e.actorId ?? ''}
                    </td>
                    <td>{e.action}</td>
                    <td class="mono">{e.patientId ?? '—'}</td>
                    <td>{e.outcome}</td>
                    <td>
                      {e.decisionRule ?? '—'}
                      {e.breakGlass ? ' (break-glass)' : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <CursorPager label="Audit pages" cursors={cursors} setCursors={setCursors} next={page.data?.next} />
      </section>
    </>
  )
}
