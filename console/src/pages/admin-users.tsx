// Organisation admin: the organisation's users — invite with a role, give or take roles, disable
// and enable accounts, reset a second factor (after a confirmation step). Every change is an
// audited API call.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ConfirmAction, ErrorNote, Outcome, Paged, Progress, useAction, useLoad } from '../ui.tsx'
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
  const users = useLoad(
    async () => (org ? (await api.get<{ users: Member[] }>(`/organisations/${org}/users`)).users : []),
    [org],
  )
  const [invite, setInvite] = useState({ email: '', role: 'clinician', displayName: '' })
  const action = useAction()
  const [grant, setGrant] = useState({ userId: '', role: 'clinician' })
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
          <Paged
            listLabel="Users"
            label="Users"
            items={users.data}
            render={(u) => (
              <li key={u.id} class="row">
                <span>{u.displayName ?? u.email}</span>
                <span>{u.email}</span>
                <span class="roles">
                  {u.roles.length === 0 && 'no role'}
                  {u.roles.map((r) => (
                    <span key={r} class="role">
                      {r}{' '}
                      <ConfirmAction
                        trigger="Take away"
                        triggerLabel={`Take away ${r} from ${u.email}`}
                        groupLabel={`Confirm taking away ${r} from ${u.email}`}
                        question={`Take the ${r} role from ${u.email}? What it opens closes on their next request.`}
                        confirm="Yes, take it away"
                        busy={action.busy}
                        onConfirm={() =>
                          act(
                            () =>
                              api.del(`/organisations/${org}/users/${u.id}/roles/${encodeURIComponent(r)}`),
                            `Role ${r} taken from ${u.email}.`,
                          )
                        }
                      />
                    </span>
                  ))}
                </span>
                <span>{u.status}</span>
                <button
                  type="button"
                  class="secondary"
                  aria-label={`${u.status === 'active' ? 'Disable' : 'Enable'} ${u.email}`}
                  disabled={action.busy}
                  onClick={() =>
                    act(
                      () => api.post(`/users/${u.id}/${u.status === 'active' ? 'disable' : 'enable'}`),
                      `${u.email} ${u.status === 'active' ? 'disabled: their sessions end now' : 'enabled'}.`,
                    )
                  }
                >
                  {u.status === 'active' ? 'Disable' : 'Enable'}
                </button>
                <ConfirmAction
                  trigger="Reset second factor"
                  triggerLabel={`Reset second factor of ${u.email}`}
                  groupLabel={`Confirm second-factor reset of ${u.email}`}
                  question={`Reset the second factor of ${u.email}? Their sessions end and they set up a new authenticator at their next sign-in.`}
                  confirm="Yes, reset"
                  busy={action.busy}
                  onConfirm={() =>
                    act(
                      () => api.post(`/users/${u.id}/second-factor/reset`),
                      `Second factor of ${u.email} reset: they set up a new authenticator at their next sign-in.`,
                    )
                  }
                />
              </li>
            )}
          />
        )}
      </section>
      {org && users.data && users.data.length > 0 && (
        <section class="card">
          <form
            class="stack"
            onSubmit={(e) => {
              e.preventDefault()
              const user = users.data?.find((u) => u.id === grant.userId)
              if (!user) return
              act(
                () =>
                  api.put(`/organisations/${org}/users/${user.id}/roles/${encodeURIComponent(grant.role)}`),
                `Role ${grant.role} given to ${user.email}.`,
              )
            }}
          >
            <h2>Give a role</h2>
            <label>
              Account
              <select
                required
                value={grant.userId}
                onChange={(e) => setGrant({ ...grant, userId: e.currentTarget.value })}
              >
                <option value="">Choose a user…</option>
                {users.data.map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.email}
                  </option>
                ))}
              </select>
            </label>
            <RoleSelect label="Grant" value={grant.role} onChange={(role) => setGrant({ ...grant, role })} />
            <button type="submit" disabled={action.busy}>
              Give role
            </button>
          </form>
        </section>
      )}
      {org && (
        <section class="card">
          <form
            class="stack"
            onSubmit={(e) => {
              e.preventDefault()
              act(
                () =>
                  api.post(`/organisations/${org}/users`, {
                    email: invite.email.trim(),
                    role: invite.role,
                    ...(invite.displayName.trim() ? { displayName: invite.displayName.trim() } : {}),
                  }),
                `Invitation sent to ${invite.email.trim()}.`,
              )
            }}
          >
            <h2>Invite a user</h2>
            <label>
              Email
              <input
                type="email"
                required
                value={invite.email}
                autocomplete="off"
                onInput={(e) => setInvite({ ...invite, email: e.currentTarget.value })}
              />
            </label>
            <label>
              Name (optional)
              <input
                value={invite.displayName}
                autocomplete="off"
                onInput={(e) => setInvite({ ...invite, displayName: e.currentTarget.value })}
              />
            </label>
            <RoleSelect
              label="Role"
              value={invite.role}
              onChange={(role) => setInvite({ ...invite, role })}
            />
            <button type="submit" disabled={action.busy}>
              Invite
            </button>
          </form>
        </section>
      )}
    </>
  )
}

/** A labelled choice of one of the organisation roles. */
function RoleSelect({
  label,
  value,
  onChange,
}: {
  label: string
  value: string
  onChange: (role: string) => void
}) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
    </label>
  )
}
