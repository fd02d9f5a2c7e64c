// Organisation admin: the device registry — register (credentials and pairing code shown once),
// bind to a patient, unbind, retire (disable: its tokens are refused at once).
import { useState } from 'preact/hooks'
import { api, call as rawCall } from '../api.ts'
import { ErrorNote, Outcome, Paged, Progress, useAction, useLoad } from '../ui.tsx'

interface Device {
  id: string
  manufacturer: string
  model: string
  serial: string
  type: string
  status: string
  organisationId: string | null
  patientId: string | null
}
const call = (method: string, path: string, body: unknown) =>
  rawCall('api', path, { method, body: JSON.stringify(body) })
const TYPES = [
  'glucometer',
  'cgm',
  'blood-pressure-monitor',
  'pulse-oximeter',
  'scale',
  'thermometer',
  'other',
]

export function AdminDevices() {
  const devices = useLoad(async () => (await api.get<{ devices: Device[] }>('/devices')).devices, [])
  const [form, setForm] = useState({ manufacturer: '', model: '', serial: '', type: 'glucometer' })
  const [shown, setShown] = useState<{ clientId: string; clientSecret?: string; pairingCode: string } | null>(
    null,
  )
  const [bindTo, setBindTo] = useState<Record<string, string>>({})
  const action = useAction()
  const act = (fn: () => Promise<unknown>, done: string) =>
    void action.run(async () => {
      await fn()
      devices.reload()
      return done
    })
  return (
    <>
      <section class="card" aria-labelledby="devices-admin-title">
        <h1 id="devices-admin-title">Devices</h1>
        <Outcome action={action} />
        {devices.loading && <Progress label="Loading devices…" />}
        {devices.error && <ErrorNote message={devices.error} />}
        {devices.data && devices.data.length === 0 && <p>No devices registered.</p>}
        {devices.data && devices.data.length > 0 && (
          <Paged
            listLabel="Devices"
            label="Devices"
            items={devices.data}
            render={(d) => {
              const bound = d.patientId
              return (
                <li key={d.id} class="row">
                  <span>
                    {d.manufacturer} {d.model}
                  </span>
                  <span>Serial {d.serial}</span>
                  <span>{d.status}</span>
                  <span>
                    {bound ? (
                      <>
                        Bound to patient <span class="mono">{bound}</span>
                      </>
                    ) : (
                      'Not bound'
                    )}
                  </span>
                  {bound ? (
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Unbind ${d.serial}`}
                      disabled={action.busy}
                      onClick={() => act(() => api.del(`/devices/${d.id}/binding`), 'Device unbound.')}
                    >
                      Unbind
                    </button>
                  ) : (
                    <span class="search">
                      <label>
                        Patient id for {d.serial}
                        <input
                          value={bindTo[d.id] ?? ''}
                          autocomplete="off"
                          onInput={(e) => setBindTo({ ...bindTo, [d.id]: e.currentTarget.value })}
                        />
                      </label>
                      <button
                        type="button"
                        aria-label={`Bind ${d.serial}`}
                        disabled={action.busy || !bindTo[d.id]}
                        onClick={() =>
                          act(
                            () =>
                              api.put(`/devices/${d.id}/binding`, {
                                patientId: (bindTo[d.id] ?? '').trim(),
                              }),
                            'Device bound.',
                          )
                        }
                      >
                        Bind
                      </button>
                    </span>
                  )}
                  {d.status === 'active' && (
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Retire ${d.serial}`}
                      disabled={action.busy}
                      onClick={() =>
                        act(
                          () => call('PATCH', `/devices/${d.id}`, { status: 'disabled' }),
                          'Device retired: its tokens are refused now.',
                        )
                      }
                    >
                      Retire
                    </button>
                  )}
                </li>
              )
            }}
          />
        )}
      </section>
      <section class="card">
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault()
            void action.run(async () => {
              const r = await api.post<{ clientId: string; clientSecret?: string; pairingCode: string }>(
                '/devices',
                form,
              )
              setShown(r)
              devices.reload()
              return 'Device registered. Copy its credentials now: they are shown once.'
            })
          }}
        >
          <h2>Register a device</h2>
          {(['manufacturer', 'model', 'serial'] as const).map((k) => (
            <label key={k}>
              {k === 'serial' ? 'Serial number' : k[0]?.toUpperCase() + k.slice(1)}
              <input
                required
                value={form[k]}
                autocomplete="off"
                onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })}
              />
            </label>
          ))}
          <label>
            Type
            <select value={form.type} onChange={(e) => setForm({ ...form, type: e.currentTarget.value })}>
              {TYPES.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={action.busy}>
            Register
          </button>
        </form>
        {shown && (
          <div class="stack" role="status">
            <p>Shown once — store them in the device now:</p>
            <p>
              Client id: <span class="secret">{shown.clientId}</span>
            </p>
            {shown.clientSecret && (
              <p>
                Client secret: <span class="secret">{shown.clientSecret}</span>
              </p>
            )}
            <p>
              Pairing code: <span class="secret">{shown.pairingCode}</span>
            </p>
            <button type="button" class="secondary" onClick={() => setShown(null)}>
              I have stored them
            </button>
          </div>
        )}
      </section>
    </>
  )
}
