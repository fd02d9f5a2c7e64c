// The NATS JetStream stream (ADR-0020): with NATS_URL set, every event is also published to the
// stream (created when absent) on subject vigil.events.<type>, with the event id as the message
// id so JetStream's duplicate window drops a re-publish after a relay crash. Identifiers only:
// the stream's consumers are not principals the policy decision point can judge, so no FHIR
// resource and no value ever goes there.

import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { eventData } from './dispatch.ts'
import type { OutboxEvent } from './event-types.ts'

export const SUBJECT_PREFIX = 'vigil.events'

export interface NatsPublisher {
  publish(event: OutboxEvent): Promise<void>
  /** Connected now (for /health/ready: degraded, never down, when not). */
  connected(): boolean
  /** Connects (and creates the stream) now rather than at the first event. */
  connect(): Promise<void>
  close(): Promise<void>
}

export function subjectFor(type: string): string {
  return `${SUBJECT_PREFIX}.${type.replace(/[^A-Za-z0-9_.-]/g, '_')}`
}

export function createNatsPublisher(options: { url: string; stream: string; logger: Logger }): NatsPublisher {
  let nc: NatsConnection | undefined
  let js: JetStreamClient | undefined
  let connecting: Promise<JetStreamClient> | undefined
  let closed = false
  let up = false

  async function open(): Promise<JetStreamClient> {
    const conn = await connect({
      servers: options.url,
      name: 'vigil',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      timeout: 3_000,
    })
    const jsm = await jetstreamManager(conn)
    try {
      await jsm.streams.info(options.stream)
    } catch {
      await jsm.streams.add({
        name: options.stream,
        subjects: [`${SUBJECT_PREFIX}.>`],
        duplicate_window: 2 * 60 * 1_000_000_000,
      })
      options.logger.info({ stream: options.stream }, 'NATS JetStream stream created')
    }
    void conn.closed().then(() => {
      up = false
      if (nc === conn) {
        nc = undefined
        js = undefined
      }
    })
    void (async () => {
      for await (const s of conn.status()) {
        if (s.type === 'disconnect') up = false
        else if (s.type === 'reconnect') up = true
      }
    })().catch(() => {})
    up = true
    nc = conn
    js = jetstream(conn)
    return js
  }

  async function client(): Promise<JetStreamClient> {
    if (closed) throw new Error('the NATS publisher is closed')
    if (js) return js
    connecting ??= open().finally(() => {
      connecting = undefined
    })
    return connecting
  }

  return {
    async publish(event) {
      const c = await client()
      const body = JSON.stringify({
        type: event.type,
        timestamp: event.createdAt.toISOString(),
        data: eventData(event),
      })
      await c.publish(subjectFor(event.type), body, { msgID: event.eventId, timeout: 5_000 })
    },
    connected: () => up && nc !== undefined && !nc.isClosed(),
    connect: () => client().then(() => undefined),
    async close() {
      closed = true
      const conn = nc
      nc = undefined
      js = undefined
      up = false
      if (conn) await conn.drain().catch(() => conn.close())
    },
  }
}
