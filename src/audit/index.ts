// The audit trail's public face (see ADR-0006).
export {
  createAuditTrail,
  chainFor,
  DEFAULT_CHAINS,
  MAX_CHAINS,
  type AuditTrail,
  type AuditTrailDeps,
} from './audit-trail.ts'
export { loadCheckpointSigner, generateCheckpointKey, type CheckpointSigner } from './checkpoint-key.ts'
export { readLastCheckpointLine, type Checkpoint, type ExportedCheckpoint } from './checkpoint.ts'
export {
  GENESIS_HASH,
  entryHash,
  type AuditEntry,
  type AuditEntryInput,
  type ActorKind,
  type Outcome,
} from './entry.ts'
export {
  registerHttpAudit,
  requestEntry,
  outcomeFor,
  isOperationalProbe,
  type AuditHttpOptions,
} from './http-audit.ts'
export { countEntriesBefore as countAuditEntriesBefore, appendEntriesCtes } from './repository.ts'
export { formatVerifyResult } from './format-verify-result.ts'
export { securityEventEntry, type SecurityEvent } from './security-event.ts'
export type { VerifyResult, FirstBad, VerifyFailureReason } from './verify-trail.ts'
