// A database a `vigil` CLI process and the test share, one after the other: an embedded PGlite
// directory (one process at a time: the test closes it before each CLI run), or on PostgreSQL a
// fresh schema reached through search_path. Not a test file itself.

import { randomBytes, randomUUID } from 'node:crypto'
import { migrate, openDatabase, type Database } from '../../src/platform/db/index.ts'
import { createKeyring, keyringSealer, type Keyring } from '../../src/platform/crypto/keyring.ts'
import {
  createDataKeyStore,
  createPatientCipher,
  createPatientService,
  type DataKeyStore,
  type PatientCipher,
  type PatientService,
} from '../../src/modules/patients/index.ts'
import { sealReading } from '../../src/modules/device-data/index.ts'
import { TEST_COOKIE_SECRET, TEST_KEYRING } from '../support/config.ts'
import { childEnv, CLI_ARGS, removeDir, run, tempDir, type Env } from './server-process.ts'

export interface CliDatabase {
  readonly env: Env
  open(): Promise<Database>
  cli(
    args: readonly string[],
    extraEnv?: Record<string, string>,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>
  drop(): Promise<void>
}

export async function cliDatabase(prefix: string): Promise<CliDatabase> {
  const dataDir = tempDir(prefix)
  const url = process.env.DATABASE_URL
  let scopedUrl: string | undefined
  let schema: string | undefined
  if (url) {
    schema = `keys_${randomBytes(6).toString('hex')}`
    const admin = await openDatabase({ databaseUrl: url, poolMax: 1 })
    await admin.exec(`CREATE SCHEMA ${schema}`)
    await admin.close()
    const scoped = new URL(url)
    scoped.searchParams.set('options', `-c search_path=${schema}`)
    scopedUrl = scoped.toString()
  }
  const env = childEnv(dataDir, {
    NODE_ENV: 'test',
    ENCRYPTION_KEYRING: TEST_KEYRING,
    COOKIE_SECRET: TEST_COOKIE_SECRET,
    ...(scopedUrl ? { DATABASE_URL: scopedUrl } : {}),
  })
  const open = async () => {
    const db = scopedUrl
      ? await openDatabase({ databaseUrl: scopedUrl, poolMax: 4 })
      : await openDatabase({ pgliteDir: dataDir })
    await migrate(db)
    return db
  }
  return {
    env,
    open,
    cli: (args, extraEnv = {}) =>
      run(process.execPath, [...CLI_ARGS, ...args], { env: { ...env, ...extraEnv }, timeoutMs: 180_000 }),
    async drop() {
      if (url && schema) {
        const admin = await openDatabase({ databaseUrl: url, poolMax: 1 })
        await admin.exec(`DROP SCHEMA ${schema} CASCADE`)
        await admin.close()
      }
      removeDir(dataDir)
    },
  }
}

export interface PatientCrypto {
  readonly keyring: Keyring
  readonly dataKeys: DataKeyStore
  readonly cipher: PatientCipher
  readonly patients: PatientService
}

/** The patients' key store, cipher and service as the server builds them. */
export function patientCrypto(db: Database, ring = TEST_KEYRING, cacheMs?: number): PatientCrypto {
  const keyring = createKeyring(ring)
  const dataKeys = createDataKeyStore({
    db,
    root: keyringSealer(keyring),
    ...(cacheMs !== undefined ? { cacheMs } : {}),
  })
  const cipher = createPatientCipher(dataKeys)
  return {
    keyring,
    dataKeys,
    cipher,
    patients: createPatientService({ db, keys: dataKeys, cipher, keyring }),
  }
}

let serial = 0
/** Inserts one reading the way ingestion does (sealed with the patient's data key); returns its id. */
export async function insertReading(
  db: Database,
  cipher: PatientCipher,
  patientId: string,
  value: number,
  effectiveAt = new Date(),
): Promise<string> {
  const id = randomUUID()
  await db.transaction(async (tx) => {
    const sealed = await sealReading(cipher, patientId, id, { value, unit: 'mg/dL' }, tx)
    await tx.query(
      `INSERT INTO readings (id, patient_id, code, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index)
       VALUES ($1, $2, '2339-0', $3, 0, now(), $4, $5, $6)`,
      [
        id,
        patientId,
        effectiveAt,
        `r-${process.pid}-${++serial}`,
        sealed,
        randomBytes(16).toString('base64url'),
      ],
    )
  })
  return id
}
