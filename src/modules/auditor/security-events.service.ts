// The security events' use cases (ADR-0006 addendum): page through the events the detector raised
// with a sealed cursor, read one, acknowledge one (the first acknowledgement is kept). The routes
// keep the schema, the policy and the presentation.

import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import { cursorSeal, openPosition, sealPosition, type CursorSeal } from '../../platform/http/cursor.ts'
import { AppError } from '../../platform/http/errors.ts'
import {
  acknowledgeEvent,
  findEvent,
  listEvents,
  type SecurityEventRecord,
} from './security-events.repository.ts'

export type { SecurityEventRecord } from './security-events.repository.ts'

/** What a page of events is filtered by; `cursor` is the `next` of the page before. */
export interface SecurityEventQuery {
  readonly kind?: SecurityEventRecord['kind'] | undefined
  readonly subject?: string | undefined
  readonly acknowledged?: boolean | undefined
  readonly limit: number
  readonly cursor?: string | undefined
}

// Cursors are sealed with the server's tag: a forged or altered one is a 400 (ADR-0015).
function decodeCursor(cursor: string, seal: CursorSeal): { createdAt: Date; id: string } {
  const position = openPosition(seal, cursor)
  if (!position) {
    throw new AppError('VALIDATION_FAILED', 'the cursor is not one this server issued', {
      errors: [{ pointer: '/querystring/cursor', detail: 'unknown cursor' }],
    })
  }
  return { createdAt: position.at, id: position.id }
}

export type SecurityEventService = ReturnType<typeof createSecurityEventService>

export function createSecurityEventService(deps: {
  db: Database
  clock: () => Date
  keyring: Pick<Keyring, 'blindIndex'>
}) {
  const { db, clock } = deps
  const seal = cursorSeal(deps.keyring, 'security events')
  return {
    /** A page of events, newest first, and the sealed cursor of the next page (null on the last). */
    async list(q: SecurityEventQuery): Promise<{ events: SecurityEventRecord[]; next: string | null }> {
      const rows = await listEvents(db, {
        kind: q.kind,
        subject: q.subject,
        acknowledged: q.acknowledged,
        limit: q.limit + 1,
        after: q.cursor ? decodeCursor(q.cursor, seal) : undefined,
      })
      const events = rows.slice(0, q.limit)
      const last = events[events.length - 1]
      const next = rows.length > q.limit && last ? sealPosition(seal, last.createdAt, last.id) : null
      return { events, next }
    },

    /** One event, or NOT_FOUND. */
    async find(id: string): Promise<SecurityEventRecord> {
      const event = await findEvent(db, id)
      if (!event) throw new AppError('NOT_FOUND', 'No security event with this id')
      return event
    },

    /** Acknowledges the event (a second acknowledgement keeps the first), or NOT_FOUND. */
    async acknowledge(id: string, by: string): Promise<SecurityEventRecord> {
      const event = await acknowledgeEvent(db, id, by, clock())
      if (!event) throw new AppError('NOT_FOUND', 'No security event with this id')
      return event
    },
  }
}
