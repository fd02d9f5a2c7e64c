// The auditor API (issue 7: who saw this patient's data, and is the record intact?):
//   GET /api/v2/audit/entries        search by patient, actor, client, action, outcome and time
//   GET /api/v2/audit/entries/{id}   one entry
//   GET /api/v2/audit/verification   the verifier's verdict on the whole trail, now
// Guarded by 'audit.read' (auditors only, rules.ts). Reading the trail is itself audited: each of
// these requests gets its entry with the action 'audit.read' (audit/http-audit.ts).

import { Type, type Static } from 'typebox'
import { readLastCheckpointLine, type Outcome } from '../../audit/index.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { ModuleContext } from '../context.ts'
import { AuditEntryView, presentEntry } from './entry.presenter.ts'
import { AUDIT_READ, MAX_PAGE, createAuditorService } from './service.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const OUTCOMES = ['success', 'denied', 'failure', 'error'] as const
const Identifier = (description: string) => Type.String({ minLength: 1, maxLength: 200, description })

const EntryQuery = Type.Object(
  {
    patient: Type.Optional(Identifier('Patient id: entries about this patient')),
    actor: Type.Optional(Identifier('User, device or client id that acted')),
    client: Type.Optional(Identifier('OAuth client id the request came through')),
    action: Type.Optional(
      Identifier(
        'Exact action: a policy action (device-data.read), a security event (login.failed) or METHOD /route',
      ),
    ),
    outcome: Type.Optional(Type.Union(OUTCOMES.map((o) => Type.Literal(o)))),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339; entries at or after' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339; entries before' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50 })),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'The `next` of the previous page' }),
    ),
  },
  { additionalProperties: false },
)
type EntryQuery = Static<typeof EntryQuery>

const EntryPage = Type.Object({
  entries: Type.Array(AuditEntryView),
  next: Type.Union([Type.String(), Type.Null()], {
    description: 'Cursor of the next page (newest first); null on the last page',
  }),
})

const EntryId = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
)

const Verification = Type.Object({
  intact: Type.Boolean(),
  verifiedAt: Type.String({ format: 'date-time' }),
  entries: Type.Union([Type.Integer(), Type.Null()], { description: 'Entries checked (when intact)' }),
  chains: Type.Union([Type.Integer(), Type.Null()]),
  lastCheckpoint: Type.Union([
    Type.Object({ id: Type.String(), createdAt: Type.String({ format: 'date-time' }) }),
    Type.Null(),
  ]),
  firstBad: Type.Union([
    Type.Object({
      chain: Type.Union([Type.Integer(), Type.Null()]),
      seq: Type.Union([Type.Integer(), Type.Null()]),
      id: Type.Union([Type.String(), Type.Null()]),
      reason: Type.String(),
      checkpointId: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
})

export function auditSearchRoutes(ctx: ModuleContext): RoutePlugin {
  return async function auditSearch(app) {
    const config = AUDIT_READ
    const tags = ['Audit']
    const auditor = createAuditorService(ctx)

    app.get(
      '/audit/entries',
      {
        config,
        schema: {
          tags,
          summary: 'Search the audit trail, newest first (keyset pagination)',
          querystring: EntryQuery,
          response: { 200: EntryPage },
        },
      },
      async (request) => {
        const q = request.query
        const from = q.from ? new Date(q.from) : undefined
        const to = q.to ? new Date(q.to) : undefined
        const page = await auditor.search(
          {
            patient: q.patient,
            actor: q.actor,
            client: q.client,
            action: q.action,
            outcomes: q.outcome ? [q.outcome as Outcome] : undefined,
            after: from ? [{ at: from, inclusive: true }] : undefined,
            before: to ? [{ at: to, inclusive: false }] : undefined,
            limit: q.limit ?? 50,
            cursor: q.cursor,
          },
          '/querystring/cursor',
        )
        return { entries: page.entries.map(presentEntry), next: page.next ?? null }
      },
    )

    app.get(
      '/audit/entries/:id',
      {
        config,
        schema: {
          tags,
          summary: 'One audit entry',
          params: EntryId,
          response: { 200: AuditEntryView, 404: problem('No entry with this id') },
        },
      },
      async (request) => {
        const { id } = request.params
        const entry = await auditor.read(id, 'No audit entry with this id')
        ;(request as unknown as { auditResourceId: string }).auditResourceId = entry.id
        return presentEntry(entry)
      },
    )

    app.get(
      '/audit/verification',
      {
        config,
        schema: {
          tags,
          summary:
            'Verify the whole trail now: every chain recomputed and checked against the latest signed checkpoint (database and exported file)',
          response: { 200: Verification },
        },
      },
      async () => {
        const exported = await readLastCheckpointLine(ctx.config.audit.checkpointFile)
        const result = await ctx.audit.verify({ external: exported ? [exported] : [] })
        const verifiedAt = ctx.clock().toISOString()
        if (result.ok) {
          return {
            intact: true,
            verifiedAt,
            entries: result.entries,
            chains: result.chains,
            lastCheckpoint: result.checkpoint
              ? { id: result.checkpoint.id, createdAt: result.checkpoint.createdAt.toISOString() }
              : null,
            firstBad: null,
          }
        }
        const b = result.firstBad
        return {
          intact: false,
          verifiedAt,
          entries: null,
          chains: null,
          lastCheckpoint: null,
          firstBad: {
            chain: b.chain,
            seq: b.seq,
            id: b.id,
            reason: b.reason,
            checkpointId: b.checkpointId ?? null,
          },
        }
      },
    )
  }
}
