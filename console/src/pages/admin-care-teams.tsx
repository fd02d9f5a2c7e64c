// Organisation admin: a patient's care team — list, add a clinician, remove one.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorNote, Outcome, Progress, useAction, useLoad } from '../ui.tsx'

interface Member {
  userId: string
  displayName: string | null
  organisationId: string
  addedAt: string
}

export function AdminCareTeams() {
  const [patientId, setPatientId] = useState('')
  const [current, setCurrent] = useState<string | null>(null)
  const [clinician, setClinician] = useState('')
  const team = useLoad(
    async () =>
      current ? (await api.get<{ members: Member[] }>(`/patients/${current}/care-team`)).members : null,
    [current],
  )
  const action = useAction()
  return (
    <section class="card" aria-labelledby="care-title">
      <h1 id="care-title">Care teams</h1>
      <form
        class="search"
        onSubmit={(e) => {
          e.preventDefault()
          setCurrent(patientId.trim() || null)
        }}
      >
        <label>
          Patient id
          <input value={patientId} autocomplete="off" onInput={(e) => setPatientId(e.currentTarget.value)} />
        </label>
        <button type="submit">Show care team</button>
      </form>
      <Outcome action={action} />
      {team.loading && current && <Progress label="Loading the care team…" />}
      {team.error && <ErrorNote message={team.error} />}
      {team.data && (
        <>
          {team.data.length === 0 ? (
            <p>Nobody is in this patient's care team.</p>
          ) : (
            <ul class="rows" aria-label="Care team">
              {team.data.map((m) => (
                <li key={m.userId} class="row">
                  <span>{m.displayName ?? m.userId}</span>
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Remove ${m.displayName ?? m.userId}`}
                    disabled={action.busy}
                    onClick={() =>
                      void action.run(async () => {
                        await api.del(`/patients/${current}/care-team/${m.userId}`)
                        team.reload()
                        return 'Removed from the care team.'
                      })
                    }
                  >
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          )}
          <form
            class="search"
            onSubmit={(e) => {
              e.preventDefault()
              void action.run(async () => {
                await api.put(`/patients/${current}/care-team/${clinician.trim()}`)
                team.reload()
                return 'Added to the care team.'
              })
            }}
          >
            <label>
              Clinician's user id
              <input
                required
                value={clinician}
                autocomplete="off"
                onInput={(e) => setClinician(e.currentTarget.value)}
              />
            </label>
            <button type="submit" disabled={action.busy}>
              Add to care team
            </button>
          </form>
        </>
      )}
    </section>
  )
}
