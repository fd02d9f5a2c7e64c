// An audit entry as a FHIR R4 AuditEvent, following IHE Basic Audit Log Patterns (BALP):
// RESTful interactions typed `rest` with the interaction as subtype, authentications typed DICOM
// 110114; the requesting agent with its network address; this Vigil instance as the observer;
// the patient as an entity in the role "patient"; the request id as a BALP XrequestId entity;
// break-glass access marked with the purpose of use BTG. Identifiers only, as in the trail.

import type { AuditEntry } from './entry.ts'

const DCM = 'http://dicom.nema.org/resources/ontology/DCM'
const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type'
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction'
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type'
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role'
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type'
const PARTICIPATION_TYPE = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType'
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason'
const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType'
const CLIENT_ID_SYSTEM = 'urn:ietf:params:oauth:client-id'
export const USER_ID_SYSTEM = 'urn:vigil:user'

export type AuditEventAction = 'C' | 'R' | 'U' | 'D' | 'E'

/** The policy's resource types as FHIR resource types (the FHIR API serves these four). */
const FHIR_TYPE: Record<string, string> = {
  patients: 'Patient',
  'device-data': 'Observation',
  devices: 'Device',
  reports: 'DiagnosticReport',
  audit: 'AuditEvent',
}

export interface AuditEventContext {
  /** This instance's public URL: the audit source (observer). */
  readonly publicUrl: string
  /** Users who are patients → their patient record id, so they appear as Patient agents. */
  readonly patientOfUser?: ReadonlyMap<string, string>
}

type Coding = { system: string; code: string; display?: string }

const isAuthentication = (action: string) =>
  action.startsWith('login.') || action.startsWith('second_factor.')

/** C R U D E — the same rule as search.ts ACTION_CODE_SQL, so a search by action finds what is shown. */
export function actionCode(e: Pick<AuditEntry, 'action' | 'status'>): AuditEventAction {
  const a = e.action
  if (isAuthentication(a) || a.startsWith('password.')) return 'E'
  if (a.startsWith('DELETE ')) return 'D'
  if (a.startsWith('GET ') || a.startsWith('HEAD ') || a.endsWith('.read')) return 'R'
  if (e.status === 201) return 'C'
  if (a.startsWith('PUT ') || a.startsWith('PATCH ') || a.endsWith('.write')) return 'U'
  return 'E'
}

/** BALP: 0 success, 4 minor failure (refused or invalid request), 8 serious failure (server error). */
export function outcomeCode(outcome: string): '0' | '4' | '8' | '12' {
  if (outcome === 'success') return '0'
  if (outcome === 'denied' || outcome === 'failure') return '4'
  if (outcome === 'error') return '8'
  return '12'
}

export const OUTCOMES_OF_CODE: Record<string, readonly ('success' | 'denied' | 'failure' | 'error')[]> = {
  '0': ['success'],
  '4': ['denied', 'failure'],
  '8': ['error'],
  '12': [],
}

function typeAndSubtype(e: AuditEntry, action: AuditEventAction): { type: Coding; subtype: Coding[] } {
  if (isAuthentication(e.action)) {
    return {
      type: { system: DCM, code: '110114', display: 'User Authentication' },
      subtype: [{ system: DCM, code: '110122', display: 'Login' }],
    }
  }
  if (e.action.startsWith('password.')) {
    return {
      type: { system: DCM, code: '110114', display: 'User Authentication' },
      subtype: [{ system: DCM, code: '110137', display: 'User Security Attributes Changed' }],
    }
  }
  const rest: Coding = { system: AUDIT_EVENT_TYPE, code: 'rest', display: 'Restful Operation' }
  const interaction: Record<AuditEventAction, Coding> = {
    C: { system: RESTFUL_INTERACTION, code: 'create', display: 'create' },
    R: e.resourceId
      ? { system: RESTFUL_INTERACTION, code: 'read', display: 'read' }
      : { system: RESTFUL_INTERACTION, code: 'search-type', display: 'search type' },
    U: { system: RESTFUL_INTERACTION, code: 'update', display: 'update' },
    D: { system: RESTFUL_INTERACTION, code: 'delete', display: 'delete' },
    E: { system: RESTFUL_INTERACTION, code: 'operation', display: 'operation' },
  }
  return { type: rest, subtype: [interaction[action]] }
}

const BTG = { coding: [{ system: ACT_REASON, code: 'BTG', display: 'break the glass' }] }

function requestor(e: AuditEntry, ctx: AuditEventContext): Record<string, unknown> {
  const who = ((): Record<string, unknown> => {
    if (e.actorKind === 'user' && e.actorId) {
      const patientId = ctx.patientOfUser?.get(e.actorId)
      if (patientId)
        return { reference: `Patient/${patientId}`, identifier: { system: USER_ID_SYSTEM, value: e.actorId } }
      return { type: 'Practitioner', identifier: { system: USER_ID_SYSTEM, value: e.actorId } }
    }
    if (e.actorKind === 'device' && e.actorId) return { reference: `Device/${e.actorId}` }
    if (e.actorKind === 'client' && (e.actorId ?? e.clientId))
      return { identifier: { system: CLIENT_ID_SYSTEM, value: e.actorId ?? e.clientId } }
    return { display: e.actorKind === 'system' ? 'Vigil (system)' : 'anonymous' }
  })()
  return {
    type: { coding: [{ system: PARTICIPATION_TYPE, code: 'IRCP', display: 'information recipient' }] },
    who,
    requestor: true,
    ...(e.ip ? { network: { address: e.ip, type: '2' } } : {}),
    ...(e.breakGlass ? { purposeOfUse: [BTG] } : {}),
  }
}

function entities(e: AuditEntry): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  if (e.patientId) {
    out.push({
      what: { reference: `Patient/${e.patientId}` },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    })
  }
  if (e.resourceType) {
    const fhirType = FHIR_TYPE[e.resourceType]
    const details = [
      ...(e.decisionRule ? [{ type: 'decision-rule', valueString: e.decisionRule }] : []),
      ...(e.consentId ? [{ type: 'consent', valueString: e.consentId }] : []),
      ...(e.status !== null ? [{ type: 'http-status', valueString: String(e.status) }] : []),
    ]
    out.push({
      what:
        fhirType && e.resourceId
          ? { reference: `${fhirType}/${e.resourceId}` }
          : e.resourceId
            ? { identifier: { system: `urn:vigil:${e.resourceType}`, value: e.resourceId } }
            : { display: e.resourceType },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
      name: e.action,
      ...(details.length ? { detail: details } : {}),
    })
  }
  if (e.requestId) {
    out.push({
      what: { identifier: { value: e.requestId } },
      type: { system: BALP_ENTITY_TYPE, code: 'XrequestId', display: 'X-Request-Id' },
      ...(e.traceId ? { detail: [{ type: 'trace-id', valueString: e.traceId }] } : {}),
    })
  }
  return out
}

export function toAuditEvent(
  e: AuditEntry,
  ctx: AuditEventContext,
): { resourceType: 'AuditEvent' } & Record<string, unknown> {
  const action = actionCode(e)
  const { type, subtype } = typeAndSubtype(e, action)
  const agents: Record<string, unknown>[] = [requestor(e, ctx)]
  // The OAuth client the user acted through (BALP: the client application as a second agent).
  if (e.clientId && e.actorKind !== 'client') {
    agents.push({
      type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: e.clientId } },
      requestor: false,
    })
  }
  const entity = entities(e)
  return {
    resourceType: 'AuditEvent',
    id: e.id,
    meta: { lastUpdated: e.occurredAt.toISOString() },
    type,
    subtype,
    action,
    period: { start: e.occurredAt.toISOString(), end: e.occurredAt.toISOString() },
    recorded: e.occurredAt.toISOString(),
    outcome: outcomeCode(e.outcome),
    outcomeDesc: e.status !== null ? `${e.outcome} (HTTP ${e.status})` : e.outcome,
    ...(e.breakGlass ? { purposeOfEvent: [BTG] } : {}),
    agent: agents,
    source: {
      site: ctx.publicUrl,
      observer: { display: 'Vigil', identifier: { system: 'urn:ietf:rfc:3986', value: ctx.publicUrl } },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
  }
}
