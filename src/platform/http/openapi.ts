// OpenAPI 3.1, generated from the route schemas (never written by hand).

import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { BEARER_SCHEME } from './route-schema.ts'

export const OAUTH2_SCHEME = 'oauth2'

/** The OAuth 2.0 side of the document: endpoints, and the scopes with what each opens. */
export interface OpenApiOAuth {
  readonly authorizationUrl: string
  readonly tokenUrl: string
  /** scope → what it opens (shown by the docs page and used by code generators). */
  readonly scopes: Readonly<Record<string, string>>
  /** The scopes any one of which carries a route's policy action (for the operation's security requirement). */
  scopesFor(policy: string, url: string, method: string): readonly string[]
}

const INTRODUCTION = `
## Getting started: the order of calls for each kind of client

Every protected call carries \`Authorization: Bearer <access token>\` from Vigil's OAuth 2.0 server
(\`/oauth/token\`, discovery at \`/.well-known/openid-configuration\`). Tokens are opaque, live 15 minutes,
and are for one resource: the API (\`/api\`, the default) or the FHIR server (\`/fhir/R4\`, asked with
\`resource\` or SMART's \`aud\`). A request without \`scope\` gets the client's registered default scopes. A
token without the scope an operation needs gets 403 \`INSUFFICIENT_SCOPE\` naming it, in the body and in
\`WWW-Authenticate\`.

1. **A device** (confidential client): \`POST /oauth/token\` with \`grant_type=client_credentials\` and its
   client secret (\`client_secret_basic\`) or a signed assertion (\`private_key_jwt\`) → token with
   \`device-data:write\`; then \`POST /api/v2/device-data\` with the readings (an \`Idempotency-Key\` makes retries safe).
   A device without a keyboard is paired by its patient through the device authorization grant (\`/oauth/device/auth\`).
2. **A patient's app** (public client): authorization code with PKCE (S256) at \`/oauth/authorize\` → the
   user signs in on Vigil's pages → \`POST /oauth/token\` (\`authorization_code\`, \`code_verifier\`) → access and refresh
   tokens (\`offline_access\`); refresh with \`grant_type=refresh_token\` (each refresh token is used once); call
   \`GET /api/v2/me\`, \`GET /api/v2/device-data\` with \`account:read device-data:read\`.
3. **A SMART app**: read \`/fhir/R4/.well-known/smart-configuration\`; authorization code with PKCE, \`aud\` =
   the FHIR base and scopes such as \`openid fhirUser launch/patient patient/*.rs offline_access\` (standalone), or
   \`launch\` with the \`launch\` id an EHR got from \`POST /api/v2/smart/launch\` (EHR launch); the token response
   names \`patient\`; then \`GET /fhir/R4/Observation?patient=…\` and follow the Bundle's \`next\` links.
4. **A backend service**: \`POST /oauth/token\` with \`client_credentials\`, \`private_key_jwt\` (RFC 7523) and
   \`scope=system/*.rs\` (its default) → FHIR token; then \`GET /fhir/R4/Patient\`, \`/Observation\` within its organisation.

FHIR errors are \`OperationOutcome\` (\`application/fhir+json\`); all other errors \`application/problem+json\`.
`

/** A stable operationId from method and path: GET /fhir/R4/Patient/:id → getFhirR4PatientById. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .split('/')
    .filter(Boolean)
    .map((seg) =>
      seg.startsWith(':') ? `by-${seg.slice(1)}` : seg.startsWith('{') ? `by-${seg.slice(1, -1)}` : seg,
    )
    .flatMap((seg) => seg.split(/[^A-Za-z0-9]+/))
    .filter(Boolean)
  return method.toLowerCase() + words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('')
}

type Json = Record<string, unknown>

const OPERATION_OUTCOME = {
  type: 'object',
  required: ['resourceType', 'issue'],
  description: 'FHIR R4 OperationOutcome: every error of /fhir/R4',
  properties: {
    resourceType: { const: 'OperationOutcome' },
    issue: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['severity', 'code'],
        properties: {
          severity: { type: 'string', enum: ['fatal', 'error', 'warning', 'information'] },
          code: { type: 'string' },
          diagnostics: { type: 'string' },
          expression: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
  examples: [
    {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-found', diagnostics: 'The resource was not found' }],
    },
  ],
}

/** FHIR operations answer application/fhir+json, and every error as an OperationOutcome, 404 included. */
function fhirContent(doc: Json): void {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/fhir/R4') || path.includes('/.well-known/')) continue
    for (const op of Object.values(item)) {
      if (typeof op !== 'object' || op === null || !('responses' in op)) continue
      const responses = op.responses as Record<string, Json>
      if (!responses['404'])
        responses['404'] = {
          description:
            'Not found: no such resource, one the caller may not see (concealed), or no such route',
        }
      for (const [status, response] of Object.entries(responses)) {
        const content = (response.content ?? {}) as Record<string, Json>
        if (/^2\d\d$/.test(status)) {
          const json = content['application/json']
          if (json) response.content = { 'application/fhir+json': json }
        } else if (/^[45]\d\d$/.test(status)) {
          response.content = {
            'application/fhir+json': { schema: { $ref: '#/components/schemas/OperationOutcome' } },
          }
        }
      }
    }
  }
}

export async function registerOpenApi(
  app: FastifyInstance,
  options: { publicUrl: string; version: string; oauth?: OpenApiOAuth },
): Promise<void> {
  const oauth = options.oauth
  await app.register(swagger, {
    transform: ({ schema, url, route }) => {
      const s = { ...((schema ?? {}) as Json) }
      if (s.hide === true) return { schema: s as never, url }
      const method = String(Array.isArray(route.method) ? route.method[0] : route.method)
      if (typeof s.operationId !== 'string') s.operationId = operationIdOf(method, url)
      // A protected operation: the bearer token, or the OAuth 2.0 flows with any one of the scopes
      // that carry it. OpenAPI's security is a list of alternatives, and the scopes inside one
      // requirement object are all required: so one object per scope, each an alternative.
      const policy = (route.config as { policy?: string } | undefined)?.policy
      const security = s.security as Array<Record<string, string[]>> | undefined
      const scopes = oauth && policy ? oauth.scopesFor(policy, url, method) : []
      if (scopes.length > 0 && security?.some((r) => BEARER_SCHEME in r))
        s.security = [...security, ...scopes.map((scope) => ({ [OAUTH2_SCHEME]: [scope] }))]
      return { schema: s as never, url }
    },
    transformObject: (documentObject) => {
      const doc = (documentObject as unknown as { openapiObject: Json }).openapiObject
      fhirContent(doc)
      const components = (doc.components ??= {}) as Json
      const schemas = (components.schemas ??= {}) as Json
      schemas.OperationOutcome = OPERATION_OUTCOME
      return doc as never
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vigil API',
        version: options.version,
        description:
          'Vigil: a backend for connected medical devices and digital-health apps.\n' +
          INTRODUCTION +
          '\nErrors are `application/problem+json` (RFC 9457) with a stable `type` and `code`. Every response carries ' +
          '`X-Request-Id`; quote it when reporting a problem. Deprecated operations answer with `Deprecation`, ' +
          '`Sunset` and `Link` headers naming their successor.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: options.publicUrl }],
      tags: [
        { name: 'API', description: 'Versioned API roots' },
        { name: 'Operations', description: 'Health, readiness, metrics and documentation' },
      ],
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description: 'An opaque access token issued by the Vigil authorization server.',
          },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The METRICS_TOKEN configured for Prometheus scrapes.',
          },
          ...(oauth
            ? {
                [OAUTH2_SCHEME]: {
                  type: 'oauth2',
                  description:
                    "Vigil's OAuth 2.0 server. Authorization code with PKCE (S256) for apps and SMART apps; client credentials for devices and backend services. A request without scope gets the client's registered default scopes.",
                  flows: {
                    authorizationCode: {
                      authorizationUrl: oauth.authorizationUrl,
                      tokenUrl: oauth.tokenUrl,
                      refreshUrl: oauth.tokenUrl,
                      scopes: { ...oauth.scopes },
                    },
                    clientCredentials: { tokenUrl: oauth.tokenUrl, scopes: { ...oauth.scopes } },
                  },
                },
              }
            : {}),
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  })

  app.get(
    '/openapi.json',
    {
      config: {
        public: 'The API description is public so integrators can read it before they hold credentials',
      },
      schema: {
        tags: ['Operations'],
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI 3.1 document',
        response: {
          200: {
            description: 'OpenAPI 3.1 document',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      // A custom serializer leaves the type unset: name it, or clients and proxies must guess (SRS-DOC-524).
      reply.header('cache-control', 'no-cache').type('application/json; charset=utf-8')
      return reply.serializer((doc: unknown) => JSON.stringify(doc)).send(app.swagger())
    },
  )
}
