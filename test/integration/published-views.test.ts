// The views each module publishes for other modules' reads (ADR-0034), on the migrated database
// (PGlite, or PostgreSQL when DATABASE_URL is set): no secret or unneeded PHI column is in any of
// them, and PostgreSQL folds them into the query, so a read through a view has the table's plan.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Database } from '../../src/platform/db/index.ts'
import { openIsolatedDatabase } from '../support/app.ts'

const MIGRATIONS = join(import.meta.dirname, '..', '..', 'migrations')

/** Columns that no other module has a use for, or must never see: they stay behind the owner. */
const PRIVATE_COLUMNS = [
  'password_hash', // users
  'email_normalized',
  'demographics_sealed', // patients
  'identifier_index',
  'wrapped_key', // patient_data_keys
  'pairing_code_hash', // devices
  'content_index', // readings
  'client_reading_id',
  'secret_sealed', // oauth_clients
  'metadata',
  'reason', // break_glass_sessions
  'granted_by', // consents
  'revoked_by',
]

let db: Database
let drop: () => Promise<void>
before(async () => {
  ;({ db, drop } = await openIsolatedDatabase())
})
after(() => drop())

async function viewColumns(): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ view: string; column: string }>(
    `SELECT c.table_name AS view, c.column_name AS column
       FROM information_schema.columns c
       JOIN information_schema.views v ON v.table_schema = c.table_schema AND v.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND c.table_name LIKE 'published\\_%'
      ORDER BY c.table_name, c.ordinal_position`,
  )
  const views = new Map<string, string[]>()
  for (const r of rows) views.set(r.view, [...(views.get(r.view) ?? []), r.column])
  return views
}

test('[SRS-ARCH-626] the migrated database has every published view the migrations create, and none shows a private column (password hash, sealed demographics, wrapped key, client secret, pairing-code hash, deduplication HMAC)', async () => {
  const created = readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith('.sql'))
    .flatMap((f) => [
      ...readFileSync(join(MIGRATIONS, f), 'utf8').matchAll(/CREATE\s+VIEW\s+(published_[a-z_]+)/g),
    ])
    .map((m) => m[1] as string)
    .sort()
  const views = await viewColumns()
  assert.deepEqual([...views.keys()].sort(), created)
  assert.ok(created.length >= 12, created.join(', '))
  for (const [view, columns] of views) {
    const table = view.slice('published_'.length)
    const shown = columns.filter((c) => PRIVATE_COLUMNS.includes(c))
    assert.deepEqual(shown, [], `${view} shows private columns of ${table}`)
    // The columns it does show are the table's own (a computed column is named, not hidden).
    const { rows } = await db.query<{ column: string }>(
      `SELECT column_name AS column FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
      [table],
    )
    assert.ok(rows.length > columns.length - 2, `${view} selects from ${table}`)
  }
  // Selecting a private column through the view fails: it is not there to be read.
  await assert.rejects(db.query('SELECT password_hash FROM published_users'), /password_hash/)
  await assert.rejects(db.query('SELECT secret_sealed FROM published_oauth_clients'), /secret_sealed/)
  await assert.rejects(db.query('SELECT wrapped_key FROM published_patient_data_keys'), /wrapped_key/)
})

test('[SRS-ARCH-626] a read through a published view has the same plan as the same read of the table: the view costs nothing on the hot paths', async () => {
  const id = '00000000-0000-4000-8000-000000000001'
  const pairs: [string, string][] = [
    // The bound device's principal (identity), on every request of a device whose principal is not cached.
    [
      `SELECT d.id, d.status, b.patient_id, p.organisation_id FROM published_devices d
         LEFT JOIN published_device_bindings b ON b.device_id = d.id AND b.unbound_at IS NULL
         LEFT JOIN published_patients p ON p.id = b.patient_id WHERE d.client_id = $1`,
      `SELECT d.id, d.status, b.patient_id, p.organisation_id FROM devices d
         LEFT JOIN device_bindings b ON b.device_id = d.id AND b.unbound_at IS NULL
         LEFT JOIN patients p ON p.id = b.patient_id WHERE d.client_id = $1`,
    ],
    // A FHIR Observation page (fhir), by patient and code.
    [
      `SELECT r.id, r.value_sealed FROM published_readings r WHERE r.patient_id = ANY($1::uuid[]) AND r.code = 'x' ORDER BY r.effective_at, r.id LIMIT 51`,
      `SELECT r.id, r.value_sealed FROM readings r WHERE r.patient_id = ANY($1::uuid[]) AND r.code = 'x' ORDER BY r.effective_at, r.id LIMIT 51`,
    ],
  ]
  for (const [throughView, direct] of pairs) {
    const plan = async (sql: string, param: unknown) =>
      (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, [param])).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n')
        // The same nodes, indexes and conditions; only the aliases differ (d or devices).
        .replace(/ on ([a-z_]+)(?: [a-z_]+)?$/gm, ' on $1')
        .replace(/\b[a-z_]+\.([a-z_]+)/g, '$1')
    const param = throughView.includes('ANY($1') ? [id] : 'client'
    assert.equal(await plan(throughView, param), await plan(direct, param))
  }
})

test('[SRS-ARCH-628] every published view refuses INSERT, UPDATE and DELETE, and the table behind it is unchanged', async () => {
  const views = [...(await viewColumns()).keys()]
  // Each view carries the refusing trigger for all three writes (a view added later without it fails).
  const { rows: triggers } = await db.query<{ view: string; event: string; timing: string; action: string }>(
    `SELECT event_object_table AS view, event_manipulation AS event, action_timing AS timing,
            action_statement AS action
       FROM information_schema.triggers
      WHERE event_object_schema = current_schema() AND event_object_table LIKE 'published\\_%'`,
  )
  for (const view of views) {
    const events = triggers
      .filter(
        (t) => t.view === view && t.timing === 'INSTEAD OF' && /published_view_read_only\(\)/.test(t.action),
      )
      .map((t) => t.event)
      .sort()
    assert.deepEqual(events, ['DELETE', 'INSERT', 'UPDATE'], `${view} refuses every write`)
  }

  // An INSERT through any view is refused before the table sees it (not even its constraints run).
  for (const view of views) {
    await assert.rejects(db.query(`INSERT INTO ${view} DEFAULT VALUES`), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`${view} is read-only: write through the module that owns the table`),
      )
      return true
    })
  }

  // UPDATE and DELETE of a row that exists: refused, and the row is as it was.
  const id = '00000000-0000-4000-8000-0000000006a8'
  await db.query(`INSERT INTO organisations (id, name) VALUES ($1, 'Published views test')`, [id])
  await assert.rejects(
    db.query(`UPDATE published_organisations SET name = 'renamed' WHERE id = $1`, [id]),
    /published_organisations is read-only/,
  )
  await assert.rejects(db.query(`DELETE FROM published_organisations WHERE id = $1`, [id]), /read-only/)
  const { rows } = await db.query<{ name: string }>('SELECT name FROM organisations WHERE id = $1', [id])
  assert.deepEqual(rows, [{ name: 'Published views test' }])
  // The owner still writes its table.
  await db.query(`DELETE FROM organisations WHERE id = $1`, [id])
})
