// Patient: my paired devices, unpairing one (after a confirmation step), and pairing a new one with
// the details on its label and its one-time code.
import { useState } from 'preact/hooks'
import { api, fhir, query } from '../api.ts'
import { ConfirmAction, ErrorNote, Outcome, Progress, useAction, useLoad } from '../ui.tsx'
import { useOwnRecord } from './my-record.tsx'

interface FhirDevice {
  id: string
  manufacturer?: string
  modelNumber?: string
  serialNumber?: string
  status?: string
  type?: { text?: string }
}

export function MyDevices() {
  const own = useOwnRecord()
  const patientId = own.data?.id
  const devices = useLoad(
    async () =>
      patientId
        ? (
            (
              await fhir.get<{ entry?: Array<{ resource: FhirDevice }> }>(
                `/Device${query({ patient: patientId })}`,
              )
            ).entry ?? []
          ).map((e) => e.resource)
        : [],
    [patientId],
  )
  const [form, setForm] = useState({ manufacturer: '', model: '', serial: '', pairingCode: '' })
  const action = useAction()
  const unpair = useAction()
  const field = (name: keyof typeof form, label: string, autocomplete = 'off') => (
    <label>
      {label}
      <input
        required
        value={form[name]}
        autocomplete={autocomplete}
        onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })}
      />
    </label>
  )
  return (
    <>
      <section class="card" aria-labelledby="devices-title">
        <h1 id="devices-title">My devices</h1>
        {(own.loading || devices.loading) && <Progress label="Loading your devices…" />}
        {own.error && <ErrorNote message={own.error} />}
        {devices.error && <ErrorNote message={devices.error} />}
        {devices.data && devices.data.length === 0 && <p>No device is paired with your record.</p>}
        {devices.data && devices.data.length > 0 && (
          <ul class="rows" aria-label="Paired devices">
            {devices.data.map((d) => (
              <li key={d.id} class="row">
                <span>
                  {d.manufacturer} {d.modelNumber}
                </span>
                <span>Serial {d.serialNumber ?? '—'}</span>
                <span>{d.type?.text ?? ''}</span>
                <ConfirmAction
                  trigger="Unpair"
                  triggerLabel={`Unpair ${d.serialNumber ?? d.id}`}
                  groupLabel={`Confirm unpairing ${d.serialNumber ?? d.id}`}
                  question="Unpair this device? Its readings stop reaching your record until it is paired again."
                  confirm="Yes, unpair"
                  busy={unpair.busy}
                  onConfirm={() =>
                    unpair.run(async () => {
                      await api.del(`/me/devices/${d.id}`)
                      devices.reload()
                      return 'Device unpaired: it can no longer send readings to your record.'
                    })
                  }
                />
              </li>
            ))}
          </ul>
        )}
        <Outcome action={unpair} />
      </section>
      <section class="card">
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault()
            void action.run(async () => {
              await api.post('/devices/pairing', form)
              setForm({ manufacturer: '', model: '', serial: '', pairingCode: '' })
              devices.reload()
              return 'Device paired: its readings now go to your record.'
            })
          }}
        >
          <h2>Pair a new device</h2>
          <p class="hint">
            Copy the details from the device's label and the one-time pairing code that came with it.
          </p>
          {field('manufacturer', 'Manufacturer')}
          {field('model', 'Model')}
          {field('serial', 'Serial number')}
          {field('pairingCode', 'Pairing code (XXXX-XXXX-XXXX)', 'one-time-code')}
          <button type="submit" disabled={action.busy}>
            Pair device
          </button>
          <Outcome action={action} />
        </form>
      </section>
    </>
  )
}
