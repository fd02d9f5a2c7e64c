// The composition root (issue 14; ADR-0030): every service of the running system built once, from
// the configuration and the dependencies the caller passes in, and handed to whoever needs it.
// buildApp (app.ts) calls it and only registers plugins; nothing else builds a service a second
// time (tests and the CLI that need one read it from app.vigil.modules).

import type { FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import { createAuditTrail, outcomeFor, securityEventEntry, type AuditTrail } from './audit/index.ts'
import type { Config } from './config/index.ts'
import { createEmailVerification, type EmailVerification } from './modules/account/index.ts'
import { createClientService, type ClientService } from './modules/clients/index.ts'
import { withConsoleClient } from './modules/console/index.ts'
import type { ModuleContext } from './modules/context.ts'
import { createGranteeFactSource } from './modules/care/index.ts'
import { createDeviceService } from './modules/devices/index.ts'
import { createAccountDirectory, createPrincipalDirectory } from './modules/identity/index.ts'
import {
  createAccessFactSource,
  createDataKeyStore,
  createPatientCipher,
  createPatientService,
} from './modules/patients/index.ts'
import {
  createLoginUnlock,
  createPasswordHasher,
  createUserService,
  userIdOfAccountKey,
} from './modules/users/index.ts'
import { createKeyring, keyringSealer, type Keyring } from './platform/crypto/keyring.ts'
import { createMailer, mailerOptionsFromConfig, type Mailer } from './platform/mail/index.ts'
import { createAccessTokenAuthenticator, routeAudience } from './security/authn/access-token.ts'
import { createPrincipalCache, type PrincipalCache } from './security/authn/principal-cache.ts'
import { findBearerToken, oidcStorageId } from './security/oauth-server/postgres-adapter.ts'
import type { Authenticate } from './security/authn/index.ts'
import { createDeviceCookies, type DeviceCookies } from './security/oauth-server/device-cookies.ts'
import { loginUnlock } from './security/oauth-server/login-unlock.ts'
import {
  apiResource,
  createClientStore,
  createProvider,
  fhirResource,
  loadSigningKeys,
  type AccountDirectory,
  type ClientStore,
  type Sealer,
} from './security/oauth-server/index.ts'
import { createPdp, type PolicyDecisionPoint } from './security/policy/index.ts'
import type { AppDeps } from './app.ts'

export interface Services {
  readonly keyring: Keyring
  readonly sealer: Sealer
  /** COOKIE_SECRET, resolved (sign-in pages' CSRF and device cookies). */
  readonly cookieSecret: string
  readonly audit: AuditTrail
  readonly mailer: Mailer
  readonly accounts: AccountDirectory
  readonly clients: ClientStore
  readonly clientService: ClientService
  readonly provider: Provider
  readonly authenticate: Authenticate
  /** Verified tokens' principals (ADR-0029); app.ts starts its cross-instance invalidation. Absent when a test passes its own authenticator or turns it off. */
  readonly principalCache: PrincipalCache | undefined
  readonly pdp: Required<PolicyDecisionPoint>
  readonly deviceCookies: DeviceCookies
  readonly unlock: ReturnType<typeof loginUnlock>
  readonly emailVerification: EmailVerification
  /** What every business module is built from (modules/context.ts). */
  readonly modules: ModuleContext
}

/** A test's PDP without patientScope reaches no patient in lists. */
function withPatientScope(pdp: PolicyDecisionPoint): Required<PolicyDecisionPoint> {
  return {
    decide: pdp.decide.bind(pdp),
    patientScope: pdp.patientScope?.bind(pdp) ?? (async () => ({ kind: 'none' }) as const),
  }
}

export async function composeServices(
  config: Config,
  deps: AppDeps,
  scope: { currentRequest(): FastifyRequest | undefined },
): Promise<Services> {
  const clock = () => new Date()
  // Identity: the keyring seals secrets at rest; oidc-provider issues every token (ADR-0005).
  if (!config.secrets.keyring || !config.secrets.cookieSecret)
    throw new Error('ENCRYPTION_KEYRING and COOKIE_SECRET must be resolved before buildApp (resolveSecrets)')
  const keyring = createKeyring(config.secrets.keyring)
  const sealer: Sealer = keyringSealer(keyring)
  // The audit trail (ADR-0006).
  const audit =
    deps.audit ??
    createAuditTrail({
      db: deps.db,
      checkpointFile: config.audit.checkpointFile,
      checkpointCommand: config.audit.checkpointCommand,
      onCheckpoint: (c) => deps.logger.info({ auditCheckpoint: c }, 'audit checkpoint'),
      onBrokenChain: (chain) =>
        deps.logger.error(
          { auditChain: chain },
          'audit chain holds an entry its head does not know (tampering or a partial restore): appends moved to other chains; run `vigil audit verify`',
        ),
    })
  const mailer = deps.mailer ?? createMailer(mailerOptionsFromConfig(config, deps.logger))
  const deviceCookies = createDeviceCookies(config.secrets.cookieSecret)
  // A delay that starts on a real account mails its owner a one-time unlock link (ADR-0014).
  const unlock = loginUnlock({
    unlock: createLoginUnlock({ db: deps.db, clock }),
    mailer,
    deviceCookies,
    cookieSecret: config.secrets.cookieSecret,
    publicUrl: config.publicUrl,
    logger: deps.logger,
  })

  // The accounts: one user service for the authorization server, the care module and email verification.
  const users = createUserService({ db: deps.db, hasher: createPasswordHasher(), clock })
  // Login failures, locks, second-factor and password events: logged (identifiers only, never
  // the password or code) and written to the audit trail with the request they were raised in.
  const accounts =
    deps.accounts ??
    createAccountDirectory({
      db: deps.db,
      keyring,
      users,
      onEvent: (event) => {
        deps.logger[/failed|locked|blocked/.test(event.type) ? 'warn' : 'info'](
          { securityEvent: event },
          event.type,
        )
        const delayed =
          event.type === 'login.locked'
            ? userIdOfAccountKey(String((event as { key?: unknown }).key))
            : undefined
        if (delayed) unlock.notifyDelayed(delayed)
        const request = scope.currentRequest()
        const facts = request && { id: request.id, ip: request.ip, userAgent: request.headers['user-agent'] }
        audit
          .record(securityEventEntry(event, facts))
          .catch((err: unknown) =>
            deps.logger.error({ err, requestId: facts?.id }, 'audit write failed for a security event'),
          )
      },
    })
  const clients = createClientStore({ db: deps.db, sealer })
  // The web console's client is built in (ADR-0022); every other client comes from the store.
  const provider = createProvider({
    config,
    db: deps.db,
    clients: withConsoleClient(clients, config.publicUrl),
    accounts,
    keyring,
    signingKeys: await loadSigningKeys(deps.db, sealer),
    // A request an OAuth endpoint refuses (a bad scope, aud or launch, a wrong client secret or user
    // code, an invalid token) leaves an `oauth.<endpoint>` entry with the OAuth error code (ADR-0018);
    // so does one the server failed to answer (500), as an error rather than a refusal.
    onRefusal: (r) =>
      void audit
        .record({
          actorKind: r.clientId ? 'client' : 'anonymous',
          actorId: r.clientId,
          clientId: r.clientId,
          ip: r.ip,
          action: `oauth.${r.endpoint}`,
          outcome: outcomeFor(r.status, true),
          status: r.status,
          decisionRule: r.error,
          requestId: r.requestId,
        })
        .catch((err: unknown) =>
          deps.logger.error(
            { err: { message: err instanceof Error ? err.message : String(err) } },
            'audit write failed for a refused OAuth request',
          ),
        ),
  })
  // Verified tokens' principals, dropped on every change to what they were built from, here at
  // once and on other instances through LISTEN/NOTIFY (ADR-0029).
  const principalCache =
    deps.authenticate || deps.principalCache === false
      ? undefined
      : createPrincipalCache({ max: 10_000, ttlMs: 60_000, ...(deps.principalCache ?? {}) })
  const authenticate =
    deps.authenticate ??
    createAccessTokenAuthenticator({
      provider,
      // A token is for one resource: the FHIR server's routes take only FHIR tokens, the API only
      // API tokens — decided from the matched route, never the raw URL (ADR-0012).
      audience: routeAudience({ api: apiResource(config.publicUrl), fhir: fhirResource(config.publicUrl) }),
      accounts,
      directory: createPrincipalDirectory(deps.db),
      // One statement finds the bearer token under either model (ADR-0029).
      tokens: {
        idOf: (value) => oidcStorageId(keyring, value),
        find: (value) => findBearerToken(deps.db, keyring, value),
      },
      ...(principalCache ? { cache: principalCache } : {}),
    })

  // Patients' PHI: per-patient data keys wrapped by versioned KEKs sealed by the keyring (ADR-0009);
  // the policy decision point over care teams, consents and break-glass (ADR-0008).
  const dataKeys = createDataKeyStore({ db: deps.db, root: sealer })
  const cipher = createPatientCipher(dataKeys)
  const patients = createPatientService({ db: deps.db, keys: dataKeys, cipher, keyring })
  const pdp = withPatientScope(
    deps.pdp ??
      createPdp({ facts: createAccessFactSource(deps.db), grantees: createGranteeFactSource(deps.db) }),
  )
  // One device service: the registry's routes and the device authorization grant's binding (ADR-0010).
  // Its OAuth clients are written by the OAuth server's client store, in the registry's transaction.
  const devices = createDeviceService({
    db: deps.db,
    keyring,
    clock,
    patients,
    clients: {
      async register(q, c) {
        const store = createClientStore({ db: q, sealer })
        return store.insert({
          clientId: c.clientId,
          metadata: c.metadata,
          secret: c.secret,
          description: c.description,
          organisationId: c.organisationId,
        })
      },
    },
  })
  const modules: ModuleContext = {
    config,
    db: deps.db,
    logger: deps.logger,
    redis: deps.redis,
    audit,
    keyring,
    dataKeys,
    cipher,
    patients,
    pdp,
    mailer,
    clock,
    jobs: deps.jobs,
    users,
    devices,
  }

  return {
    keyring,
    sealer,
    cookieSecret: config.secrets.cookieSecret,
    audit,
    mailer,
    accounts,
    clients,
    clientService: createClientService({ store: clients }),
    provider,
    authenticate,
    principalCache,
    pdp,
    deviceCookies,
    unlock,
    emailVerification: createEmailVerification({ users, mailer, publicUrl: config.publicUrl }),
    modules,
  }
}
