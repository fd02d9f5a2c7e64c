// The events Vigil publishes (ADR-0020): each with the policy action a subscriber must be
// permitted, on the event's patient, at delivery time, and the FHIR resource type its ids name.
// Payloads carry identifiers only; a FHIR resource joins them only for a permitted subscriber
// whose subscription asks for full resources.

export const EVENT_TYPES = {
  'device-data.accepted': {
    action: 'device-data.read',
    resourceType: 'Observation',
    description: 'Readings of a patient were accepted (one event per accepted batch)',
  },
  'diagnostic-report.created': {
    action: 'reports.read',
    resourceType: 'DiagnosticReport',
    description: 'A DiagnosticReport was created',
  },
  'device.bound': {
    action: 'devices.read',
    resourceType: 'Device',
    description: 'A device was bound to a patient',
  },
  'device.unbound': {
    action: 'devices.read',
    resourceType: 'Device',
    description: 'A device was unbound from its patient',
  },
  'consent.granted': {
    action: 'patients.read',
    resourceType: 'Consent',
    description: 'A patient granted a consent',
  },
  'consent.revoked': {
    action: 'patients.read',
    resourceType: 'Consent',
    description: 'A patient revoked a consent',
  },
} as const

export type EventType = keyof typeof EVENT_TYPES
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[]

export function isEventType(value: string): value is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_TYPES, value)
}

/** What an outbox row says, whatever module wrote it. */
export interface OutboxEvent {
  readonly outboxId: number
  readonly eventId: string
  readonly type: string
  readonly patientId: string | null
  readonly payload: Record<string, unknown>
  readonly createdAt: Date
}

/** The ids of the event's resources, from its payload (device-data.accepted lists its readings). */
export function resourceIdsOf(event: Pick<OutboxEvent, 'type' | 'payload'>): string[] {
  const p = event.payload
  if (event.type === 'device-data.accepted')
    return Array.isArray(p.readingIds) ? p.readingIds.filter((v): v is string => typeof v === 'string') : []
  const id = p.resourceId
  return typeof id === 'string' ? [id] : []
}
