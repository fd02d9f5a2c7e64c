// Every row of every table of the database's current schema as text, as someone holding a backup
// would read it: the scan behind "no token, secret or PHI marker is stored in plaintext".
import type { Database } from '../../src/platform/db/index.ts'

export async function databaseText(db: Database): Promise<string> {
  const schema = (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string
  const { rows: tables } = await db.query<{ t: string }>(
    'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1',
    [schema],
  )
  if (tables.length < 20) throw new Error(`expected every table of schema ${schema}, found ${tables.length}`)
  const parts: string[] = []
  for (const { t } of tables)
    for (const row of (await db.query<{ r: string }>(`SELECT x::text AS r FROM "${t}" x`)).rows)
      parts.push(`${t}\t${row.r}`)
  return parts.join('\n')
}

/** The secrets (by label) found in the text, each in its raw, percent-encoded and JSON-escaped spellings. */
export function secretsFoundIn(text: string, secrets: Readonly<Record<string, string>>): string[] {
  const found: string[] = []
  for (const [label, value] of Object.entries(secrets)) {
    if (!value) throw new Error(`secret ${label} is empty: the test did not capture it`)
    const spellings = new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])
    if ([...spellings].some((s) => text.includes(s))) found.push(label)
  }
  return found
}
