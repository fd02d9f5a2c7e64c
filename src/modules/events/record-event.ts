// Writing an event: one outbox row, inside the transaction of the change it reports, so the event
// exists exactly when the change committed (the transactional outbox; ADR-0020). Identifiers only.

import type { Queryable } from '../../platform/db/index.ts'
import type { EventType } from './event-types.ts'
import { insertOutboxEvent } from './repository.ts'

export interface EventInput {
  readonly type: EventType
  /** The patient the event concerns: the ordering key, and what the policy decision point checks. */
  readonly patientId: string
  /** The resource the event is about (a report, a device, a consent). */
  readonly resourceId: string
  /** More identifiers; never PHI. */
  readonly data?: Readonly<Record<string, string | number | boolean | null>>
}

export async function recordEvent(tx: Queryable, event: EventInput, now: Date): Promise<void> {
  const payload = { patientId: event.patientId, resourceId: event.resourceId, ...(event.data ?? {}) }
  await insertOutboxEvent(tx, { topic: event.type, payload, patientId: event.patientId }, now)
}
