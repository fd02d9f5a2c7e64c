// The outbox relay survives a SIGKILL between commit and delivery (issue 16; ADR-0020). The set-up
// and scenario live in events-relay-process.ts, shared with events-relay-instances.test.ts.
import { describe, test } from 'node:test'
import { relayProcessContext } from './events-relay-process.ts'

describe('the outbox relay in server processes: crash', () => {
  const ctx = relayProcessContext()
  test('[SRS-EVT-362] an event committed before the server is killed with SIGKILL is delivered after the restart, signed and once', () =>
    ctx.crash())
})
