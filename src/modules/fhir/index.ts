// The FHIR R4 API (issue 6; ADR-0011) under /fhir/R4, and SMART App Launch discovery. Inside this
// plugin's scope: application/fhir+json in and out, every error as an OperationOutcome, and the
// resource adapters — each guarded by the policy decision point like every other route.

import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import { capabilityStatement } from '../../fhir/capability.ts'
import { FHIR_JSON, renderError } from '../../fhir/outcome.ts'
import { FHIR_SCOPES, OAUTH_ROUTES } from '../../security/oauth-server/index.ts'
import { auditEventFhirRoutes } from '../auditor/index.ts'
import type { ModuleContext } from '../context.ts'
import { deviceRoutes } from './device.ts'
import { diagnosticReportRoutes } from './diagnostic-report.ts'
import { observationRoutes } from './observation.ts'
import { patientRoutes } from './patient.ts'
import { AnyResource, fhirBase } from './shared.ts'

export { loadFhirResources } from './load-resources.ts'

function oauthUrls(ctx: ModuleContext) {
  const issuer = ctx.config.publicUrl
  return {
    authorize: `${issuer}${OAUTH_ROUTES.authorization}`,
    token: `${issuer}${OAUTH_ROUTES.token}`,
    revoke: `${issuer}${OAUTH_ROUTES.revocation}`,
    introspect: `${issuer}${OAUTH_ROUTES.introspection}`,
  }
}

/** `extra`: more FHIR routes registered inside this plugin (the events module's Subscription), and what the CapabilityStatement declares for them. */
export function fhirRoutes(ctx: ModuleContext, extra: { routes?: readonly ((app: FastifyInstance) => Promise<void>)[]; capability?: { resource: Record<string, unknown>; extension: Record<string, unknown>[] } } = {}): FastifyPluginAsync {
  const startedAt = ctx.clock().toISOString()
  return async function fhir(app: FastifyInstance) {
    // application/fhir+json is JSON (application/json is parsed by the root already).
    app.addContentTypeParser(['application/fhir+json'], { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))

    app.addHook('onSend', async (_request, reply, payload) => {
      const type = String(reply.getHeader('content-type') ?? '')
      if (type.startsWith('application/json') || type.startsWith('application/problem+json')) reply.header('content-type', FHIR_JSON)
      return payload
    })

    app.setErrorHandler((err, request, reply) => {
      const out = renderError(err, request.id)
      if (out.internal) request.log.error({ err }, 'unhandled error')
      reply.headers(out.headers)
      return reply.code(out.status).type(FHIR_JSON).send(out.body)
    })
    app.setNotFoundHandler((request, reply) => {
      const out = renderError(Object.assign(new Error('No route matches this method and path'), { statusCode: 404 }), request.id)
      return reply.code(404).type(FHIR_JSON).send(out.body)
    })

    app.get(
      '/metadata',
      {
        config: { public: 'FHIR capability statement: servers must describe themselves to unauthenticated clients (R4 3.1.0.15)' },
        schema: { tags: ['FHIR'], summary: 'CapabilityStatement: the resources, interactions and search parameters this server implements', response: { 200: AnyResource } },
      },
      async () => withExtra(capabilityStatement({ base: fhirBase(ctx), endpoints: oauthUrls(ctx), date: startedAt }), extra.capability),
    )

    await app.register(patientRoutes(ctx))
    await app.register(deviceRoutes(ctx))
    await app.register(observationRoutes(ctx))
    await app.register(diagnosticReportRoutes(ctx))
    await app.register(auditEventFhirRoutes(ctx))
    for (const routes of extra.routes ?? []) await app.register(routes)
  }
}

function withExtra(statement: Record<string, unknown>, extra: { resource: Record<string, unknown>; extension: Record<string, unknown>[] } | undefined): Record<string, unknown> {
  if (!extra) return statement
  const rest = (statement.rest as Array<Record<string, unknown>>).map((r, i) =>
    i === 0 ? { ...r, resource: [...((r.resource as unknown[]) ?? []), extra.resource] } : r,
  )
  return { ...statement, extension: [...((statement.extension as unknown[]) ?? []), ...extra.extension], rest }
}

const SmartConfiguration = Type.Object(
  {
    issuer: Type.String(),
    jwks_uri: Type.String(),
    authorization_endpoint: Type.String(),
    token_endpoint: Type.String(),
    revocation_endpoint: Type.String(),
    introspection_endpoint: Type.String(),
    capabilities: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
    response_types_supported: Type.Array(Type.String()),
    code_challenge_methods_supported: Type.Array(Type.String()),
    grant_types_supported: Type.Array(Type.String()),
    token_endpoint_auth_methods_supported: Type.Array(Type.String()),
    token_endpoint_auth_signing_alg_values_supported: Type.Array(Type.String()),
  },
  { additionalProperties: false },
)

export const SMART_CAPABILITIES = [
  'launch-standalone',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'context-standalone-patient',
  'permission-patient',
  'permission-user',
  'permission-v2',
  'permission-v1',
  'permission-offline',
  'sso-openid-connect',
]

export function smartConfigurationRoutes(ctx: ModuleContext): FastifyPluginAsync {
  return async function smartConfiguration(app) {
    app.get(
      '/.well-known/smart-configuration',
      {
        config: { public: 'SMART App Launch discovery: apps read it before they can authenticate' },
        schema: { tags: ['FHIR'], summary: 'SMART App Launch configuration (endpoints, capabilities, scopes)', response: { 200: SmartConfiguration } },
      },
      async (_request, reply) => {
        const issuer = ctx.config.publicUrl
        reply.header('cache-control', 'public, max-age=300')
        return {
          issuer,
          jwks_uri: `${issuer}${OAUTH_ROUTES.jwks}`,
          authorization_endpoint: `${issuer}${OAUTH_ROUTES.authorization}`,
          token_endpoint: `${issuer}${OAUTH_ROUTES.token}`,
          revocation_endpoint: `${issuer}${OAUTH_ROUTES.revocation}`,
          introspection_endpoint: `${issuer}${OAUTH_ROUTES.introspection}`,
          capabilities: SMART_CAPABILITIES,
          scopes_supported: ['openid', 'offline_access', ...FHIR_SCOPES],
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
          token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'private_key_jwt'],
          token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'],
        }
      },
    )
  }
}
