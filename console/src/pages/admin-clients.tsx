// Platform admin: OAuth clients — register, rotate a confidential client's secret (shown once),
// remove (after an inline confirmation step).
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ConfirmAction, ErrorNote, Outcome, Paged, Progress, useAction, useLoad } from '../ui.tsx'

interface Client {
  clientId: string
  type: 'public' | 'confidential'
  grantTypes: string[]
  scope: string
  name?: string | null
}

export function AdminClients() {
  const clients = useLoad(async () => (await api.get<{ clients: Client[] }>('/admin/clients')).clients, [])
  const [secret, setSecret] = useState<{ clientId: string; clientSecret: string } | null>(null)
  const [form, setForm] = useState({
    clientId: '',
    type: 'confidential',
    grantTypes: 'client_credentials',
    scope: 'device-data:write',
    redirectUris: '',
  })
  const action = useAction()
  return (
    <>
      <section class="card" aria-labelledby="clients-title">
        <h1 id="clients-title">OAuth clients</h1>
        <Outcome action={action} />
        {secret && (
          <div class="stack" role="status">
            <p>
              New secret of <strong>{secret.clientId}</strong> — shown once, copy it now:
            </p>
            <p class="secret" data-testid="client-secret">
              {secret.clientSecret}
            </p>
            <button type="button" class="secondary" onClick={() => setSecret(null)}>
              I have stored it
            </button>
          </div>
        )}
        {clients.loading && <Progress label="Loading clients…" />}
        {clients.error && <ErrorNote message={clients.error} />}
        {clients.data && (
          <Paged
            listLabel="OAuth clients"
            label="OAuth clients"
            items={clients.data}
            render={(c) => (
              <li key={c.clientId} class="row">
                <span class="mono">{c.clientId}</span>
                <span>{c.type}</span>
                <span>{c.grantTypes.join(', ')}</span>
                {c.type === 'confidential' && (
                  <button
                    type="button"
                    class="secondary"
                    aria-label={`Rotate secret of ${c.clientId}`}
                    disabled={action.busy}
                    onClick={() =>
                      void action.run(async () => {
                        setSecret(
                          await api.post<{ clientId: string; clientSecret: string }>(
                            `/admin/clients/${encodeURIComponent(c.clientId)}/secret`,
                          ),
                        )
                        return 'Secret rotated: the old one no longer works.'
                      })
                    }
                  >
                    Rotate secret
                  </button>
                )}
                <ConfirmAction
                  trigger="Delete"
                  triggerClass="danger"
                  triggerLabel={`Delete ${c.clientId}`}
                  groupLabel={`Confirm deleting ${c.clientId}`}
                  question={`Delete the client ${c.clientId}? Apps using it stop working.`}
                  confirm="Yes, delete"
                  busy={action.busy}
                  onConfirm={() =>
                    action.run(async () => {
                      await api.del(`/admin/clients/${encodeURIComponent(c.clientId)}`)
                      clients.reload()
                      return `${c.clientId} deleted.`
                    })
                  }
                />
              </li>
            )}
          />
        )}
      </section>
      <section class="card">
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault()
            void action.run(async () => {
              const created = await api.post<{ clientId: string; clientSecret?: string }>('/admin/clients', {
                clientId: form.clientId.trim(),
                type: form.type,
                grantTypes: form.grantTypes.split(/[\s,]+/).filter(Boolean),
                scope: form.scope.trim(),
                ...(form.redirectUris.trim()
                  ? { redirectUris: form.redirectUris.split(/\s+/).filter(Boolean) }
                  : {}),
              })
              if (created.clientSecret)
                setSecret({ clientId: created.clientId, clientSecret: created.clientSecret })
              clients.reload()
              return `${created.clientId} registered.`
            })
          }}
        >
          <h2>Register a client</h2>
          <label>
            Client id
            <input
              required
              value={form.clientId}
              autocomplete="off"
              onInput={(e) => setForm({ ...form, clientId: e.currentTarget.value })}
            />
          </label>
          <label>
            Type
            <select value={form.type} onChange={(e) => setForm({ ...form, type: e.currentTarget.value })}>
              <option value="confidential">Confidential (has a secret)</option>
              <option value="public">Public (app, PKCE)</option>
            </select>
          </label>
          <label>
            Grant types (space-separated)
            <input
              required
              value={form.grantTypes}
              onInput={(e) => setForm({ ...form, grantTypes: e.currentTarget.value })}
            />
          </label>
          <label>
            Scopes (space-separated)
            <input
              required
              value={form.scope}
              onInput={(e) => setForm({ ...form, scope: e.currentTarget.value })}
            />
          </label>
          <label>
            Redirect URIs (space-separated)
            <input
              value={form.redirectUris}
              onInput={(e) => setForm({ ...form, redirectUris: e.currentTarget.value })}
            />
          </label>
          <button type="submit" disabled={action.busy}>
            Register
          </button>
        </form>
      </section>
    </>
  )
}
