// Patient: who may see my data (consents) — grant a clinician, caregiver or organisation access to
// categories of data for a purpose until a date, and revoke it (their next request is refused).
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { formatDate, formatTime } from '../format.ts'
import { ErrorNote, Outcome, Paged, Progress, useAction, useLoad } from '../ui.tsx'

interface Consent {
  id: string
  granteeKind: 'user' | 'organisation'
  granteeId: string
  categories: string[]
  access: 'read' | 'read-write'
  purpose: string
  expiresAt: string
  createdAt: string
  revokedAt: string | null
  active: boolean
}
const CATEGORIES: Record<string, string> = {
  'device-data': 'Readings',
  demographics: 'Personal details',
  reports: 'Reports',
  devices: 'Devices',
}
const PURPOSES = ['treatment', 'care-coordination', 'caregiving', 'research', 'payment', 'operations']

function GrantForm({ onGranted }: { onGranted: () => void }) {
  const [kind, setKind] = useState<'user' | 'organisation'>('user')
  const [granteeId, setGranteeId] = useState('')
  const [categories, setCategories] = useState<string[]>(['device-data'])
  const [access, setAccess] = useState<'read' | 'read-write'>('read')
  const [purpose, setPurpose] = useState('treatment')
  const [until, setUntil] = useState(() => new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10))
  const action = useAction()
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault()
        void action.run(async () => {
          await api.post('/me/consents', {
            granteeKind: kind,
            granteeId: granteeId.trim(),
            categories,
            access,
            purpose,
            expiresAt: new Date(`${until}T23:59:59`).toISOString(),
          })
          onGranted()
          return 'Access granted.'
        })
      }}
    >
      <h2>Share my data</h2>
      <fieldset>
        <legend>Share with</legend>
        <label>
          <input type="radio" name="kind" checked={kind === 'user'} onChange={() => setKind('user')} /> A
          person (clinician or caregiver)
        </label>
        <label>
          <input
            type="radio"
            name="kind"
            checked={kind === 'organisation'}
            onChange={() => setKind('organisation')}
          />{' '}
          An organisation
        </label>
      </fieldset>
      <label>
        {kind === 'user' ? 'Their Vigil user id (they can read it in their account)' : 'The organisation id'}
        <input
          required
          value={granteeId}
          pattern="[0-9a-fA-F-]{36}"
          onInput={(e) => setGranteeId(e.currentTarget.value)}
          autocomplete="off"
        />
      </label>
      <fieldset>
        <legend>What they may see</legend>
        {Object.entries(CATEGORIES).map(([c, label]) => (
          <label key={c}>
            <input
              type="checkbox"
              checked={categories.includes(c)}
              onChange={(e) =>
                setCategories(
                  e.currentTarget.checked ? [...categories, c] : categories.filter((x) => x !== c),
                )
              }
            />{' '}
            {label}
          </label>
        ))}
      </fieldset>
      <label>
        Access
        <select value={access} onChange={(e) => setAccess(e.currentTarget.value as 'read' | 'read-write')}>
          <option value="read">Read only</option>
          <option value="read-write">Read and add</option>
        </select>
      </label>
      <label>
        Purpose
        <select value={purpose} onChange={(e) => setPurpose(e.currentTarget.value)}>
          {PURPOSES.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <label>
        Until
        <input type="date" required value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={action.busy || categories.length === 0}>
        Grant access
      </button>
      <Outcome action={action} />
    </form>
  )
}

export function MyConsents() {
  const list = useLoad(() => api.get<{ consents: Consent[] }>('/me/consents'), [])
  const action = useAction()
  return (
    <>
      <section class="card" aria-labelledby="consents-title">
        <h1 id="consents-title">Who may see my data</h1>
        <p class="hint">
          Your care team sees your data without a consent. Here you share with anyone else, and stop sharing
          at any time.
        </p>
        <Outcome action={action} />
        {list.loading && <Progress label="Loading your consents…" />}
        {list.error && <ErrorNote message={list.error} />}
        {list.data && list.data.consents.length === 0 && <p>You have not shared your data with anyone.</p>}
        {list.data && list.data.consents.length > 0 && (
          <Paged
            listLabel="Consents"
            label="Consents"
            items={list.data.consents}
            render={(c) => (
              <li key={c.id} class="row">
                <span>
                  {c.granteeKind === 'user' ? 'Person' : 'Organisation'}{' '}
                  <span class="mono">{c.granteeId}</span>
                </span>
                <span>{c.categories.map((x) => CATEGORIES[x] ?? x).join(', ')}</span>
                <span>
                  {c.access === 'read' ? 'read only' : 'read and add'}, for {c.purpose}
                </span>
                <span>
                  {c.revokedAt
                    ? `Revoked ${formatTime(c.revokedAt)}`
                    : c.active
                      ? `Until ${formatDate(c.expiresAt)}`
                      : `Expired ${formatDate(c.expiresAt)}`}
                </span>
                {c.active && (
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Revoke access of ${c.granteeId}`}
                    disabled={action.busy}
                    onClick={() =>
                      void action.run(async () => {
                        await api.del(`/me/consents/${c.id}`)
                        list.reload()
                        return 'Access revoked: their next request is refused.'
                      })
                    }
                  >
                    Revoke
                  </button>
                )}
              </li>
            )}
          />
        )}
      </section>
      <section class="card">
        <GrantForm onGranted={list.reload} />
      </section>
    </>
  )
}
