// One entry appended on every chain of a trail, one after the other (each on the chain its request
// id maps to, as nothing else of the trail is in flight). The trail then knows every chain's head
// (ADR-0029), which tests that count a warm request's statements need whichever chain the request
// lands on (ADR-0038); another trail's guesses of those heads are then all stale.
import { chainFor, type AuditTrail } from '../../src/audit/audit-trail.ts'

export async function appendOnEveryChain(trail: AuditTrail, prefix = 'every-chain'): Promise<void> {
  for (let chain = 0, n = 0; chain < trail.chains; n++) {
    const requestId = `${prefix}-${n}`
    if (chainFor(requestId, trail.chains) !== chain) continue
    const entry = await trail.record({
      actorKind: 'system',
      action: 'test.every-chain',
      outcome: 'success',
      requestId,
    })
    if (entry.chain !== chain) throw new Error(`appended on chain ${entry.chain}, not ${chain}`)
    chain++
  }
}
