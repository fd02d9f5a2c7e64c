// The BALP codes an entry maps to: the action letter (the same rule the SQL search uses), the
// outcome, and the agent shapes for callers without a FHIR resource of their own.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { openDatabase } from '../platform/db/index.ts'
import { actionCode, outcomeCode, toAuditEvent } from './audit-event.ts'
import type { AuditEntry } from './entry.ts'
import { ACTION_CODE_SQL } from './search.ts'

const ENTRY: AuditEntry = {
  id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  chain: 1,
  seq: 1,
  occurredAt: new Date('2026-03-01T10:00:00.123Z'),
  actorKind: 'anonymous',
  actorId: null,
  clientId: null,
  ip: null,
  userAgent: null,
  action: 'GET /api/v2/things',
  resourceType: null,
  resourceId: null,
  patientId: null,
  outcome: 'success',
  status: 200,
  decisionRule: null,
  consentId: null,
  breakGlass: false,
  requestId: null,
  traceId: null,
  prevHash: '0'.repeat(64),
  hash: '1'.repeat(64),
}

test('[SRS-AUDIT-008] AuditEvent action: C R U D E from the policy action, the method and the status', () => {
  const cases: Array<[string, number | null, string]> = [
    ['device-data.read', 200, 'R'],
    ['audit.read', 200, 'R'],
    ['GET /api/v2/me', 200, 'R'],
    ['device-data.write', 201, 'C'],
    ['device-data.write', 200, 'U'],
    ['PATCH /api/v2/x/:id', 200, 'U'],
    ['DELETE /api/v2/admin/clients/:clientId', 204, 'D'],
    ['login.failed', null, 'E'],
    ['second_factor.succeeded', null, 'E'],
    ['password.changed', null, 'E'],
    ['clients.manage', 200, 'E'],
    ['POST /interaction/:uid/login', 401, 'E'],
  ]
  for (const [action, status, code] of cases) assert.equal(actionCode({ action, status }), code, action)
})

test('[SRS-AUDIT-008] AuditEvent action: the SQL the search filters with gives the same letter as the presenter', async () => {
  const db = await openDatabase({})
  try {
    const cases: Array<[string, number | null]> = [
      ['device-data.read', 200],
      ['GET /api/v2/me', 200],
      ['HEAD /x', 200],
      ['device-data.write', 201],
      ['device-data.write', 200],
      ['PUT /x/:id', 200],
      ['PATCH /x/:id', 200],
      ['DELETE /x/:id', 204],
      ['login.failed', null],
      ['second_factor.failed', null],
      ['password.reset', null],
      ['clients.manage', 201],
      ['clients.manage', 200],
      ['POST /x', 201],
      ['POST /x', 400],
      ['break-glass.open', 201],
    ]
    for (const [action, status] of cases) {
      const { rows } = await db.query<{ code: string }>(
        `SELECT ${ACTION_CODE_SQL} AS code FROM (SELECT $1::text AS action, $2::int AS status) AS e`,
        [action, status],
      )
      assert.equal(rows[0]?.code, actionCode({ action, status }), `${action} ${String(status)}`)
    }
  } finally {
    await db.close()
  }
})

test('[SRS-AUDIT-008] AuditEvent outcome: 0 success, 4 refused or invalid, 8 server error', () => {
  assert.deepEqual(['success', 'denied', 'failure', 'error'].map(outcomeCode), ['0', '4', '4', '8'])
})

test('[SRS-AUDIT-008] AuditEvent agents: anonymous callers are named, never invented; no network without an address; no entity without a subject', () => {
  const ev = toAuditEvent(ENTRY, { publicUrl: 'https://vigil.example' }) as unknown as {
    agent: Array<Record<string, unknown>>
    entity?: unknown
    purposeOfEvent?: unknown
  }
  assert.deepEqual(ev.agent[0]?.who, { display: 'anonymous' })
  assert.equal(ev.agent[0]?.network, undefined)
  assert.equal(ev.agent.length, 1)
  assert.equal(ev.entity, undefined)
  assert.equal(ev.purposeOfEvent, undefined)
})
