// Auditor: security events — every refusal and failed attempt the trail recorded (failed or
// throttled sign-ins, segregation-of-duties refusals, forbidden and concealed requests), newest
// first, each opening its audit entry. The anomalies the detector raised from them are on the
// anomalies page (anomalies.tsx).
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { formatTime } from '../format.ts'
import { Link } from '../link.tsx'
import { CursorPager, ErrorNote, Progress, useLoad } from '../ui.tsx'
import type { AuditEntryView } from './audit-search.tsx'

export function SecurityEvents() {
  const [cursors, setCursors] = useState<Array<string | null>>([null])
  const cursor = cursors[cursors.length - 1] ?? null
  const page = useLoad(
    () =>
      api.get<{ entries: AuditEntryView[]; next: string | null }>(
        `/audit/entries${query({ outcome: 'denied', limit: 25, cursor })}`,
      ),
    [cursor],
  )
  return (
    <section class="card" aria-labelledby="events-title">
      <h1 id="events-title">Security events</h1>
      <p class="hint">
        Refusals and failed attempts from the audit trail: failed sign-ins, segregation-of-duties refusals,
        forbidden requests.
      </p>
      {page.loading && <Progress label="Loading security events…" />}
      {page.error && <ErrorNote message={page.error} />}
      {page.data && page.data.entries.length === 0 && <p>No refusal has been recorded.</p>}
      {page.data && page.data.entries.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Security events, newest first">
          <table>
            <caption>Security events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Who</th>
                <th scope="col">About</th>
                <th scope="col">Refused by</th>
              </tr>
            </thead>
            <tbody>
              {page.data.entries.map((e) => (
                <tr key={e.id}>
                  <td>
                    <Link href={`/console/audit/entries/${e.id}`}>{formatTime(e.occurredAt)}</Link>
                  </td>
                  <td>{e.action}</td>
                  <td class="mono">
                    {e.actorKind} {e.actorId ?? ''}
                  </td>
                  <td class="mono">
                    {e.resourceType ?? ''} {e.resourceId ?? e.patientId ?? ''}
                  </td>
                  <td>
                    {e.decisionRule ?? '—'}
                    {e.status ? ` (${e.status})` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CursorPager
        label="Security event pages"
        cursors={cursors}
        setCursors={setCursors}
        next={page.data?.next}
      />
    </section>
  )
}
