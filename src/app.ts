// buildApp(config, deps): the whole HTTP service without listen(), so tests drive it through
// inject() or a real port. Order matters: cross-cutting hooks first, then routes, so every route
// passes the default-deny and schema checks at registration.

import type { ServerOptions as HttpsServerOptions } from 'node:https'
import cors from '@fastify/cors'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify'
import type { Redis } from 'ioredis'
import type Provider from 'oidc-provider'
import type { Logger } from 'pino'
import { loadCheckpointSigner, registerHttpAudit, type AuditTrail } from './audit/index.ts'
import { composeServices } from './compose.ts'
import type { Config } from './config/index.ts'
import {
  accountRoutesV2,
  emailVerificationPageRoutes,
  emailVerificationRoutesV2,
} from './modules/account/index.ts'
import { accessReportRoutesV2 } from './modules/access-report/index.ts'
import { apiIndexRoutes } from './modules/api-index/index.ts'
import { auditRoutesV2 } from './modules/auditor/index.ts'
import { careRoutesV2 } from './modules/care/index.ts'
import { clientRoutesV2 } from './modules/clients/index.ts'
import { consoleRoutes } from './modules/console/index.ts'
import type { ModuleContext } from './modules/context.ts'
import { deviceRoutesV2, deviceDataRoutesV1, deviceDataRoutesV2 } from './modules/device-data/index.ts'
import { docsRoutes } from './modules/docs/index.ts'
import { createRetentionJob, erasureRoutesV2 } from './modules/erasure/index.ts'
import { createEvents, subscriptionCapability } from './modules/events/index.ts'
import { fhirRoutes, smartConfigurationRoutes } from './modules/fhir/index.ts'
import { createReadinessCheck, healthRoutes, metricsRoutes } from './modules/health/index.ts'
import { readingSummaryRoutesV2 } from './modules/reading-summaries/index.ts'
import { smartRoutesV2 } from './modules/smart/index.ts'
import type { Database } from './platform/db/index.ts'
import type { JobClaimer } from './platform/db/scheduler.ts'
import { frameworkErrorHandler, registerErrorHandling } from './platform/http/error-handler.ts'
import { registerInputBoundary } from './platform/http/input-boundary.ts'
import { registerOpenApi } from './platform/http/openapi.ts'
import { isOperationalProbe } from './platform/http/probes.ts'
import { ProblemSchema } from './platform/http/problem.ts'
import { registerRateLimit } from './platform/http/rate-limit.ts'
import { generateRequestId, registerRequestContext } from './platform/http/request-context.ts'
import { registerRequestScope } from './platform/http/request-scope.ts'
import { completeRouteSchema } from './platform/http/route-schema.ts'
import { clientErrorHandler, registerSecurityHeaders } from './platform/http/security-headers.ts'
import type { TypeBoxTypeProvider, TypedApp } from './platform/http/typed-routes.ts'
import { registerUntrustedProxyWarning } from './platform/http/untrusted-proxy.ts'
import { registerValidation } from './platform/http/validation.ts'
import { registerApiVersions, registerDeprecation, type ApiVersion } from './platform/http/versioning.ts'
import type { Mailer } from './platform/mail/index.ts'
import { registerMetrics } from './platform/observability/metrics.ts'
import { registerRequestLog } from './platform/observability/request-log.ts'
import type { Tracing } from './platform/observability/tracing.ts'
import type { Authenticate } from './security/authn/index.ts'
import { startPrincipalInvalidation } from './security/authn/principal-cache.ts'
import {
  isSmartAppOrigin,
  isSmartCorsPath,
  OAUTH_ROUTES,
  scopeDescriptions,
  interactionRoutes,
  oauthProtocolRoutes,
  passwordChangeRoutes,
  passwordResetRoutes,
  type AccountDirectory,
} from './security/oauth-server/index.ts'
import { startSigningKeyRefresh } from './security/oauth-server/signing-key-refresh.ts'
import { registerRouteAccess, type PolicyDecisionPoint } from './security/policy/index.ts'
import { fhirInteraction, scopesForOperation } from './security/policy/scopes.ts'
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
  /** Claims periodic jobs so they run once per period across instances (main.ts; ADR-0017). */
  readonly jobs?: JobClaimer
  /** Milliseconds between checks for a rotated signing key in the database (main.ts; unset = none). */
  readonly signingKeyRefreshMs?: number
  /** The verified-principal cache (ADR-0029): false turns it off; default 10,000 entries, 60 s. */
  readonly principalCache?: false | { readonly max: number; readonly ttlMs: number }
}

export type App = FastifyInstance

declare module 'fastify' {
  interface FastifyInstance {
    /** The parts built inside buildApp that the CLI and tests reach: the authorization server and the module context. */
    vigil: { readonly provider: Provider; readonly modules: ModuleContext }
  }
}

export async function buildApp(config: Config, deps: AppDeps): Promise<App> {
  const base = Fastify({
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
    // 431 / 400 / 408 before a request exists: problem+json with the same security headers.
    clientErrorHandler: clientErrorHandler({ tls: config.tls !== undefined }),
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // A URL the router cannot decode is a 400 in the service's error shape (ADR-0015).
    frameworkErrors: frameworkErrorHandler,
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance
  // The TypeBox type provider, once for the whole app: route plugins (RoutePlugin) take their
  // request and reply types from their schemas (platform/http/typed-routes.ts; ADR-0030).
  const app: TypedApp = base.withTypeProvider<TypeBoxTypeProvider>()

  if (deps.tracing) await app.register(deps.tracing.fastifyPlugin)

  // The request each piece of code runs for, so security events raised deep in the accounts
  // module carry their request id and caller; then every service, built once (src/compose.ts).
  const requestScope = registerRequestScope(app)
  const services = await composeServices(config, deps, { currentRequest: () => requestScope.current() })
  const {
    keyring,
    sealer,
    cookieSecret,
    audit: auditTrail,
    accounts,
    provider,
    authenticate,
    principalCache,
    pdp,
    mailer,
    deviceCookies,
    unlock,
    emailVerification,
    modules,
  } = services
  if (principalCache) {
    const stop = await startPrincipalInvalidation(deps.db, principalCache, (err) =>
      deps.logger.warn(
        { err: { message: err instanceof Error ? err.message : String(err) } },
        'LISTEN vigil_auth failed: the principal cache stays off',
      ),
    )
    app.addHook('onClose', stop)
  }
  if (deps.signingKeyRefreshMs) {
    // A rotation made by `vigil keys rotate-signing` (or another instance) reaches this one without a restart (ADR-0017).
    const refresh = startSigningKeyRefresh({
      provider,
      db: deps.db,
      sealer,
      intervalMs: deps.signingKeyRefreshMs,
      onReload: (kids) => deps.logger.info({ signingKeys: kids }, 'signing keys reloaded'),
      onError: (err) =>
        deps.logger.warn(
          { err: { message: err instanceof Error ? err.message : String(err) } },
          'signing key check failed',
        ),
    })
    app.addHook('onClose', async () => refresh.stop())
  }

  app.decorate('vigil', { provider, modules })
  if (!deps.mailer) app.addHook('onClose', async () => mailer.close())
  registerValidation(app)
  registerErrorHandling(app)
  registerRequestContext(app)
  // Every response's security headers, oidc-provider's included (ADR-0013); first, so a reply
  // from any later onRequest hook (rate limit, authentication) carries them.
  registerSecurityHeaders(app, {
    tls: config.tls !== undefined,
    protocolPaths: ['/oauth', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'],
  })
  registerUntrustedProxyWarning(app, { trustProxy: config.trustProxy })
  // Before authentication, so floods of bad tokens or passwords are limited too.
  await registerRateLimit(app, { perMinute: config.rateLimitPerMinute, redis: deps.redis })
  // NUL, unpaired surrogates, invalid UTF-8, wrong media types and charsets, over-deep or over-long
  // bodies refused before authentication and any route; HTML form posts only on the sign-in pages (ADR-0015).
  registerInputBoundary(app)
  app.addSchema(ProblemSchema)

  registerDeprecation(app, { docsUrl: `${config.publicUrl}/docs` })
  // Refusals for segregation of duties are security events, each its own audit entry (ADR-0012).
  registerRouteAccess(app, { authenticate, pdp, securityEvent: (event) => auditTrail.record(event) })
  app.addHook('onRoute', (route) => {
    if (route.method === 'OPTIONS' && route.url.endsWith('*')) return // CORS preflight, undocumented
    completeRouteSchema(route, {
      protected: route.config?.policy !== undefined,
      rateLimited: config.rateLimitPerMinute > 0 && !isOperationalProbe(route.url),
    })
  })

  registerRequestLog(app)
  const metrics = registerMetrics(app, {
    poolStats: () => deps.db.poolStats(),
    defaultMetrics: deps.processMetrics ?? false,
  })
  // One audit entry per request (probes aside) and periodic signed checkpoints (ADR-0006).
  registerHttpAudit(app, {
    audit: auditTrail,
    logger: deps.logger,
    registry: metrics.registry,
    checkpointIntervalSeconds: config.audit.checkpointIntervalSeconds,
    loadSigner: () => loadCheckpointSigner(deps.db, keyring),
    claim: deps.jobs?.claim,
    // A read carrying several patients: one entry per patient, with that patient's grounds, in one transaction (issue 15).
    pdp,
    db: deps.db,
  })

  const corsOptions = {
    // An allow-list from CORS_ORIGINS; none configured → no cross-origin access at all.
    origin: config.corsOrigins.length > 0 ? [...config.corsOrigins] : false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: [
      'Authorization',
      'Content-Type',
      'Idempotency-Key',
      'If-Match',
      'If-None-Exist',
      'Prefer',
      'X-Request-Id',
    ],
    exposedHeaders: [
      'X-Request-Id',
      'Deprecation',
      'Sunset',
      'Link',
      'ETag',
      'Location',
      'Retry-After',
      'WWW-Authenticate',
    ],
    credentials: false,
    maxAge: 600,
    strictPreflight: true,
  }
  await app.register(cors, {
    ...corsOptions,
    // Plus, on /fhir/R4 and the token endpoint, the origins of registered SMART apps (ADR-0018).
    delegator: async (req: { url?: string; headers: Record<string, string | string[] | undefined> }) => {
      const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined
      if (
        !origin ||
        config.corsOrigins.includes(origin) ||
        !isSmartCorsPath(req.url ?? '') ||
        !(await isSmartAppOrigin(deps.db, origin))
      )
        return corsOptions
      return { ...corsOptions, origin: [...config.corsOrigins, origin] }
    },
  })

  await registerOpenApi(app, {
    publicUrl: config.publicUrl,
    version: VERSION,
    // The oauth2 security scheme: the flows and every scope with what it opens (issue 13).
    oauth: {
      authorizationUrl: `${config.publicUrl}${OAUTH_ROUTES.authorization}`,
      tokenUrl: `${config.publicUrl}${OAUTH_ROUTES.token}`,
      scopes: scopeDescriptions(),
      scopesFor: (policy, url, method) =>
        scopesForOperation(policy, url.startsWith('/fhir/'), fhirInteraction(method, url)),
    },
  })
  await app.register(oauthProtocolRoutes({ provider, publicUrl: config.publicUrl }))
  // A registered device paired through the device authorization grant is bound to the approving patient (ADR-0010).
  await app.register(
    interactionRoutes({
      provider,
      accounts,
      db: deps.db,
      cookieSecret,
      beforeConsent: (c) => modules.devices.approveDeviceGrant(c),
      deviceCookies,
      secureCookies: config.publicUrl.startsWith('https://'),
    }),
  )
  await app.register(unlock.routes)
  await app.register(passwordResetRoutes({ accounts, mailer, cookieSecret, publicUrl: config.publicUrl }))
  await app.register(passwordChangeRoutes({ provider, accounts, cookieSecret, publicUrl: config.publicUrl }))

  // Events out of the outbox: the relay, webhooks, FHIR Subscriptions, NATS JetStream (ADR-0020).
  const events = createEvents(modules, { registry: metrics.registry })
  app.addHook('onReady', () => events.start())
  app.addHook('onClose', () => events.stop())
  // Retention every RETENTION_INTERVAL_SECONDS, once per period across instances (issue 12, ADR-0025).
  const retention = createRetentionJob(modules)
  app.addHook('onReady', async () => retention.start(config.retention.intervalSeconds))
  app.addHook('onClose', () => retention.stop())
  await app.register(
    healthRoutes({
      checkReadiness: createReadinessCheck({
        db: deps.db,
        redis: deps.redis,
        timeoutMs: config.readinessTimeoutMs,
        registry: metrics.registry,
        degradable: events.natsConnected ? { nats: events.natsConnected } : undefined,
      }),
    }),
  )
  await app.register(metricsRoutes({ registry: metrics.registry, token: config.metricsToken }))
  await app.register(docsRoutes())
  await app.register(consoleRoutes())
  await app.register(emailVerificationPageRoutes({ emailVerification }))

  await registerApiVersions(app, {
    v1: [
      apiIndexRoutes('v1', { current: false, publicUrl: config.publicUrl }),
      deviceDataRoutesV1(modules),
      ...(deps.apiModules?.v1 ?? []),
    ],
    v2: [
      apiIndexRoutes('v2', { current: true, publicUrl: config.publicUrl }),
      accountRoutesV2,
      emailVerificationRoutesV2({ emailVerification }),
      clientRoutesV2({ clients: services.clientService }),
      careRoutesV2(modules),
      deviceRoutesV2(modules),
      deviceDataRoutesV2(modules),
      readingSummaryRoutesV2(modules),
      accessReportRoutesV2(modules),
      auditRoutesV2(modules),
      erasureRoutesV2(modules),
      smartRoutesV2(modules),
      events.routesV2,
      ...(deps.apiModules?.v2 ?? []),
    ],
  })
  // FHIR R4 (issue 6) under /fhir/R4, with its own content type and OperationOutcome errors.
  await app.register(
    fhirRoutes(modules, { routes: [events.fhirRoutes], capability: subscriptionCapability() }),
    { prefix: '/fhir/R4' },
  )
  await app.register(smartConfigurationRoutes(modules))

  return app
}
