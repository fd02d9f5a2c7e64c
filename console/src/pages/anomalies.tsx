// Auditor and admin: the anomalies the detector raised from the trail (bursts of failed sign-ins,
// one user touching many patients, break-glass use …), newest first. The refusals themselves are
// on the security events page (security-events.tsx).
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { formatTime } from '../format.ts'
import { CursorPager, ErrorNote, Progress, useLoad } from '../ui.tsx'

interface SecurityEvent {
  id: string
  kind: string
  subject: string
  windowStart: string
  details: Record<string, unknown>
  createdAt: string
  acknowledgedAt: string | null
}

export function Anomalies() {
  const [cursors, setCursors] = useState<Array<string | null>>([null])
  const cursor = cursors[cursors.length - 1] ?? null
  const page = useLoad(
    () =>
      api.get<{ events: SecurityEvent[]; next: string | null }>(
        `/security-events${query({ limit: 25, cursor })}`,
      ),
    [cursor],
  )
  return (
    <section class="card" aria-labelledby="anomalies-title">
      <h1 id="anomalies-title">Anomalies</h1>
      <p class="hint">Patterns the detector found in the audit trail; each is raised once per burst.</p>
      {page.loading && <Progress label="Loading anomalies…" />}
      {page.error && <ErrorNote message={page.error} />}
      {page.data && page.data.events.length === 0 && <p>No anomaly has been raised.</p>}
      {page.data && page.data.events.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Anomalies, newest first">
          <table>
            <caption>Anomalies, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Raised</th>
                <th scope="col">Kind</th>
                <th scope="col">About</th>
                <th scope="col">Details</th>
                <th scope="col">Acknowledged</th>
              </tr>
            </thead>
            <tbody>
              {page.data.events.map((e) => (
                <tr key={e.id}>
                  <td>{formatTime(e.createdAt)}</td>
                  <td>{e.kind}</td>
                  <td class="mono">{e.subject}</td>
                  <td class="mono">
                    {Object.entries(e.details)
                      .filter(([, v]) => typeof v !== 'object')
                      .map(([k, v]) => `${k}: ${String(v)}`)
                      .join(', ')}
                  </td>
                  <td>{e.acknowledgedAt ? formatTime(e.acknowledgedAt) : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CursorPager label="Anomaly pages" cursors={cursors} setCursors={setCursors} next={page.data?.next} />
    </section>
  )
}
