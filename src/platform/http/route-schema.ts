// Every route documents what it can answer and accepts nothing it did not declare. At
// registration each route's schema is checked and completed:
//  - request bodies and query strings are closed objects (additionalProperties: false), all the
//    way down, so an unknown field is a 400 rather than silently ignored;
//  - every documented request body carries at least one example (the OpenAPI walk validates it);
//  - the error statuses the framework itself can produce are added to the responses, as
//    application/problem+json, so the document lists every status the route can return.
// A route that breaks a rule fails start-up, like a route without a policy.

import type { RouteOptions } from 'fastify'
import { ERROR_CATALOGUE, type ErrorCode } from './errors.ts'
import { PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA_ID } from './problem.ts'

export class RouteSchemaError extends Error {
  override name = 'RouteSchemaError'
}

type JsonSchema = Record<string, unknown>

export const BEARER_SCHEME = 'bearerAuth'

function findOpenObject(schema: unknown, pointer: string): string | undefined {
  if (schema === null || typeof schema !== 'object') return undefined
  const s = schema as JsonSchema
  if (s.type === 'object' && s.properties !== undefined && s.additionalProperties !== false)
    return pointer || '/'
  for (const [key, value] of Object.entries(s)) {
    if (key === 'examples' || key === 'default' || key === 'const' || key === 'enum') continue
    const found =
      key === 'properties' && value && typeof value === 'object'
        ? Object.entries(value as JsonSchema)
            .map(([name, sub]) => findOpenObject(sub, `${pointer}/${name}`))
            .find(Boolean)
        : findOpenObject(value, pointer)
    if (found) return found
  }
  return undefined
}

function problemResponse(code: ErrorCode, description?: string): JsonSchema {
  return {
    description: description ?? ERROR_CATALOGUE[code].title,
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${PROBLEM_SCHEMA_ID}#` } } },
  }
}

export interface RouteSchemaOptions {
  /** Whether the route is protected by a policy (adds 401/403 and the bearer requirement). */
  readonly protected: boolean
  /** Whether the rate limit applies (adds 429). */
  readonly rateLimited?: boolean
}

export function completeRouteSchema(route: RouteOptions, options: RouteSchemaOptions): void {
  const where = `${String(route.method)} ${route.url}`
  const schema = (route.schema ??= {}) as JsonSchema
  if (schema.hide === true) return

  if (typeof schema.summary !== 'string' || schema.summary.length === 0)
    throw new RouteSchemaError(`Route ${where} has no summary`)

  for (const part of ['body', 'querystring', 'params'] as const) {
    const open = findOpenObject(schema[part], '')
    if (open)
      throw new RouteSchemaError(
        `Route ${where}: ${part} schema at ${open} must set additionalProperties: false`,
      )
  }

  if (schema.body !== undefined) {
    const examples = (schema.body as JsonSchema).examples
    if (!Array.isArray(examples) || examples.length === 0)
      throw new RouteSchemaError(`Route ${where}: the request body schema has no examples`)
  }

  const responses = (schema.response ??= {}) as JsonSchema
  const successes = Object.keys(responses).filter((status) => /^2\d\d$/.test(status))
  if (successes.length === 0) throw new RouteSchemaError(`Route ${where} documents no 2xx response`)
  for (const status of successes) {
    const response = responses[status] as JsonSchema
    if (typeof response.description !== 'string')
      responses[status] = { ...response, description: status === '204' ? 'No content' : 'Success' }
  }
  const add = (status: number, code: ErrorCode, description?: string) => {
    if (responses[status] === undefined) responses[status] = problemResponse(code, description)
  }
  const hasInput = ['body', 'querystring', 'params', 'headers'].some((p) => schema[p] !== undefined)
  if (hasInput) add(400, 'VALIDATION_FAILED')
  if (schema.body !== undefined) {
    add(400, 'VALIDATION_FAILED', 'The request body, query or parameters are not valid')
    add(413, 'BODY_TOO_LARGE')
    add(415, 'UNSUPPORTED_MEDIA_TYPE')
  }
  if (options.protected) {
    add(401, 'UNAUTHENTICATED', 'No valid bearer access token (expired, revoked, wrong audience or absent)')
    add(403, 'FORBIDDEN', 'The policy decision point denied the request')
  }
  if (options.rateLimited)
    add(429, 'RATE_LIMITED', 'Too many requests from this address; Retry-After says when to retry')
  add(500, 'INTERNAL', 'An unexpected error; the body names only the request id')

  // OpenAPI: the security requirement is always explicit, empty for public routes.
  if (schema.security === undefined) schema.security = options.protected ? [{ [BEARER_SCHEME]: [] }] : []
}
