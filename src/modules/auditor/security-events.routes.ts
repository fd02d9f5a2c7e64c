// Security events raised by the anomaly detector, for administrators and auditors:
//   GET  /api/v2/security-events                    newest first, filtered by kind, subject, acknowledged
//   GET  /api/v2/security-events/{id}
//   POST /api/v2/security-events/{id}/acknowledge   administrators only
//   POST /api/v2/security-events/scan               run the detector now (administrators only)
// Reads are guarded by 'security-events.read' (admin or auditor), the two writes by
// 'security-events.manage' (platform administrators; rules.ts).

import { Type, type Static } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { AnomalyMonitor } from './anomaly-monitor.ts'
import { presentSecurityEvent, SECURITY_EVENT_KINDS, SecurityEventView } from './security-event.presenter.ts'
import { acknowledgeEvent, findEvent, listEvents } from './security-events.repository.ts'
import type { Database } from '../../platform/db/index.ts'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import { isInstantInRange } from '../../platform/http/calendar.ts'
import { cursorSeal, type CursorSeal } from '../../platform/http/cursor.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const ListQuery = Type.Object(
  {
    kind: Type.Optional(Type.Union(SECURITY_EVENT_KINDS.map((k) => Type.Literal(k)))),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    acknowledged: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
)
type ListQuery = Static<typeof ListQuery>
const EventPage = Type.Object({
  events: Type.Array(SecurityEventView),
  next: Type.Union([Type.String(), Type.Null()]),
})
const EventId = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
)
const ScanReport = Type.Object({
  raised: Type.Array(SecurityEventView),
  delivered: Type.Integer(),
  deliveryFailures: Type.Integer(),
})

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

// Cursors are sealed with the server's tag: a forged or altered one is a 400 (ADR-0015).
function decodeCursor(cursor: string, seal: CursorSeal): { createdAt: Date; id: string } {
  const content = seal.open(cursor)
  const [iso, id] = content === undefined ? [] : Buffer.from(content, 'base64url').toString('utf8').split('|')
  const createdAt = new Date(iso ?? '')
  if (!id || !UUID.test(id) || !isInstantInRange(createdAt)) {
    throw new AppError('VALIDATION_FAILED', 'the cursor is not one this server issued', {
      errors: [{ pointer: '/querystring/cursor', detail: 'unknown cursor' }],
    })
  }
  return { createdAt, id }
}

export function securityEventRoutes(deps: {
  db: Database
  clock: () => Date
  monitor: AnomalyMonitor
  keyring: Pick<Keyring, 'blindIndex'>
}): RoutePlugin {
  const { db, clock, monitor } = deps
  const seal = cursorSeal(deps.keyring, 'security events')
  return async function securityEvents(app) {
    const config = { policy: 'security-events.read' } as const
    const manage = { policy: 'security-events.manage' } as const
    const tags = ['Security events']

    app.get(
      '/security-events',
      {
        config,
        schema: {
          tags,
          summary: 'Security events raised by anomaly detection, newest first',
          querystring: ListQuery,
          response: { 200: EventPage },
        },
      },
      async (request) => {
        const q = request.query
        const limit = q.limit ?? 50
        const rows = await listEvents(db, {
          kind: q.kind,
          subject: q.subject,
          acknowledged: q.acknowledged,
          limit: limit + 1,
          after: q.cursor ? decodeCursor(q.cursor, seal) : undefined,
        })
        const page = rows.slice(0, limit)
        const last = page[page.length - 1]
        const next =
          rows.length > limit && last
            ? seal.seal(Buffer.from(`${last.createdAt.toISOString()}|${last.id}`).toString('base64url'))
            : null
        return { events: page.map(presentSecurityEvent), next }
      },
    )

    app.get(
      '/security-events/:id',
      {
        config,
        schema: {
          tags,
          summary: 'One security event',
          params: EventId,
          response: { 200: SecurityEventView, 404: problem('No security event with this id') },
        },
      },
      async (request) => {
        const { id } = request.params
        const event = await findEvent(db, id)
        if (!event) throw new AppError('NOT_FOUND', 'No security event with this id')
        return presentSecurityEvent(event)
      },
    )

    app.post(
      '/security-events/:id/acknowledge',
      {
        config: manage,
        schema: {
          tags,
          summary: 'Acknowledge a security event (administrators); the first acknowledgement is kept',
          params: EventId,
          response: { 200: SecurityEventView, 404: problem('No security event with this id') },
        },
      },
      async (request) => {
        const by = (request.principal as { id: string }).id
        const { id } = request.params
        ;(request as unknown as { auditResourceId: string }).auditResourceId = id
        const event = await acknowledgeEvent(db, id, by, clock())
        if (!event) throw new AppError('NOT_FOUND', 'No security event with this id')
        return presentSecurityEvent(event)
      },
    )

    app.post(
      '/security-events/scan',
      {
        config: manage,
        schema: {
          tags,
          summary: 'Run anomaly detection now (administrators); returns the events this run raised',
          response: { 200: ScanReport },
        },
      },
      async () => {
        const report = await monitor.run()
        return {
          raised: report.raised.map((e) =>
            presentSecurityEvent({
              ...e,
              acknowledgedAt: null,
              acknowledgedBy: null,
              deliveredAt: null,
              deliveryAttempts: 0,
            }),
          ),
          delivered: report.delivered,
          deliveryFailures: report.deliveryFailures,
        }
      },
    )
  }
}
