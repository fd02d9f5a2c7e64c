// SQL only: who the actors of a patient's access report are (read-only lookups of user accounts
// and organisations, for display: the email of the person, their roles and organisations).
import type { Queryable } from '../../platform/db/index.ts'

export interface ActorInfo {
  readonly id: string
  readonly email: string
  readonly roles: readonly string[]
  readonly organisations: readonly string[]
}

export async function actorsById(q: Queryable, ids: readonly string[]): Promise<Map<string, ActorInfo>> {
  const uuids = ids.filter((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
  if (uuids.length === 0) return new Map()
  const { rows } = await q.query<{
    id: string
    email: string
    roles: string[] | null
    organisations: string[] | null
  }>(
    `SELECT u.id, u.email,
            array_remove(array_agg(DISTINCT r.role), NULL) AS roles,
            array_remove(array_agg(DISTINCT o.name), NULL) AS organisations
       FROM published_users u
       LEFT JOIN published_user_roles r ON r.user_id = u.id
       LEFT JOIN published_organisations o ON o.id = r.organisation_id
      WHERE u.id = ANY($1::uuid[])
      GROUP BY u.id, u.email`,
    [uuids],
  )
  return new Map(
    rows.map((r) => [
      r.id,
      { id: r.id, email: r.email, roles: r.roles ?? [], organisations: r.organisations ?? [] },
    ]),
  )
}
