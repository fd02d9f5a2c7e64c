import type { Queryable } from './database.ts'

/**
 * Serialises a critical section across instances for the rest of the caller's transaction: a
 * transaction-scoped advisory lock, released on COMMIT or ROLLBACK, even if the process dies.
 */
export async function lockForTransaction(tx: Pick<Queryable, 'query'>, key: number): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [key])
}
