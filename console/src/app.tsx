// The shell: a header with the sections the signed-in user's roles open, and the page for the path.
import { signOut } from './auth.ts'
import { Link } from './link.tsx'
import { match, usePath } from './router.ts'
import { has, useMe, type Me } from './session.ts'
import { PatientList } from './pages/patient-list.tsx'
import { PatientPage } from './pages/patient-page.tsx'
import { MyRecord } from './pages/my-record.tsx'
import { MyDevices } from './pages/my-devices.tsx'
import { MyConsents } from './pages/my-consents.tsx'
import { AccessReport } from './pages/access-report.tsx'
import { AdminUsers } from './pages/admin-users.tsx'
import { AdminDevices } from './pages/admin-devices.tsx'
import { AdminClients } from './pages/admin-clients.tsx'
import { AdminCareTeams } from './pages/admin-care-teams.tsx'
import { AuditSearch } from './pages/audit-search.tsx'
import { AuditEntry } from './pages/audit-entry.tsx'
import { SecurityEvents } from './pages/security-events.tsx'
import { Anomalies } from './pages/anomalies.tsx'

interface NavItem {
  readonly path: string
  readonly label: string
  readonly when: (me: Me) => boolean
}
const NAV: readonly NavItem[] = [
  {
    path: '/console/patients',
    label: 'Patients',
    when: (me) => has(me, 'clinician') || has(me, 'caregiver'),
  },
  { path: '/console/me/record', label: 'My readings', when: (me) => has(me, 'patient') },
  { path: '/console/me/devices', label: 'My devices', when: (me) => has(me, 'patient') },
  { path: '/console/me/consents', label: 'Sharing', when: (me) => has(me, 'patient') },
  { path: '/console/me/access-report', label: 'Who saw my data', when: (me) => has(me, 'patient') },
  { path: '/console/admin/users', label: 'Users', when: (me) => has(me, 'admin') || has(me, 'org-admin') },
  {
    path: '/console/admin/devices',
    label: 'Devices',
    when: (me) => has(me, 'admin') || has(me, 'org-admin'),
  },
  { path: '/console/admin/clients', label: 'OAuth clients', when: (me) => has(me, 'admin') },
  {
    path: '/console/admin/care-teams',
    label: 'Care teams',
    when: (me) => has(me, 'admin') || has(me, 'org-admin'),
  },
  { path: '/console/audit', label: 'Audit trail', when: (me) => has(me, 'auditor') },
  { path: '/console/security-events', label: 'Security events', when: (me) => has(me, 'auditor') },
  {
    path: '/console/anomalies',
    label: 'Anomalies',
    when: (me) => has(me, 'auditor') || has(me, 'admin'),
  },
]

function Page({ path }: { path: string }) {
  const me = useMe()
  let m: Record<string, string> | null
  if (match('/console/patients', path)) return <PatientList />
  if ((m = match('/console/patients/:id', path))) return <PatientPage id={m.id as string} />
  if (match('/console/me/record', path)) return <MyRecord />
  if (match('/console/me/devices', path)) return <MyDevices />
  if (match('/console/me/consents', path)) return <MyConsents />
  if (match('/console/me/access-report', path)) return <AccessReport />
  if (match('/console/admin/users', path)) return <AdminUsers />
  if (match('/console/admin/devices', path)) return <AdminDevices />
  if (match('/console/admin/clients', path)) return <AdminClients />
  if (match('/console/admin/care-teams', path)) return <AdminCareTeams />
  if (match('/console/audit', path)) return <AuditSearch />
  if ((m = match('/console/audit/entries/:id', path))) return <AuditEntry id={m.id as string} />
  if (match('/console/security-events', path)) return <SecurityEvents />
  if (match('/console/anomalies', path)) return <Anomalies />
  const items = NAV.filter((n) => n.when(me))
  return (
    <section class="card">
      <h1>Welcome</h1>
      {items.length === 0 ? (
        <p>
          Your account has no role that the console serves. Ask your organisation administrator for access.
        </p>
      ) : (
        <>
          <p>Choose where to go:</p>
          <ul class="home-links">
            {items.map((n) => (
              <li key={n.path}>
                <Link href={n.path} current={false}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

export function App() {
  const me = useMe()
  const path = usePath()
  const items = NAV.filter((n) => n.when(me))
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/console/" current={path === '/console/'}>
          Vigil console
        </Link>
        <nav aria-label="Sections">
          <ul>
            {items.map((n) => (
              <li key={n.path}>
                <Link href={n.path} current={path === n.path || path.startsWith(`${n.path}/`)}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
    </>
  )
}
