// The `vigil` command-line tool (SRS §Product contract: command-line contract). Each command loads the same
// configuration as the server and fails with the same messages on a bad one.

import { Command } from 'commander'
import { ConfigError, loadConfigFromProcess, type Config } from '../config/index.ts'
import { resolveSecrets } from '../platform/crypto/dev-secrets.ts'
import { migrate, openDatabase, type Database } from '../platform/db/index.ts'
import { VERSION } from '../version.ts'
import { readFile } from 'node:fs/promises'
import { checkClientRegistration, clientMetadata, type ClientRegistration } from '../modules/clients/index.ts'
import { seedDemo } from '../modules/demo/index.ts'
import { createKeyring, keyringSealer, type Keyring } from '../platform/crypto/keyring.ts'
import { createClientStore, generateClientSecret, rotateSigningKey } from '../security/oauth-server/index.ts'
import { buildOpenApiDocument } from './openapi-document.ts'
import {
  createAuditTrail,
  formatVerifyResult,
  loadCheckpointSigner,
  readLastCheckpointLine,
  type AuditEntryInput,
} from '../audit/index.ts'
import { rotateCheckpointKey } from '../audit/checkpoint-key.ts'
import { createDataKeyStore, createPatientCipher, createPatientService } from '../modules/patients/index.ts'
import { erasePatient, reencrypt, runRetention } from '../modules/erasure/index.ts'
import { createEventOperations } from '../modules/events/index.ts'

function config(): Config {
  try {
    return loadConfigFromProcess()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil: ${err.message}\n`)
      process.exit(78)
    }
    throw err
  }
}

async function withDatabase<T>(cfg: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: cfg.databaseUrl, pgliteDir: cfg.dataDir, poolMax: 2 })
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

/** For commands that touch sealed secrets: the configuration with secrets resolved, the database
 * and the keyring, opened and closed together. */
async function withKeyring<T>(fn: (db: Database, keyring: Keyring, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = (await resolveSecrets(config())).config
  const keyring = createKeyring(requireKeyring(cfg))
  return withDatabase(cfg, (db) => fn(db, keyring, cfg))
}

const program = new Command()
  .name('vigil')
  .description('Vigil command-line tool')
  .version(VERSION)
  .showHelpAfterError()

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    const cfg = config()
    const report = await withDatabase(cfg, migrate)
    process.stdout.write(
      report.applied.length === 0
        ? `database is up to date (${report.alreadyApplied} migrations applied earlier)\n`
        : `applied ${report.applied.length} migration(s): ${report.applied.join(', ')}\n`,
    )
  })

program
  .command('openapi')
  .description('print the OpenAPI 3.1 document')
  .action(async () => {
    const cfg = (await resolveSecrets(config())).config
    const doc = await buildOpenApiDocument(cfg)
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
  })

program
  .command('seed-demo')
  .description(
    'create the demo world idempotently and print its ids and secrets as JSON (refused in production)',
  )
  .requiredOption('--password <password>', 'the password of every demo user')
  .action(async (options: { password: string }) => {
    const cfg = (await resolveSecrets(config())).config
    if (cfg.nodeEnv === 'production') {
      process.stderr.write('vigil: seed-demo is refused when NODE_ENV=production\n')
      process.exit(1)
    }
    const world = await withDatabase(cfg, async (db) => {
      await migrate(db)
      return seedDemo({ db, keyring: createKeyring(requireKeyring(cfg)), password: options.password })
    })
    process.stdout.write(JSON.stringify(world, null, 2) + '\n')
  })

const client = program.command('client').description('manage OAuth clients')

client
  .command('create')
  .description("register a client; a confidential client's secret is printed once")
  .requiredOption('--id <clientId>', 'client id')
  .requiredOption(
    '--type <type>',
    'public (authorization code + PKCE), confidential (secret) or private-key-jwt (a JWKS file)',
  )
  .option('--grant <grant...>', 'grant types', ['authorization_code'])
  .option(
    '--redirect-uri <uri...>',
    'exact redirect URIs (native apps: http://127.0.0.1/callback matches any port)',
    [],
  )
  .option('--scope <scope>', 'space-separated scopes the client may ask for', 'openid')
  .option('--jwks-file <file>', 'public JWKS for private_key_jwt clients')
  .option('--name <name>', 'display name on the consent page')
  .option('--first-party', 'a Vigil app: users are not asked to consent', false)
  .action(
    async (options: {
      id: string
      type: string
      grant: string[]
      redirectUri: string[]
      scope: string
      jwksFile?: string
      name?: string
      firstParty: boolean
    }) => {
      if (!['public', 'confidential', 'private-key-jwt'].includes(options.type))
        throw new Error('--type must be public, confidential or private-key-jwt')
      if (options.type === 'private-key-jwt' && !options.jwksFile)
        throw new Error('--jwks-file is required for a private-key-jwt client')
      const registration: ClientRegistration = {
        clientId: options.id,
        type: options.type as ClientRegistration['type'],
        grantTypes: options.grant,
        redirectUris: options.redirectUri,
        scope: options.scope,
        jwks: options.jwksFile
          ? (JSON.parse(await readFile(options.jwksFile, 'utf8')) as ClientRegistration['jwks'])
          : undefined,
        name: options.name,
        firstParty: options.firstParty,
      }
      // The admin API's rules (modules/clients): nothing the authorization server would refuse, or
      // serve insecurely, is stored.
      const problems = checkClientRegistration(registration)
      if (problems.length > 0)
        throw new Error(
          `the client is not valid:\n${problems.map((p) => `  ${p.pointer.slice(1)}: ${p.detail}`).join('\n')}`,
        )
      const secret = options.type === 'confidential' ? generateClientSecret() : undefined
      await withKeyring(async (db, keyring) => {
        const store = createClientStore({ db, sealer: keyringSealer(keyring) })
        // Creates or replaces: re-running the command rotates a confidential client's secret.
        await store.upsert({ clientId: options.id, secret, metadata: clientMetadata(registration) })
      })
      process.stdout.write(
        JSON.stringify({ clientId: options.id, ...(secret ? { clientSecret: secret } : {}) }, null, 2) + '\n',
      )
    },
  )

client
  .command('list')
  .description('list registered clients (secrets are never shown)')
  .action(async () => {
    const list = await withKeyring((db, keyring) =>
      createClientStore({ db, sealer: keyringSealer(keyring) }).list(),
    )
    process.stdout.write(JSON.stringify(list, null, 2) + '\n')
  })

client
  .command('delete <clientId>')
  .description('remove a client; its tokens stop working at their next use')
  .action(async (clientId: string) => {
    const removed = await withKeyring((db, keyring) =>
      createClientStore({ db, sealer: keyringSealer(keyring) }).remove(clientId),
    )
    if (!removed) {
      process.stderr.write(`vigil: no client ${clientId}\n`)
      process.exit(1)
    }
    process.stdout.write(`deleted ${clientId}\n`)
  })

/** A key operation or data-lifecycle run by the operator: actor 'system', identifiers and counts only. */
function systemEntry(
  action: string,
  resourceType: string,
  resourceId: string | null,
  detail: string,
): AuditEntryInput {
  return { actorKind: 'system', action, resourceType, resourceId, outcome: 'success', decisionRule: detail }
}

/** The patients' key store, cipher and service as the server builds them (src/app.ts). */
function patientCrypto(db: Database, keyring: Keyring) {
  const dataKeys = createDataKeyStore({ db, root: keyringSealer(keyring) })
  const cipher = createPatientCipher(dataKeys)
  return { dataKeys, cipher, patients: createPatientService({ db, keys: dataKeys, cipher, keyring }) }
}

function positiveInteger(name: string) {
  return (raw: string): number => {
    if (!/^[1-9][0-9]{0,6}$/.test(raw)) throw new Error(`${name} must be a positive integer`)
    return Number(raw)
  }
}

function nonNegativeInteger(name: string) {
  return (raw: string): number => {
    if (!/^(0|[1-9][0-9]{0,8})$/.test(raw)) throw new Error(`${name} must be a non-negative integer`)
    return Number(raw)
  }
}

const keys = program
  .command('keys')
  .description('key management (ADR-0009 data keys, token and checkpoint signing keys)')

keys
  .command('rotate')
  .description(
    'add a key-encryption-key version and re-wrap every patient data key under it (old data stay readable); KEKs sealed under an older ENCRYPTION_KEYRING key are re-sealed under the newest',
  )
  .action(async () => {
    const result = await withKeyring(async (db, keyring) => {
      const { dataKeys } = patientCrypto(db, keyring)
      // Root-keyring rotation first, so the new KEK and the re-sealed ones are all under the newest root key.
      const resealedKeks = await dataKeys.resealKeks((sealed) => keyring.needsRotation(sealed))
      const { kekVersion, rewrapped } = await dataKeys.rotateKek()
      await createAuditTrail({ db }).record(
        systemEntry(
          'key.rotate',
          'KeyEncryptionKey',
          String(kekVersion),
          `rewrapped=${rewrapped} resealed-keks=${resealedKeks} root-kid=${keyring.currentKid}`,
        ),
      )
      return { kekVersion, rewrapped, resealedKeks }
    })
    process.stdout.write(JSON.stringify(result) + '\n')
  })

keys
  .command('reencrypt')
  .description(
    'move every sealed PHI value off older data-key versions, in small committed batches, then destroy those versions; resumable after an interruption',
  )
  .option('--batch-size <n>', 'rows per committed batch', positiveInteger('--batch-size'), 200)
  .option(
    '--new-data-keys',
    'first give each patient a new data-key version (skipped for patients an interrupted run already gave one)',
    false,
  )
  .option(
    '--retire-grace-ms <ms>',
    'wait this long after the last moved value before destroying old versions (default: the data-key cache lifetime + 5 s)',
    nonNegativeInteger('--retire-grace-ms'),
  )
  .action(async (options: { batchSize: number; newDataKeys: boolean; retireGraceMs?: number }) => {
    const report = await withKeyring(async (db, keyring) => {
      const { dataKeys, cipher } = patientCrypto(db, keyring)
      const r = await reencrypt(
        { db, dataKeys, cipher },
        {
          batchSize: options.batchSize,
          newDataKeys: options.newDataKeys,
          ...(options.retireGraceMs !== undefined ? { retireGraceMs: options.retireGraceMs } : {}),
          onBatch: (n) => process.stderr.write(`reencrypted ${n}\n`),
        },
      )
      await createAuditTrail({ db }).record(
        systemEntry(
          'key.reencrypt',
          'DataKey',
          null,
          `new-data-keys=${r.newDataKeys} reencrypted=${r.reencrypted} retired=${r.retired} failed=${r.failed}`,
        ),
      )
      return r
    })
    process.stdout.write(JSON.stringify(report) + '\n')
    if (report.failed > 0) process.exit(3)
  })

keys
  .command('rotate-signing')
  .description(
    'add a new token signing key and retire the current one (still published until it expires); restart instances to sign with it',
  )
  .action(async () => {
    const kid = await withKeyring(async (db, keyring) => {
      const created = await rotateSigningKey(db, keyringSealer(keyring))
      await createAuditTrail({ db }).record(
        systemEntry('key.rotate-signing', 'SigningKey', created, 'token signing key rotated'),
      )
      return created
    })
    process.stdout.write(`new signing key ${kid}\n`)
  })

keys
  .command('rotate-checkpoint')
  .description(
    'add a new audit checkpoint signing key and retire the current one (its public key stays, so older checkpoints keep verifying)',
  )
  .action(async () => {
    const kid = await withKeyring((db, keyring) =>
      rotateCheckpointKey(db, keyring, async (tx, kids) => {
        await createAuditTrail({ db }).record(
          systemEntry(
            'key.rotate-checkpoint',
            'CheckpointKey',
            kids.current,
            `retired=${kids.retired ?? 'none'}`,
          ),
          tx,
        )
      }),
    )
    process.stdout.write(`new checkpoint key ${kid}\n`)
  })

program
  .command('patients')
  .description('patient records')
  .command('erase <patientId>')
  .description(
    'crypto-shredding: destroy every data key of the patient; their PHI becomes unreadable here and in every later backup (cannot be undone; earlier backups: ADR-0009)',
  )
  .option('--yes', 'confirm the erasure', false)
  .action(async (patientId: string, options: { yes: boolean }) => {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(patientId))
      throw new Error('the patient id must be a UUID')
    if (!options.yes) throw new Error('erasure cannot be undone: add --yes to confirm')
    const result = await withKeyring(async (db, keyring) =>
      erasePatient(
        { db, audit: createAuditTrail({ db }), patients: patientCrypto(db, keyring).patients },
        patientId,
        { kind: 'system' },
      ),
    )
    if (result.status === 'not-found') {
      process.stderr.write(`vigil: no patient ${patientId}\n`)
      process.exit(1)
    }
    process.stdout.write(
      JSON.stringify({ patientId, status: result.status, erasedAt: result.erasedAt.toISOString() }) + '\n',
    )
  })

program
  .command('retention')
  .description('retention per data class (RETENTION_*_DAYS)')
  .command('run')
  .description(
    'delete readings and spent credentials past their retention; count (never delete) audit entries past theirs; prints JSON counts',
  )
  .option('--dry-run', 'count only, delete nothing', false)
  .action(async (options: { dryRun: boolean }) => {
    const cfg = config()
    const report = await withDatabase(cfg, (db) =>
      runRetention(
        { db, audit: createAuditTrail({ db }), retention: cfg.retention },
        { dryRun: options.dryRun },
      ),
    )
    process.stdout.write(JSON.stringify(report) + '\n')
  })

const audit = program.command('audit').description('the tamper-evident audit trail (ADR-0006)')

audit
  .command('verify')
  .description(
    'recompute every chain and check it against the latest signed checkpoint (database and AUDIT_CHECKPOINT_FILE); exit 0 if intact, 2 naming the first bad entry',
  )
  .action(async () => {
    const cfg = config()
    const result = await withDatabase(cfg, async (db) => {
      const exported = await readLastCheckpointLine(cfg.audit.checkpointFile)
      return createAuditTrail({ db }).verify({ external: exported ? [exported] : [] })
    })
    if (result.ok) {
      process.stdout.write(formatVerifyResult(result) + '\n')
    } else {
      process.stderr.write(`vigil: ${formatVerifyResult(result)}\n`)
      process.exit(2)
    }
  })

audit
  .command('checkpoint')
  .description('sign every chain head now, store the checkpoint and append it to AUDIT_CHECKPOINT_FILE')
  .action(async () => {
    const { exported, file } = await withKeyring(async (db, keyring, cfg) => {
      const signer = await loadCheckpointSigner(db, keyring)
      return {
        exported: await createAuditTrail({
          db,
          checkpointFile: cfg.audit.checkpointFile,
          checkpointCommand: cfg.audit.checkpointCommand,
        }).checkpoint(signer),
        file: cfg.audit.checkpointFile,
      }
    })
    process.stdout.write(
      `checkpoint ${exported.id} of ${Object.keys(exported.heads).length} chains written to ${file}\n`,
    )
  })

const events = program
  .command('events')
  .description('event delivery from the outbox: webhooks, FHIR Subscriptions, NATS (ADR-0020)')
const DELIVERY_STATUSES = ['pending', 'delivered', 'withheld', 'dead'] as const

events
  .command('list')
  .description('the queue by state, and the latest deliveries (JSON); --status dead lists the dead letters')
  .option('--status <status>', `one of ${DELIVERY_STATUSES.join(', ')}`)
  .option('--subscription <id>', 'one subscription only')
  .option('--limit <n>', 'at most this many deliveries (default 50)', '50')
  .action(async (options: { status?: string; subscription?: string; limit: string }) => {
    if (options.status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(options.status))
      throw new Error(`--status: expected one of ${DELIVERY_STATUSES.join(', ')}`)
    const limit = Number(options.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new Error('--limit: expected an integer from 1 to 10000')
    const cfg = config()
    const result = await withDatabase(cfg, (db) =>
      createEventOperations({ db, audit: createAuditTrail({ db }), clock: () => new Date() }).list({
        ...(options.status ? { status: options.status as (typeof DELIVERY_STATUSES)[number] } : {}),
        ...(options.subscription ? { subscriptionId: options.subscription } : {}),
        limit,
      }),
    )
    process.stdout.write(JSON.stringify(result) + '\n')
  })

events
  .command('redrive')
  .description(
    "queue dead-lettered deliveries again, with a fresh retry period: all of them, one subscription's, or the given ids",
  )
  .option('--subscription <id>', 'one subscription only')
  .option('--id <deliveryId...>', 'these deliveries only')
  .action(async (options: { subscription?: string; id?: string[] }) => {
    const ids = options.id?.map(Number)
    if (ids?.some((n) => !Number.isSafeInteger(n) || n < 1))
      throw new Error('--id: expected delivery ids (positive integers)')
    const cfg = config()
    const redriven = await withDatabase(cfg, (db) =>
      createEventOperations({ db, audit: createAuditTrail({ db }), clock: () => new Date() }).redrive({
        ...(ids ? { ids } : {}),
        ...(options.subscription ? { subscriptionId: options.subscription } : {}),
      }),
    )
    process.stdout.write(JSON.stringify({ redriven }) + '\n')
  })

events
  .command('replay')
  .description(
    'deliver past events (still in the outbox) again to one subscription or to the NATS stream, with their original event ids',
  )
  .option('--subscription <id>', 'the subscription to replay to')
  .option('--nats', 'replay to the NATS JetStream stream', false)
  .requiredOption('--since <time>', 'events committed at or after this RFC 3339 time')
  .option('--types <types>', 'comma-separated event types')
  .action(async (options: { subscription?: string; nats: boolean; since: string; types?: string }) => {
    const since = new Date(options.since)
    if (Number.isNaN(since.getTime())) throw new Error('--since: expected an RFC 3339 time')
    if (options.nats === (options.subscription !== undefined))
      throw new Error('give exactly one of --subscription and --nats')
    const cfg = config()
    const replayed = await withDatabase(cfg, (db) =>
      createEventOperations({ db, audit: createAuditTrail({ db }), clock: () => new Date() }).replay(
        { ...(options.subscription ? { subscriptionId: options.subscription } : {}), nats: options.nats },
        { since, ...(options.types ? { types: options.types.split(',').map((t) => t.trim()) } : {}) },
      ),
    )
    process.stdout.write(JSON.stringify({ replayed }) + '\n')
  })

function requireKeyring(cfg: Config): string {
  if (!cfg.secrets.keyring) throw new Error('ENCRYPTION_KEYRING is not set')
  return cfg.secrets.keyring
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
