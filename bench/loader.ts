// The reads-at-scale loader (issue 17, goal 3): loads readings into the bench server's database
// THROUGH THE REPOSITORY, not the HTTP API — repository.insertReadings, each reading's content
// sealed with its patient's data key by the one codec every reader uses (sealReading), and its
// content index computed as the ingest computes it (the keyed blind index over the same stable
// JSON) — so the read paths open, present and page exactly what production would have stored.
// It runs inside the bench server process (bench/server.ts), on the server's own database
// connection and keyring: PGlite allows one process per directory, and the data keys are the
// server's.
//
// What it writes: patients (through the patient service, so each has its own data key and sealed
// demographics), one device per patient bound to it, and `readingsPerPatient` readings per patient,
// four kinds in turn (glucose, heart rate, SpO2, blood-pressure panel), evenly spread over the
// `days` before the run's fixed window end. Not the outbox, the daily quota counters or audit
// entries: the read paths never read them. Patients are loaded whole and in order, so the first
// patients loaded are the same at every scale: the read cases query those (a clinician's care
// team), and between two scales only the table around them grows.

import { randomBytes, randomUUID } from 'node:crypto'
import type { App } from '../src/app.ts'
import { sealReading, type ReadingContent } from '../src/modules/device-data/reading-content.ts'
import { insertReadings, type ReadingRow } from '../src/modules/device-data/repository.ts'
import { createPasswordHasher, createUserService } from '../src/modules/users/index.ts'
import { createClientStore } from '../src/security/oauth-server/index.ts'
import { keyringSealer } from '../src/platform/crypto/keyring.ts'
import { mintToken } from '../test/support/world.ts'

export interface LoadRequest {
  readonly type: 'load'
  /** Load until the loader's patients hold at least this many readings. */
  readonly readings: number
  readonly readingsPerPatient: number
  readonly days: number
  /** How many of the first patients the reading clinician's care team holds (the patients queried). */
  readonly careTeam: number
  /** `large` (the reads-at-scale set) is refused on PGlite: the load would live in the server's own process. */
  readonly scale: 'small' | 'large'
}

export const LOADER_REFUSES_PGLITE =
  'the reads-at-scale loader runs on PostgreSQL only (set DATABASE_URL): on PGlite the large set would be held in the server process'

export interface LoadedReply {
  readonly type: 'loaded'
  readonly readings: number
  readonly patients: number
  /** Loading time of this call, and the rate (readings stored per second) it loaded at. */
  readonly seconds: number
  readonly readingsPerSecond: number
  /** Rows in the readings table, and its size with its indexes (bytes). */
  readonly tableRows: number
  readonly tableBytes: number
  readonly careTeam: readonly string[]
  /** The end of the loaded readings' time range (ISO). */
  readonly windowEnd: string
  /** Opaque access tokens of the care team's clinician: /api/v2 (device-data:read) and /fhir/R4 (user/*.rs). */
  readonly tokens: { readonly api: string; readonly fhir: string }
}

export interface LoadProgress {
  readonly type: 'load-progress'
  readonly readings: number
}

export interface LoadFailed {
  readonly type: 'load-failed'
  readonly message: string
}

/** Four kinds of reading in turn, as a device would send them (values within the plausible ranges). */
function content(j: number): { code: string; category: string; content: ReadingContent; stable: string } {
  // `stable` is the content as the ingest's stable JSON writes it (keys sorted), for the content index.
  switch (j % 4) {
    case 0: {
      const value = 70 + (j % 110)
      return {
        code: '2339-0',
        category: 'laboratory',
        content: { value, unit: 'mg/dL' },
        stable: `{"unit":"mg/dL","value":${value}}`,
      }
    }
    case 1: {
      const value = 50 + (j % 60)
      return {
        code: '8867-4',
        category: 'vital-signs',
        content: { value, unit: '/min' },
        stable: `{"unit":"/min","value":${value}}`,
      }
    }
    case 2: {
      const value = 90 + (j % 10)
      return {
        code: '59408-5',
        category: 'vital-signs',
        content: { value, unit: '%' },
        stable: `{"unit":"%","value":${value}}`,
      }
    }
    default: {
      const sys = 100 + (j % 50)
      const dia = 60 + (j % 30)
      return {
        code: '85354-9',
        category: 'vital-signs',
        content: {
          components: [
            { code: '8480-6', value: sys, unit: 'mm[Hg]' },
            { code: '8462-4', value: dia, unit: 'mm[Hg]' },
          ],
        },
        stable: `{"components":[{"code":"8480-6","unit":"mm[Hg]","value":${sys}},{"code":"8462-4","unit":"mm[Hg]","value":${dia}}]}`,
      }
    }
  }
}

const CHUNK = 1000 // readings per INSERT (13 parameters each: 13,000 bound parameters)

export function createReadLoader(app: App, organisationId: string) {
  const { modules } = app.vigil
  const { db } = modules
  const windowEnd = new Date()
  const patients: string[] = []
  let readings = 0
  let clinician: { id: string } | undefined
  let careTeam: string[] = []
  const clientId = `bench-reader-${randomBytes(4).toString('hex')}`

  async function loadPatient(n: number, request: LoadRequest): Promise<number> {
    const deviceId = randomUUID()
    const patientId = await db.transaction(async (tx) => {
      const patient = await modules.patients.create(
        {
          organisationId,
          demographics: { name: { given: ['Loaded'], family: `Patient ${n}` }, gender: 'unknown' },
        },
        tx,
      )
      await tx.query(
        "INSERT INTO devices (id, organisation_id, manufacturer, model, serial, type, firmware_version) VALUES ($1, $2, 'Vigil Bench', 'Monitor', $3, 'other', '1.0.0')",
        [deviceId, organisationId, `LOAD-${n}-${deviceId}`],
      )
      await tx.query(
        "INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by) VALUES ($1, $2, $3, now(), 'bench-loader')",
        [randomUUID(), deviceId, patient.id],
      )
      return patient.id
    })
    const k = request.readingsPerPatient
    const span = request.days * 86_400_000
    const receivedAt = new Date()
    let stored = 0
    for (let start = 0; start < k; start += CHUNK) {
      const rows: ReadingRow[] = []
      for (let j = start; j < Math.min(k, start + CHUNK); j++) {
        const id = randomUUID()
        const c = content(j)
        const clientReadingId = `load-${j}`
        // Oldest first, evenly over the span; the patient's index shifts each by a few ms so patients differ.
        const effectiveAt = new Date(
          windowEnd.getTime() - span + Math.floor(((j + 1) * span) / k) - (n % 1000),
        )
        rows.push({
          id,
          patientId,
          deviceId,
          code: c.code,
          category: c.category,
          effectiveAt,
          offsetMinutes: 0,
          receivedAt,
          clientReadingId,
          sequence: j,
          valueSealed: await sealReading(modules.cipher, patientId, id, c.content),
          contentIndex: modules.keyring.blindIndex(
            `{"content":${c.stable},"key":${JSON.stringify(`${deviceId}|c|${clientReadingId}`)},"offset":0}`,
            'reading-content',
          ),
          source: 'v2',
        })
      }
      const inserted = await insertReadings(db, rows)
      if (inserted.size !== rows.length)
        throw new Error(`the loader stored ${inserted.size} of ${rows.length} readings`)
      stored += inserted.size
    }
    patients.push(patientId)
    return stored
  }

  async function readerTokens(): Promise<{ api: string; fhir: string }> {
    const publicUrl = modules.config.publicUrl
    if (!clinician) {
      const users = createUserService({ db, hasher: createPasswordHasher(), clock: () => new Date() })
      const user = await users.createUser({
        email: `bench-clinician-${randomBytes(4).toString('hex')}@bench.test`,
        password: randomBytes(24).toString('base64url'),
        displayName: 'Bench Clinician',
        roles: [{ role: 'clinician', organisationId }],
        emailVerified: true,
      })
      // A public native client, as a clinician's app would be; tokens are minted through the
      // authorization server's own models and stored by its adapter (as the authorization tests do).
      await createClientStore({ db, sealer: keyringSealer(modules.keyring) }).upsert({
        clientId,
        metadata: {
          client_id: clientId,
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          response_types: ['code'],
          redirect_uris: ['http://127.0.0.1/callback'],
          application_type: 'native',
          scope: 'openid device-data:read user/*.rs',
        },
      })
      clinician = { id: user.id }
    }
    // Fresh tokens after every load (a load at 10 M can outlast a token), for an hour.
    const hour = 3600
    return {
      api: await mintToken(app, publicUrl, {
        clientId,
        accountId: clinician.id,
        scope: 'device-data:read',
        expiresIn: hour,
      }),
      fhir: await mintToken(app, publicUrl, {
        clientId,
        accountId: clinician.id,
        scope: 'user/*.rs',
        resource: 'fhir',
        expiresIn: hour,
      }),
    }
  }

  let numbered = 0
  /** progress(readings) is called about every 10 s while loading. */
  return async function load(
    request: LoadRequest,
    progress: (readings: number) => void = () => {},
  ): Promise<LoadedReply> {
    if (request.scale === 'large' && db.kind !== 'postgres') throw new Error(LOADER_REFUSES_PGLITE)
    const started = performance.now()
    const before = readings
    const workers = db.kind === 'postgres' ? 4 : 1
    let reported = started
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (readings < request.readings) {
          const n = ++numbered
          readings += request.readingsPerPatient // claimed before the await, so workers don't overshoot
          try {
            await loadPatient(n, request)
          } catch (err) {
            readings -= request.readingsPerPatient
            throw err
          }
          if (performance.now() - reported > 10_000) {
            reported = performance.now()
            progress(patients.length * request.readingsPerPatient)
          }
        }
      }),
    )
    const tokens = await readerTokens()
    // The care team: the first patients loaded, chosen at the first load and kept at every scale
    // after it (so the clinician's reach, which the FHIR search evaluates patient by patient, stays the same).
    if (careTeam.length === 0) {
      careTeam = patients.slice(0, Math.min(request.careTeam, patients.length))
      for (const patientId of careTeam) {
        await db.query(
          'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
          [patientId, (clinician as { id: string }).id, organisationId],
        )
      }
    }
    // As autovacuum does after a bulk load, now rather than during the measurement: the table
    // vacuumed (its visibility map set, every page read and written once) and its planner
    // statistics fresh. Left to autovacuum, a vacuum of the 10 M set (its insert threshold long
    // crossed) read and wrote 6.7 GB through the minutes of the reads that followed.
    await db.exec('VACUUM (ANALYZE) readings')
    // As a database that was not bulk-loaded a moment ago: the load's dirty pages are written now,
    // not by a checkpoint spread over the minutes of the measurement that follows (at 10 M the load
    // writes 6.7 GB; run R5's p99 at half load had a 216 ms outlier in one run of four).
    await db.exec('CHECKPOINT')
    const seconds = (performance.now() - started) / 1000
    const { rows } = await db.query<{ n: number | string; bytes: number | string }>(
      "SELECT count(*) AS n, pg_total_relation_size('readings') AS bytes FROM readings",
    )
    return {
      type: 'loaded',
      readings,
      patients: patients.length,
      seconds: Number(seconds.toFixed(1)),
      readingsPerSecond: Math.round((readings - before) / seconds),
      tableRows: Number(rows[0]?.n ?? 0),
      tableBytes: Number(rows[0]?.bytes ?? 0),
      careTeam,
      windowEnd: windowEnd.toISOString(),
      tokens,
    }
  }
}
