// Two instances, one active relay (issue 16; ADR-0020); see events-relay-process.ts.
import { describe, test } from 'node:test'
import { relayProcessContext } from './events-relay-process.ts'

describe('the outbox relay in server processes: two instances', () => {
  const ctx = relayProcessContext()
  test('[SRS-EVT-363] two instances on one database never both deliver an event; when the active relay is killed the other takes over within seconds', () =>
    ctx.instances())
})
