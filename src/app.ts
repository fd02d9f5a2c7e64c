// buildApp(config, deps): the whole HTTP service without listen(), so tests drive it through
// inject() or a real port. Order matters: cross-cutting hooks first, then routes, so every route
// passes the default-deny and schema checks at registration.

import type { ServerOptions as HttpsServerOptions } from 'node:https'
import cors from '@fastify/cors'
import formbody from '@fastify/formbody'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from './config/index.ts'
import { createAuditTrail, loadCheckpointSigner, registerHttpAudit, securityEventEntry, type AuditTrail } from './audit/index.ts'
import { registerRateLimit } from './platform/http/rate-limit.ts'
import { isOperationalProbe } from './platform/http/probes.ts'
import { registerRequestScope } from './platform/http/request-scope.ts'
import { apiIndexRoutes } from './modules/api-index/routes.ts'
import { docsRoutes } from './modules/docs/routes.ts'
import type { Redis } from 'ioredis'
import { createReadinessCheck } from './modules/health/check-readiness.ts'
import { metricsRoutes } from './modules/health/metrics.routes.ts'
import { healthRoutes } from './modules/health/routes.ts'
import type { Database } from './platform/db/index.ts'
import { createMailer, mailerOptionsFromConfig, type Mailer } from './platform/mail/index.ts'
import { registerErrorHandling } from './platform/http/error-handler.ts'
import { registerOpenApi } from './platform/http/openapi.ts'
import { ProblemSchema } from './platform/http/problem.ts'
import { generateRequestId, registerRequestContext } from './platform/http/request-context.ts'
import { completeRouteSchema } from './platform/http/route-schema.ts'
import { registerValidation } from './platform/http/validation.ts'
import { registerApiVersions, registerDeprecation, type ApiVersion } from './platform/http/versioning.ts'
import { registerMetrics } from './platform/observability/metrics.ts'
import { registerRequestLog } from './platform/observability/request-log.ts'
import type { Tracing } from './platform/observability/tracing.ts'
import { accountRoutesV2 } from './modules/account/routes.v2.ts'
import { createEmailVerification } from './modules/account/email-verification.ts'
import { emailVerificationPageRoutes, emailVerificationRoutesV2 } from './modules/account/email-verification.routes.ts'
import { clientRoutesV2, createClientService } from './modules/clients/index.ts'
import { createPasswordHasher, createUserService } from './modules/users/index.ts'
import { createAccountDirectory } from './modules/identity/account-directory.ts'
import { createKeyring, keyringSealer } from './platform/crypto/keyring.ts'
import { createAccessTokenAuthenticator } from './security/authn/access-token.ts'
import type { Authenticate } from './security/authn/index.ts'
import {
  apiResource,
  fhirResource,
  createClientStore,
  createProvider,
  interactionRoutes,
  loadSigningKeys,
  oauthProtocolRoutes,
  passwordChangeRoutes,
  passwordResetRoutes,
  type AccountDirectory,
  type Sealer,
} from './security/oauth-server/index.ts'
import { createPdp, registerRouteAccess, type PolicyDecisionPoint } from './security/policy/index.ts'
import type { ModuleContext } from './modules/context.ts'
import { createAccessFactSource, createDataKeyStore, createPatientCipher, createPatientService } from './modules/patients/index.ts'
import { createPrincipalDirectory } from './modules/identity/principal-directory.ts'
import { careRoutesV2 } from './modules/care/index.ts'
import { deviceRoutesV2, deviceDataRoutesV1, deviceDataRoutesV2 } from './modules/device-data/index.ts'
import { createDeviceService } from './modules/devices/index.ts'
import { fhirRoutes, smartConfigurationRoutes } from './modules/fhir/index.ts'
import { auditRoutesV2 } from './modules/auditor/index.ts'
import { erasureRoutesV2 } from './modules/erasure/index.ts'
import { createEvents, subscriptionCapability } from './modules/events/index.ts'
import type Provider from 'oidc-provider'
import { VERSION } from './version.ts'

export interface AppDeps {
  readonly db: Database
  readonly logger: Logger
  readonly redis?: Redis | undefined
  readonly tracing?: Tracing | undefined
  readonly authenticate?: Authenticate
  readonly pdp?: PolicyDecisionPoint
  /** The accounts behind the authorization server (default: the users module on deps.db). */
  readonly accounts?: AccountDirectory
  /** Extra route modules per API version (tests, and modules as they land). */
  readonly apiModules?: Partial<Record<ApiVersion, readonly FastifyPluginAsync[]>>
  /** Native TLS options (platform/http/tls.ts) when TLS_CERT_FILE and TLS_KEY_FILE are set. */
  readonly https?: HttpsServerOptions | undefined
  /** Outgoing mail (default: SMTP_URL, or .eml files under DATA_DIR/mail; platform/mail). */
  readonly mailer?: Mailer
  /** Collect process-level metrics (off in tests that build many apps). */
  readonly processMetrics?: boolean
  /** The audit trail (default: on deps.db, checkpoints exported to AUDIT_CHECKPOINT_FILE; ADR-0006). */
  readonly audit?: AuditTrail
}

export type App = FastifyInstance

declare module 'fastify' {
  interface FastifyInstance {
    /** The parts built inside buildApp that the CLI and tests reach: the authorization server and the module context. */
    vigil: { readonly provider: Provider; readonly modules: ModuleContext }
  }
}

/** A test's PDP without patientScope reaches no patient in lists. */
function withPatientScope(pdp: PolicyDecisionPoint): Required<PolicyDecisionPoint> {
  return { decide: pdp.decide.bind(pdp), patientScope: pdp.patientScope?.bind(pdp) ?? (async () => ({ kind: 'none' }) as const) }
}

export async function buildApp(config: Config, deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    genReqId: generateRequestId,
    requestIdHeader: false,
    // One line per request, written on completion inside the request's trace context, so it carries
    // the trace id with the request id (platform/observability/request-log.ts).
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance

  if (deps.tracing) await app.register(deps.tracing.fastifyPlugin)

  // Identity: the keyring seals secrets at rest; oidc-provider issues every token (ADR-0005).
  if (!config.secrets.keyring || !config.secrets.cookieSecret) throw new Error('ENCRYPTION_KEYRING and COOKIE_SECRET must be resolved before buildApp (resolveSecrets)')
  const keyring = createKeyring(config.secrets.keyring)
  const sealer: Sealer = keyringSealer(keyring)
  // The audit trail (ADR-0006), and the request each piece of code runs for, so security events
  // raised deep in the accounts module carry their request id and caller.
  const auditTrail =
    deps.audit ??
    createAuditTrail({ db: deps.db, checkpointFile: config.audit.checkpointFile, checkpointCommand: config.audit.checkpointCommand, onCheckpoint: (c) => deps.logger.info({ auditCheckpoint: c }, 'audit checkpoint') })
  const requestScope = registerRequestScope(app)
  // Login failures, locks, second-factor and password events: logged (identifiers only, never
  // the password or code) and written to the audit trail.
  const accounts =
    deps.accounts ??
    createAccountDirectory({
      db: deps.db,
      keyring,
      onEvent: (event) => {
        deps.logger[/failed|locked|blocked/.test(event.type) ? 'warn' : 'info']({ securityEvent: event }, event.type)
        const request = requestScope.current()
        const facts = request && { id: request.id, ip: request.ip, userAgent: request.headers['user-agent'] }
        auditTrail.record(securityEventEntry(event, facts)).catch((err: unknown) => deps.logger.error({ err, requestId: facts?.id }, 'audit write failed for a security event'))
      },
    })
  const clients = createClientStore({ db: deps.db, sealer })
  const provider = createProvider({ config, db: deps.db, clients, accounts, signingKeys: await loadSigningKeys(deps.db, sealer) })
  const api = apiResource(config.publicUrl)
  const fhir = fhirResource(config.publicUrl)
  const authenticate =
    deps.authenticate ??
    createAccessTokenAuthenticator({
      provider,
      // A token is for one resource: the FHIR server's routes take only FHIR tokens, the API only API tokens.
      audience: (request) => (request.url.startsWith('/fhir/') ? fhir : api),
      accounts,
      directory: createPrincipalDirectory(deps.db),
    })

  // Patients' PHI: per-patient data keys wrapped by versioned KEKs sealed by the keyring (ADR-0009);
  // the policy decision point over care teams, consents and break-glass (ADR-0008).
  const dataKeys = createDataKeyStore({ db: deps.db, root: sealer })
  const cipher = createPatientCipher(dataKeys)
  const patients = createPatientService({ db: deps.db, keys: dataKeys, cipher, keyring })
  const pdp: Required<PolicyDecisionPoint> = withPatientScope(deps.pdp ?? createPdp({ facts: createAccessFactSource(deps.db) }))
  const mailer = deps.mailer ?? createMailer(mailerOptionsFromConfig(config, deps.logger))
  const modules: ModuleContext = { config, db: deps.db, logger: deps.logger, redis: deps.redis, audit: auditTrail, keyring, dataKeys, cipher, patients, pdp, mailer, clock: () => new Date() }

  app.decorate('vigil', { provider, modules })
  if (!deps.mailer) app.addHook('onClose', async () => mailer.close())
  registerValidation(app)
  registerErrorHandling(app)
  registerRequestContext(app, { tls: config.tls !== undefined })
  // Before authentication, so floods of bad tokens or passwords are limited too.
  await registerRateLimit(app, { perMinute: config.rateLimitPerMinute, redis: deps.redis })
  app.addSchema(ProblemSchema)

  registerDeprecation(app, { docsUrl: `${config.publicUrl}/docs` })
  registerRouteAccess(app, { authenticate, pdp })
  app.addHook('onRoute', (route) => {
    if (route.method === 'OPTIONS' && route.url.endsWith('*')) return // CORS preflight, undocumented
    completeRouteSchema(route, { protected: route.config?.policy !== undefined, rateLimited: config.rateLimitPerMinute > 0 && !isOperationalProbe(route.url) })
  })

  registerRequestLog(app)
  const metrics = registerMetrics(app, { poolStats: () => deps.db.poolStats(), defaultMetrics: deps.processMetrics ?? false })
  // One audit entry per request (probes aside) and periodic signed checkpoints (ADR-0006).
  registerHttpAudit(app, {
    audit: auditTrail,
    logger: deps.logger,
    registry: metrics.registry,
    checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds,
    loadSigner: () => loadCheckpointSigner(deps.db, keyring),
  })

  await app.register(cors, {
    // An allow-list from CORS_ORIGINS; none configured → no cross-origin access at all.
    origin: config.corsOrigins.length > 0 ? [...config.corsOrigins] : false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-Match', 'If-None-Exist', 'Prefer', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id', 'Deprecation', 'Sunset', 'Link', 'ETag', 'Location', 'Retry-After', 'WWW-Authenticate'],
    credentials: false,
    maxAge: 600,
    strictPreflight: true,
  })

  await registerOpenApi(app, { publicUrl: config.publicUrl, version: VERSION })
  // HTML forms of the sign-in pages; JSON stays the API's only body format.
  await app.register(formbody, { bodyLimit: 16 * 1024 })
  await app.register(oauthProtocolRoutes({ provider, publicUrl: config.publicUrl }))
  // A registered device paired through the device authorization grant is bound to the approving patient (ADR-0010).
  const devices = createDeviceService({ db: deps.db, keyring, clock: () => new Date() })
  await app.register(interactionRoutes({ provider, accounts, db: deps.db, cookieSecret: config.secrets.cookieSecret, beforeConsent: (c) => devices.approveDeviceGrant(c) }))
  await app.register(passwordResetRoutes({ accounts, db: deps.db, mailer, cookieSecret: config.secrets.cookieSecret, publicUrl: config.publicUrl }))
  await app.register(passwordChangeRoutes({ provider, accounts, db: deps.db, cookieSecret: config.secrets.cookieSecret, publicUrl: config.publicUrl }))

  // Events out of the outbox: the relay, webhooks, FHIR Subscriptions, NATS JetStream (ADR-0020).
  const events = createEvents(modules, { registry: metrics.registry })
  app.addHook('onReady', () => events.start())
  app.addHook('onClose', () => events.stop())
  await app.register(healthRoutes({ checkReadiness: createReadinessCheck({ db: deps.db, redis: deps.redis, degradable: events.natsConnected ? { nats: events.natsConnected } : undefined }) }))
  await app.register(metricsRoutes({ registry: metrics.registry, token: config.metricsToken }))
  await app.register(docsRoutes())
  const emailVerification = createEmailVerification({ users: createUserService({ db: deps.db, hasher: createPasswordHasher(), clock: () => new Date() }), mailer, publicUrl: config.publicUrl })
  await app.register(emailVerificationPageRoutes({ emailVerification }))

  await registerApiVersions(app, {
    v1: [apiIndexRoutes('v1', { current: false, publicUrl: config.publicUrl }), deviceDataRoutesV1(modules), ...(deps.apiModules?.v1 ?? [])],
    v2: [
      apiIndexRoutes('v2', { current: true, publicUrl: config.publicUrl }),
      accountRoutesV2,
      emailVerificationRoutesV2({ emailVerification }),
      clientRoutesV2({ clients: createClientService({ store: clients }) }),
      careRoutesV2(modules),
      deviceRoutesV2(modules),
      deviceDataRoutesV2(modules),
      auditRoutesV2(modules),
      erasureRoutesV2(modules),
      events.routesV2,
      ...(deps.apiModules?.v2 ?? []),
    ],
  })
  // FHIR R4 (issue 6) under /fhir/R4, with its own content type and OperationOutcome errors.
  await app.register(fhirRoutes(modules, { routes: [events.fhirRoutes], capability: subscriptionCapability() }), { prefix: '/fhir/R4' })
  await app.register(smartConfigurationRoutes(modules))

  return app
}
