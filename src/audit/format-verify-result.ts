// The one-line verdict `vigil audit verify` prints.
import type { VerifyResult } from './verify-trail.ts'

export function formatVerifyResult(r: VerifyResult): string {
  if (r.ok) {
    const cp = r.checkpoint
      ? `checkpoint ${r.checkpoint.id} of ${r.checkpoint.createdAt.toISOString()} verified`
      : 'no checkpoint yet'
    return `audit trail intact: ${r.entries} entries in ${r.chains} chains, ${cp}`
  }
  const b = r.firstBad
  const where =
    b.chain === null ? 'the checkpoint' : `chain ${b.chain} seq ${b.seq}${b.id ? ` (id ${b.id})` : ''}`
  return `audit trail NOT intact: first bad entry ${where}: ${b.reason}${b.checkpointId ? ` (checkpoint ${b.checkpointId})` : ''}`
}
