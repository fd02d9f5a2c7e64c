// A trail's guess of every chain's head made known (ADR-0029), by appending one entry to each chain.
// A process learns a head by appending to it; tests that count a warm request's statements need
// every head known, whichever chain the request lands on (ADR-0038).
import { chainFor, type AuditTrail } from '../../src/audit/audit-trail.ts'

export async function learnEveryHead(trail: AuditTrail, prefix = 'learn-head'): Promise<void> {
  for (let chain = 0, n = 0; chain < trail.chains; n++) {
    const requestId = `${prefix}-${n}`
    if (chainFor(requestId, trail.chains) !== chain) continue
    await trail.record({ actorKind: 'system', action: 'test.learn-head', outcome: 'success', requestId })
    chain++
  }
}
