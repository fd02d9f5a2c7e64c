// Patient: who read or changed my data, when, and on what grounds — from the audit trail.
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { formatTime } from '../format.ts'
import { CursorPager, ErrorNote, Progress, useLoad } from '../ui.tsx'

interface Entry {
  id: string
  occurredAt: string
  actor: { kind: string; id: string | null; email: string | null; roles: string[]; organisations: string[] }
  clientId: string | null
  action: string
  outcome: string
  grounds: string
  breakGlass: boolean
}
const GROUNDS: Record<string, string> = {
  'care-team': 'Your care team',
  consent: 'Your consent',
  'break-glass': 'Emergency access (break-glass)',
  'own-organisation-service': "Your clinic's system",
  'bound-device': 'Your paired device',
  administration: 'Administration',
  self: 'You',
  none: 'Not allowed (refused)',
}
const ACTIONS: Record<string, string> = {
  'patients.read': 'viewed your personal details',
  'patients.write': 'changed your personal details',
  'device-data.read': 'viewed your readings',
  'device-data.write': 'added readings',
  'devices.read': 'viewed your devices',
  'devices.bind': 'paired a device',
  'devices.manage': 'managed your devices',
  'reports.read': 'viewed your reports',
  'reports.write': 'wrote a report',
  'break-glass.open': 'opened emergency access',
  'patients.manage': 'managed your record',
  'care-team.manage': 'changed your care team',
}

function who(e: Entry): string {
  if (e.actor.kind === 'user')
    return `${e.actor.email ?? 'A user'}${e.actor.roles.length ? ` (${e.actor.roles.join(', ')}${e.actor.organisations.length ? `, ${e.actor.organisations.join(', ')}` : ''})` : ''}`
  if (e.actor.kind === 'device') return 'A device'
  if (e.actor.kind === 'client') return `A system (${e.clientId ?? 'unknown'})`
  return 'Someone not signed in'
}

export function AccessReport() {
  const [cursors, setCursors] = useState<Array<string | null>>([null])
  const cursor = cursors[cursors.length - 1] ?? null
  const page = useLoad(
    () =>
      api.get<{ entries: Entry[]; next: string | null }>(`/me/access-report${query({ limit: 25, cursor })}`),
    [cursor],
  )
  return (
    <section class="card" aria-labelledby="report-title">
      <h1 id="report-title">Who saw or changed my data</h1>
      <p class="hint">
        Every access to your record by someone other than you, newest first, from the tamper-evident audit
        trail. Times in your time zone.
      </p>
      {page.loading && <Progress label="Loading the report…" />}
      {page.error && <ErrorNote message={page.error} />}
      {page.data && page.data.entries.length === 0 && <p>Nobody else has accessed your data.</p>}
      {page.data && page.data.entries.length > 0 && (
        <div class="table-scroll" tabIndex={0} role="region" aria-label="Accesses to your data">
          <table>
            <caption>Accesses to your data</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">On what grounds</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {page.data.entries.map((e) => (
                <tr key={e.id}>
                  <td>{formatTime(e.occurredAt)}</td>
                  <td>{who(e)}</td>
                  <td>{ACTIONS[e.action] ?? e.action}</td>
                  <td>{GROUNDS[e.grounds] ?? e.grounds}</td>
                  <td>{e.outcome === 'success' ? 'Done' : e.outcome === 'denied' ? 'Refused' : 'Failed'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CursorPager label="Report pages" cursors={cursors} setCursors={setCursors} next={page.data?.next} />
    </section>
  )
}
