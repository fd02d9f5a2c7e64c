// SQL for what the clients module adds to an OAuth client beyond the OAuth server's client store:
// the organisation a client belongs to (read by the principal directory).

import type { Queryable } from '../../platform/db/index.ts'

export async function setClientOrganisation(
  q: Queryable,
  clientId: string,
  organisationId: string,
): Promise<void> {
  await q.query('UPDATE oauth_clients SET organisation_id = $2 WHERE client_id = $1', [
    clientId,
    organisationId,
  ])
}
