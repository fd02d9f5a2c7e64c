// The FHIR R4 API (issue 6; ADR-0011) under /fhir/R4, and SMART App Launch discovery. Inside this
// plugin's scope: application/fhir+json in and out, every error as an OperationOutcome, and the
// resource adapters — each guarded by the policy decision point like every other route.

import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { Type, type Static } from 'typebox'
import { capabilityStatement } from '../../fhir-format/capability.ts'
import { FHIR_JSON, renderError } from '../../fhir-format/outcome.ts'
import { strictJsonParser } from '../../platform/http/input-boundary.ts'
import {
  CLIENT_AUTH_SIGNING_ALGS,
  OAUTH_ROUTES,
  SMART_SCOPES_SUPPORTED,
} from '../../security/oauth-server/index.ts'
import { auditEventFhirRoutes } from '../auditor/index.ts'
import type { ModuleContext } from '../context.ts'
import { deviceRoutes } from './device.ts'
import { diagnosticReportRoutes } from './diagnostic-report.ts'
import { observationRoutes } from './observation.ts'
import { patientRoutes } from './patient.ts'
import { loadFhirResources as loadResources } from './load-resources.ts'
import { createFhirService } from './service.ts'
import { practitionerRoutes } from './practitioner.ts'
import { AnyResource, fhirBase } from './shared.ts'

/** The current FHIR form of resources named by an event, for the events module (ADR-0020): a
 *  loader over one FHIR service, built once by whoever delivers events. */
export function fhirResourceLoader(
  ctx: ModuleContext,
): (resourceType: string, ids: readonly string[], patientId: string) => Promise<Record<string, unknown>[]> {
  const fhir = createFhirService(ctx)
  return (resourceType, ids, patientId) => loadResources(ctx, fhir, resourceType, ids, patientId)
}

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
export function fhirRoutes(
  ctx: ModuleContext,
  extra: {
    routes?: readonly ((app: FastifyInstance) => Promise<void>)[]
    capability?: { resource: Record<string, unknown>; extension: Record<string, unknown>[] }
  } = {},
): FastifyPluginAsync {
  const startedAt = ctx.clock().toISOString()
  return async function fhir(app: FastifyInstance) {
    // application/fhir+json is JSON, through the same strict parser as application/json at the root (ADR-0015).
    app.addContentTypeParser(
      ['application/fhir+json'],
      { parseAs: 'buffer' },
      strictJsonParser(app.getDefaultJsonParser('error', 'error')),
    )

    app.addHook('onSend', async (request, reply, payload) => {
      const type = String(reply.getHeader('content-type') ?? '')
      // The SMART configuration is plain JSON (SMART App Launch §2.0.2), not a FHIR resource.
      if (request.routeOptions.url?.endsWith('/.well-known/smart-configuration') && reply.statusCode === 200)
        return payload
      if (type.startsWith('application/json') || type.startsWith('application/problem+json'))
        reply.header('content-type', FHIR_JSON)
      return payload
    })

    app.setErrorHandler((err, request, reply) => {
      const out = renderError(err, request.id)
      if (out.internal) request.log.error({ err }, 'unhandled error')
      reply.headers(out.headers)
      return reply.code(out.status).type(FHIR_JSON).send(out.body)
    })
    app.setNotFoundHandler((request, reply) => {
      const out = renderError(
        Object.assign(new Error('No route matches this method and path'), { statusCode: 404 }),
        request.id,
      )
      return reply.code(404).type(FHIR_JSON).send(out.body)
    })

    app.get(
      '/metadata',
      {
        config: {
          public:
            'FHIR capability statement: servers must describe themselves to unauthenticated clients (R4 3.1.0.15)',
        },
        schema: {
          tags: ['FHIR'],
          summary:
            'CapabilityStatement: the resources, interactions and search parameters this server implements',
          response: { 200: AnyResource },
        },
      },
      async () =>
        withExtra(
          capabilityStatement({ base: fhirBase(ctx), endpoints: oauthUrls(ctx), date: startedAt }),
          extra.capability,
        ),
    )

    // SMART App Launch 2.0 §2.0.2: discovery at [FHIR base]/.well-known/smart-configuration.
    app.get(
      '/.well-known/smart-configuration',
      {
        config: {
          public: 'SMART App Launch discovery at the FHIR base: apps read it before they can authenticate',
        },
        schema: smartConfigurationSchema('getSmartConfiguration'),
      },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=300').type('application/json; charset=utf-8')
        return smartConfiguration(ctx)
      },
    )

    // One service for the module's reads and writes, shared by its resource routes (ADR-0030).
    const fhir = createFhirService(ctx)
    await app.register(patientRoutes(ctx, fhir))
    await app.register(practitionerRoutes(fhir))
    await app.register(deviceRoutes(ctx, fhir))
    await app.register(observationRoutes(ctx, fhir))
    await app.register(diagnosticReportRoutes(ctx, fhir))
    await app.register(auditEventFhirRoutes(ctx))
    for (const routes of extra.routes ?? []) await app.register(routes)
  }
}

function withExtra(
  statement: Record<string, unknown>,
  extra: { resource: Record<string, unknown>; extension: Record<string, unknown>[] } | undefined,
): Record<string, unknown> {
  if (!extra) return statement
  const rest = (statement.rest as Array<Record<string, unknown>>).map((r, i) =>
    i === 0 ? { ...r, resource: [...((r.resource as unknown[]) ?? []), extra.resource] } : r,
  )
  return {
    ...statement,
    extension: [...((statement.extension as unknown[]) ?? []), ...extra.extension],
    rest,
  }
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

/**
 * SMART App Launch 2.0 §2.0.2 capabilities — exactly those that work, each shown by a test
 * (test/e2e/smart-app-launch.test.ts derives this list from behaviour and compares; the other
 * lists are derived in test/e2e/smart-discovery-behaviour.test.ts).
 * Not advertised: authorize-post, context-style, context-*-encounter, permission-offline without
 * refresh (none), sso beyond OpenID Connect.
 */
export const SMART_CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'context-banner',
  'context-ehr-patient',
  'context-standalone-patient',
  'permission-offline',
  'permission-online',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
  'sso-openid-connect',
]

/** The SMART configuration document (SMART App Launch 2.0 §2.0.2), served at the FHIR base and at the root. */
export function smartConfiguration(ctx: ModuleContext): Static<typeof SmartConfiguration> {
  const issuer = ctx.config.publicUrl
  return {
    issuer,
    jwks_uri: `${issuer}${OAUTH_ROUTES.jwks}`,
    authorization_endpoint: `${issuer}${OAUTH_ROUTES.authorization}`,
    token_endpoint: `${issuer}${OAUTH_ROUTES.token}`,
    revocation_endpoint: `${issuer}${OAUTH_ROUTES.revocation}`,
    introspection_endpoint: `${issuer}${OAUTH_ROUTES.introspection}`,
    capabilities: SMART_CAPABILITIES,
    scopes_supported: [...SMART_SCOPES_SUPPORTED],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_AUTH_SIGNING_ALGS],
  }
}

export const smartConfigurationSchema = (operationId: string) => ({
  tags: ['FHIR'],
  operationId,
  summary: 'SMART App Launch configuration (endpoints, capabilities, scopes, PKCE methods)',
  response: { 200: SmartConfiguration },
})

/** The root copy (`/.well-known/smart-configuration`); the FHIR base one is registered in fhirRoutes. */
export function smartConfigurationRoutes(ctx: ModuleContext): FastifyPluginAsync {
  return async function smartConfigurationRoot(app) {
    app.get(
      '/.well-known/smart-configuration',
      {
        config: { public: 'SMART App Launch discovery: apps read it before they can authenticate' },
        schema: smartConfigurationSchema('getSmartConfigurationAtRoot'),
      },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=300')
        return smartConfiguration(ctx)
      },
    )
  }
}
