// Data lifecycle (issue 7): erasure by crypto-shredding, the re-encryption job, retention.
export { erasePatient, type ErasureActor, type ErasureResult } from './erasure.ts'
export {
  reencrypt,
  SEALED_COLUMNS,
  type ReencryptOptions,
  type ReencryptReport,
  type SealedColumn,
} from './reencrypt.ts'
export { runRetention, type RetentionReport } from './retention.ts'
export { createRetentionJob, RETENTION_JOB, type RetentionJob } from './retention-job.ts'
export { erasureRoutesV2 } from './routes.v2.ts'
