// Auditor: one audit entry, every field, with its place in its hash chain.
import { api } from '../api.ts'
import { formatTime } from '../format.ts'
import { Link } from '../link.tsx'
import { ErrorNote, Progress, useLoad } from '../ui.tsx'
import type { AuditEntryView } from './audit-search.tsx'

export function AuditEntry({ id }: { id: string }) {
  const entry = useLoad(() => api.get<AuditEntryView>(`/audit/entries/${encodeURIComponent(id)}`), [id])
  return (
    <section class="card" aria-labelledby="entry-title">
      <h1 id="entry-title">Audit entry</h1>
      <p>
        <Link href="/console/audit">Back to the search</Link>
      </p>
      {entry.loading && <Progress label="Opening the entry…" />}
      {entry.error && <ErrorNote message={entry.error} />}
      {entry.data && (
        <table>
          <caption>Entry {entry.data.id}</caption>
          <tbody>
            {(
              [
                ['When', formatTime(entry.data.occurredAt)],
                ['Who', `${entry.data.actorKind} ${entry.data.actorId ?? ''}`],
                ['Through client', entry.data.clientId],
                ['From address', entry.data.ip],
                ['User agent', entry.data.userAgent],
                ['Action', entry.data.action],
                ['Resource', [entry.data.resourceType, entry.data.resourceId].filter(Boolean).join(' ')],
                ['Patient', entry.data.patientId],
                [
                  'Outcome',
                  `${entry.data.outcome}${entry.data.status ? ` (HTTP ${entry.data.status})` : ''}`,
                ],
                ['Rule that decided', entry.data.decisionRule],
                ['Consent', entry.data.consentId],
                ['Break-glass', entry.data.breakGlass ? 'yes' : 'no'],
                ['Request id', entry.data.requestId],
                ['Trace id', entry.data.traceId],
                ['Chain, position', `${entry.data.chain}, ${entry.data.seq}`],
                ['Previous hash', entry.data.prevHash],
                ['Hash', entry.data.hash],
              ] as Array<[string, string | null]>
            ).map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td class="mono">{v || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
