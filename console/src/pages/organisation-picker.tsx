// The organisations an administrator manages (GET /api/v2/organisations), as a labelled select.
import { useEffect, useRef } from 'preact/hooks'
import { api } from '../api.ts'
import { ErrorNote, Progress, useLoad } from '../ui.tsx'

export interface Organisation {
  id: string
  name: string
}

export function OrganisationPicker({
  value,
  onChange,
}: {
  value: string | null
  onChange: (id: string) => void
}) {
  const orgs = useLoad(
    async () => (await api.get<{ organisations: Organisation[] }>('/organisations')).organisations,
    [],
  )
  // The first organisation is chosen for the user only while they have chosen none. The effect runs
  // after paint, with the `value` of the render before it: a choice made in between (the select is
  // already on screen) must not be overruled by that stale `null`, hence the ref, not `value`.
  const chosen = useRef(false)
  useEffect(() => {
    const first = orgs.data?.[0]
    if (value === null && first && !chosen.current) onChange(first.id)
  }, [orgs.data, value, onChange])
  if (orgs.loading) return <Progress label="Loading organisations…" />
  if (orgs.error) return <ErrorNote message={orgs.error} />
  if (!orgs.data?.length) return <p>You manage no organisation.</p>
  return (
    <label>
      Organisation
      <select
        value={value ?? ''}
        onChange={(e) => {
          chosen.current = true
          onChange(e.currentTarget.value)
        }}
      >
        {orgs.data.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </label>
  )
}
