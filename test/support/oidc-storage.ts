// oidc-provider's storage adapter on the run's database, as oidc-provider itself writes through
// it: rows put and found by model and value (ADR-0013). open() in before(), close() in after().
import { randomUUID } from 'node:crypto'
import type { AdapterPayload } from 'oidc-provider'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import type { Database, Queryable } from '../../src/platform/db/index.ts'
import {
  createPostgresAdapterFactory,
  type ProviderRequest,
} from '../../src/security/oauth-server/postgres-adapter.ts'
import { openTestDatabase } from './app.ts'
import { TEST_KEYRING, testConfig } from './config.ts'

/** The adapter class over `db`, as the server builds it (no clients; the test keyring). */
const factoryOver = (
  db: Queryable & Pick<Database, 'transaction'>,
  currentRequest?: () => ProviderRequest | undefined,
) =>
  createPostgresAdapterFactory({
    db,
    clients: { find: async () => undefined },
    keyring: createKeyring(TEST_KEYRING),
    ...(currentRequest ? { currentRequest } : {}),
  })

export function oidcStorage() {
  let database: Database | undefined
  let Adapter: ReturnType<typeof createPostgresAdapterFactory> | undefined
  const adapter = (model: string) => {
    if (!Adapter) throw new Error('oidcStorage: open() it first')
    return new Adapter(model)
  }
  return {
    async open(): Promise<void> {
      database = await openTestDatabase(testConfig())
      Adapter = factoryOver(database)
    },
    close: () => database?.close(),
    get db(): Database {
      if (!database) throw new Error('oidcStorage: open() it first')
      return database
    },
    adapter,
    /**
     * An adapter class of its own over `db` (the storage's database wrapped, say, to count
     * statements), and serving the requests `currentRequest` names, as oidc-provider's context would.
     */
    adapterOver: (
      db: Queryable & Pick<Database, 'transaction'>,
      currentRequest?: () => ProviderRequest | undefined,
    ) => factoryOver(db, currentRequest),
    /** A value no other test uses, named for what it stands for. */
    id: (label: string) => `${label}-${randomUUID()}`,
    put: (model: string, rowId: string, payload: AdapterPayload) =>
      adapter(model).upsert(rowId, payload, 3600),
    exists: async (model: string, rowId: string) => (await adapter(model).find(rowId)) !== undefined,
  }
}
