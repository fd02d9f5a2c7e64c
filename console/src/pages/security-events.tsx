// Auditor and admin: security events and anomalies raised from the trail (bursts of failed logins,
// one user touching many patients …), newest first.
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { formatTime } from '../format.ts'
import { ErrorNote, Progress, useLoad } from '../ui.tsx'

interface SecurityEvent {
  id: string
  kind: string
  subject: string
  windowStart: string
  details: Record<string, unknown>
  createdAt: string
  acknowledgedAt: string | null
}

export function SecurityEvents() {
  const [cursors, setCursors] = useState<Array<string | null>>([null])
  const cursor = cursors[cursors.length - 1] ?? null
  const page = useLoad(() => api.get<{ events: SecurityEvent[]; next: string | null }>(`/security-events${query({ limit: 25, cursor })}`), [cursor])
  return (
    <section class="card" aria-labelledby="events-title">
      <h1 id="events-title">Security events and anomalies</h1>
      {page.loading && <Progress label="Loading security events…" />}
      {page.error && <ErrorNote message={page.error} />}
      {page.data && page.data.events.length === 0 && <p>No security event has been raised.</p>}
      {page.data && page.data.events.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Security events, newest first">
          <table>
            <caption>Security events, newest first</caption>
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
                  <td class="mono">{Object.entries(e.details).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}: ${String(v)}`).join(', ')}</td>
                  <td>{e.acknowledgedAt ? formatTime(e.acknowledgedAt) : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Security event pages">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!page.data?.next} onClick={() => page.data?.next && setCursors([...cursors, page.data.next])}>
          Older
        </button>
      </nav>
    </section>
  )
}
