// Clinician: the patients the API lets this user see (care team, consents, break-glass), and a
// search by name or identifier (FHIR Patient search; identifiers go through the blind index).
import { useState } from 'preact/hooks'
import { api, fhir, query } from '../api.ts'
import { formatDate, patientName } from '../format.ts'
import { Link } from '../link.tsx'
import { ErrorNote, Paged, Progress, useLoad } from '../ui.tsx'

export interface PatientView {
  id: string
  demographics: {
    name?: { given?: string[]; family?: string }
    birthDate?: string
    gender?: string
    identifiers?: Array<{ system: string; value: string }>
  }
}

interface FhirPatient {
  id: string
  name?: Array<{ given?: string[]; family?: string }>
  birthDate?: string
  gender?: string
  identifier?: Array<{ system: string; value: string }>
}

function fromFhir(p: FhirPatient): PatientView {
  const n = p.name?.[0]
  return {
    id: p.id,
    demographics: {
      ...(n
        ? { name: { ...(n.given ? { given: n.given } : {}), ...(n.family ? { family: n.family } : {}) } }
        : {}),
      ...(p.birthDate ? { birthDate: p.birthDate } : {}),
      ...(p.gender ? { gender: p.gender } : {}),
      ...(p.identifier ? { identifiers: p.identifier } : {}),
    },
  }
}

type Search = { by: 'name' | 'identifier'; text: string; system: string } | null

export function PatientList() {
  const [search, setSearch] = useState<Search>(null)
  const [by, setBy] = useState<'name' | 'identifier'>('name')
  const [text, setText] = useState('')
  const [system, setSystem] = useState('urn:vigil:mrn')
  const list = useLoad(async () => {
    if (!search) return (await api.get<{ patients: PatientView[] }>('/patients')).patients
    const q =
      search.by === 'name'
        ? query({ name: search.text, _count: 100 })
        : query({ identifier: `${search.system}|${search.text}`, _count: 100 })
    const bundle = await fhir.get<{ entry?: Array<{ resource: FhirPatient }> }>(`/Patient${q}`)
    return (bundle.entry ?? []).map((e) => fromFhir(e.resource))
  }, [search])

  return (
    <section class="card" aria-labelledby="patients-title">
      <h1 id="patients-title">Patients</h1>
      <p class="hint">
        Patients in your care teams, who consented to share with you, or whom you opened in an emergency.
      </p>
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault()
          setSearch(text.trim() ? { by, text: text.trim(), system: system.trim() } : null)
        }}
      >
        <fieldset>
          <legend>Search by</legend>
          <label>
            <input
              type="radio"
              name="by"
              value="name"
              checked={by === 'name'}
              onChange={() => setBy('name')}
            />{' '}
            Name
          </label>
          <label>
            <input
              type="radio"
              name="by"
              value="identifier"
              checked={by === 'identifier'}
              onChange={() => setBy('identifier')}
            />{' '}
            Identifier
          </label>
        </fieldset>
        {by === 'identifier' && (
          <label>
            Identifier system
            <input value={system} onInput={(e) => setSystem(e.currentTarget.value)} autocomplete="off" />
          </label>
        )}
        <label>
          {by === 'name' ? 'Name to search for' : 'Identifier value'}
          <input
            type="search"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            autocomplete="off"
          />
        </label>
        <button type="submit">Search</button>
        {search && (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setText('')
              setSearch(null)
            }}
          >
            Show all
          </button>
        )}
      </form>
      {list.loading && <Progress label="Loading patients…" />}
      {list.error && <ErrorNote message={list.error} />}
      {list.data && list.data.length === 0 && (
        <p>
          {search
            ? 'No patient you may see matches this search.'
            : 'No patients yet. Patients appear here when you join their care team or they share their data with you.'}
        </p>
      )}
      {list.data && list.data.length > 0 && (
        <Paged
          listLabel="Patient list"
          label="Patient list"
          items={list.data}
          render={(p) => (
            <li key={p.id} class="row">
              <Link href={`/console/patients/${p.id}`}>{patientName(p.demographics)}</Link>
              <span>Born {formatDate(p.demographics.birthDate)}</span>
              <span>{p.demographics.identifiers?.map((i) => i.value).join(', ') ?? ''}</span>
            </li>
          )}
        />
      )}
    </section>
  )
}
