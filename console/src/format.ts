// Times are stored and sent in UTC (RFC 3339); the console shows them in the viewer's time zone.
export const viewerTimeZone = Intl.DateTimeFormat().resolvedOptions().timeZone

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })

export function formatTime(iso: string | number | Date | null | undefined): string {
  if (iso === null || iso === undefined) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? '—' : dateTime.format(d)
}
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? '—' : dateOnly.format(d)
}
/** The UTC offset written in a device time (2026-01-02T08:00:00+02:00 → UTC+02:00). */
export function offsetOf(deviceTime: string): string {
  const m = /(Z|[+-]\d\d:\d\d)$/.exec(deviceTime)
  return !m || m[1] === 'Z' ? 'UTC' : `UTC${m[1]}`
}
export function patientName(d: { name?: { given?: string[]; family?: string } } | undefined): string {
  const n = d?.name
  const s = [...(n?.given ?? []), n?.family ?? ''].join(' ').trim()
  return s || 'Unnamed patient'
}
