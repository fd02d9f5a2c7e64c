// The SubscriptionTopics Vigil serves (Subscriptions R5 Backport IG for R4; ADR-0021): each a
// canonical URL naming the event type that triggers it and the resource type it is about.
// A subscription filters on one patient (`<Resource>?patient=Patient/<id>`).

import type { EventType } from './event-types.ts'

export interface FhirTopic {
  readonly canonical: string
  readonly eventType: EventType
  readonly resourceType: 'Observation' | 'DiagnosticReport'
  readonly title: string
}

export const TOPIC_BASE = 'https://vigil.dev/fhir/SubscriptionTopic'

export const FHIR_TOPICS: readonly FhirTopic[] = [
  {
    canonical: `${TOPIC_BASE}/new-observation`,
    eventType: 'device-data.accepted',
    resourceType: 'Observation',
    title: 'New Observations (device readings) of a patient',
  },
  {
    canonical: `${TOPIC_BASE}/new-diagnostic-report`,
    eventType: 'diagnostic-report.created',
    resourceType: 'DiagnosticReport',
    title: 'New DiagnosticReports of a patient',
  },
]

export const topicFor = (canonical: string): FhirTopic | undefined =>
  FHIR_TOPICS.find((t) => t.canonical === canonical)
export const topicOfEvent = (eventType: string): FhirTopic | undefined =>
  FHIR_TOPICS.find((t) => t.eventType === eventType)

/** Backport IG extension and profile URLs. */
export const BACKPORT = {
  filterCriteria:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria',
  payloadContent:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content',
  heartbeatPeriod:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period',
  statusProfile:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4',
  notificationProfile:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4',
  topicCanonical:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical',
  subscriptionProfile:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription',
} as const
