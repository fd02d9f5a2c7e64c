// Patient: their own record and readings, with the same charts a clinician sees.
import { api } from '../api.ts'
import { ErrorNote, Progress, useLoad } from '../ui.tsx'
import type { PatientView } from './patient-list.tsx'
import { PatientHeader } from './patient-page.tsx'
import { Readings } from './readings.tsx'
import { TargetRanges } from './target-ranges.tsx'

/** The signed-in patient's own record (the only one GET /patients returns to a patient). */
export function useOwnRecord() {
  return useLoad(
    async () => (await api.get<{ patients: PatientView[] }>('/patients')).patients[0] ?? null,
    [],
  )
}

export function MyRecord() {
  const own = useOwnRecord()
  if (own.loading) return <Progress label="Opening your record…" />
  if (own.error) return <ErrorNote message={own.error} />
  if (!own.data) return <p>Your account has no patient record yet. Ask your clinic to create it.</p>
  return (
    <>
      <PatientHeader patient={own.data} />
      <Readings patientId={own.data.id} />
      <TargetRanges patientId={own.data.id} canEdit={false} onChange={() => undefined} />
    </>
  )
}
