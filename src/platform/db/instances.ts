// The instance registry (service_instances): every server process records its start, its public
// URL and a heartbeat, and its clean stop. Instances on one database must agree on PUBLIC_URL —
// it is the OAuth issuer and the audience base, so a token issued by one is refused by another
// that names itself differently (ADR-0017). A live instance is one seen within LIVE_SECONDS.

import os from 'node:os'
import type { Queryable } from './database.ts'

export const HEARTBEAT_SECONDS = 10
const LIVE_SECONDS = 3 * HEARTBEAT_SECONDS

export interface LiveInstance {
  readonly id: string
  readonly hostname: string
  readonly pid: number
  readonly publicUrl: string | null
}

export interface InstanceRegistration {
  readonly id: string
  /** Other live instances on this database, as found at registration. */
  readonly others: readonly LiveInstance[]
  heartbeat(): Promise<void>
  stop(): Promise<void>
}

/** The message when a live instance on the database names itself with another PUBLIC_URL, or undefined. */
export function publicUrlDisagreement(
  registration: Pick<InstanceRegistration, 'others'> | undefined,
  publicUrl: string,
): string | undefined {
  const other = registration?.others.find((o) => o.publicUrl !== null && o.publicUrl !== publicUrl)
  if (!other) return undefined
  return (
    `another live instance shares this database with PUBLIC_URL ${other.publicUrl} (host ${other.hostname}, pid ${other.pid}) ` +
    `but this one is ${publicUrl}: tokens issued by one are refused by the other. Set the same PUBLIC_URL, the URL clients reach through the load balancer, on every instance`
  )
}

export async function registerInstance(
  db: Queryable,
  facts: { version: string; publicUrl: string },
): Promise<InstanceRegistration | undefined> {
  const { rows: tables } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('service_instances') IS NOT NULL AS present",
  )
  if (tables[0]?.present !== true) return undefined
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO service_instances (hostname, pid, version, public_url, last_seen_at) VALUES ($1, $2, $3, $4, now()) RETURNING id',
    [os.hostname(), process.pid, facts.version, facts.publicUrl],
  )
  const id = rows[0]!.id
  const { rows: others } = await db.query<LiveInstance>(
    `SELECT id, hostname, pid, public_url AS "publicUrl" FROM service_instances
     WHERE id <> $1 AND stopped_at IS NULL AND last_seen_at > now() - make_interval(secs => $2)
     ORDER BY last_seen_at DESC LIMIT 20`,
    [id, LIVE_SECONDS],
  )
  return {
    id,
    others,
    async heartbeat() {
      await db.query('UPDATE service_instances SET last_seen_at = now() WHERE id = $1', [id])
    },
    async stop() {
      await db.query('UPDATE service_instances SET stopped_at = now() WHERE id = $1', [id])
    },
  }
}
