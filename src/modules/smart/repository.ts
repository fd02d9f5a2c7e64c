// SQL of the SMART launch module: which clients may be launched (registered with the `launch` scope).

import type { Queryable } from '../../platform/db/index.ts'

export function createSmartRepository(db: Queryable) {
  return {
    /** The client's registered scope, when the client exists. */
    async clientScope(clientId: string): Promise<string | undefined> {
      const { rows } = await db.query<{ scope: string | null }>(
        'SELECT scope FROM published_oauth_clients WHERE client_id = $1',
        [clientId],
      )
      const row = rows[0]
      return row && (row.scope ?? '')
    },
  }
}

export type SmartRepository = ReturnType<typeof createSmartRepository>
