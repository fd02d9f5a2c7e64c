// The organisations an administrator manages (GET /api/v2/organisations), as a labelled select.
import { useEffect } from 'preact/hooks'
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
  useEffect(() => {
    const first = orgs.data?.[0]
    if (value === null && first) onChange(first.id)
  }, [orgs.data, value, onChange])
  if (orgs.loading) return <Progress label="Loading organisations…" />
  if (orgs.error) return <ErrorNote message={orgs.error} />
  if (!orgs.data?.length) return <p>You manage no organisation.</p>
  return (
    <label>
      Organisation
      <select value={value ?? ''} onChange={(e) => onChange(e.currentTarget.value)}>
        {orgs.data.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </label>
  )
}
