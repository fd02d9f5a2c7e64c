// Security events raised by the anomaly detector, for administrators and auditors:
//   GET  /api/v2/security-events                    newest first, filtered by kind, subject, acknowledged
//   GET  /api/v2/security-events/{id}
//   POST /api/v2/security-events/{id}/acknowledge   administrators only
//   POST /api/v2/security-events/scan               run the detector now (administrators only)
// Reads are guarded by 'security-events.read' (admin or auditor), the two writes by
// 'security-events.manage' (platform administrators; rules.ts).

import { Type, type Static } from 'typebox'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { AnomalyMonitor } from './anomaly-monitor.ts'
import { presentSecurityEvent, SECURITY_EVENT_KINDS, SecurityEventView } from './security-event.presenter.ts'
import type { SecurityEventService } from './security-events.service.ts'
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

export function securityEventRoutes(deps: {
  events: SecurityEventService
  monitor: AnomalyMonitor
}): RoutePlugin {
  const { events, monitor } = deps
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
        const page = await events.list({ ...q, limit: q.limit ?? 50 })
        return { events: page.events.map(presentSecurityEvent), next: page.next }
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
        return presentSecurityEvent(await events.find(request.params.id))
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
        return presentSecurityEvent(await events.acknowledge(id, by))
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
