// Organisation admin: the organisation's users — invite with a role, give or take roles, disable
// and enable accounts. Every change is an audited API call.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorNote, Outcome, Paged, Progress, useAction, useLoad } from '../ui.tsx'
import { OrganisationPicker } from './organisation-picker.tsx'

interface Member {
  id: string
  email: string
  displayName: string | null
  status: 'active' | 'disabled'
  roles: string[]
}
const ROLES = ['clinician', 'caregiver', 'patient', 'org-admin']

export function AdminUsers() {
  const [org, setOrg] = useState<string | null>(null)
  const users = useLoad(async () => (org ? (await api.get<{ users: Member[] }>(`/organisations/${org}/users`)).users : []), [org])
  const [invite, setInvite] = useState({ email: '', role: 'clinician', displayName: '' })
  const action = useAction()
  const act = (fn: () => Promise<unknown>, done: string) =>
    void action.run(async () => {
      await fn()
      users.reload()
      return done
    })
  return (
    <>
      <section class="card" aria-labelledby="users-title">
        <h1 id="users-title">Users</h1>
        <OrganisationPicker value={org} onChange={setOrg} />
        <Outcome action={action} />
        {users.loading && <Progress label="Loading users…" />}
        {users.error && <ErrorNote message={users.error} />}
        {users.data && users.data.length === 0 && <p>No users in this organisation yet.</p>}
        {users.data && users.data.length > 0 && (
          <ul class="rows" aria-label="Users">
            <Paged
              label="Users"
              items={users.data}
              render={(u) => (
                <li key={u.id} class="row">
                  <span>{u.displayName ?? u.email}</span>
                  <span>{u.email}</span>
                  <span>{u.roles.join(', ')}</span>
                  <span>{u.status}</span>
                  <button type="button" class="secondary" aria-label={`${u.status === 'active' ? 'Disable' : 'Enable'} ${u.email}`} disabled={action.busy} onClick={() => act(() => api.post(`/users/${u.id}/${u.status === 'active' ? 'disable' : 'enable'}`), `${u.email} ${u.status === 'active' ? 'disabled: their sessions end now' : 'enabled'}.`)}>
                    {u.status === 'active' ? 'Disable' : 'Enable'}
                  </button>
                </li>
              )}
            />
          </ul>
        )}
      </section>
      {org && (
        <section class="card">
          <form
            class="stack"
            onSubmit={(e) => {
              e.preventDefault()
              act(() => api.post(`/organisations/${org}/users`, { email: invite.email.trim(), role: invite.role, ...(invite.displayName.trim() ? { displayName: invite.displayName.trim() } : {}) }), `Invitation sent to ${invite.email.trim()}.`)
            }}
          >
            <h2>Invite a user</h2>
            <label>
              Email
              <input type="email" required value={invite.email} autocomplete="off" onInput={(e) => setInvite({ ...invite, email: e.currentTarget.value })} />
            </label>
            <label>
              Name (optional)
              <input value={invite.displayName} autocomplete="off" onInput={(e) => setInvite({ ...invite, displayName: e.currentTarget.value })} />
            </label>
            <label>
              Role
              <select value={invite.role} onChange={(e) => setInvite({ ...invite, role: e.currentTarget.value })}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" disabled={action.busy}>
              Invite
            </button>
          </form>
        </section>
      )}
    </>
  )
}
