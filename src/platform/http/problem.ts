// application/problem+json (RFC 9457): the one shape every error leaves the service in.

import { Type, type Static } from 'typebox'
import { ERROR_CATALOGUE, problemType, type ErrorCode, type ProblemFieldError } from './errors.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
export const PROBLEM_SCHEMA_ID = 'Problem'

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'Stable URI of the problem type (urn:vigil:problem:…).' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String({ description: 'The request id as a URN (urn:vigil:request:…).' })),
    code: Type.String({ description: 'Machine-readable code from the error catalogue.' }),
    requestId: Type.String(),
    scope: Type.Optional(
      Type.String({
        description:
          'INSUFFICIENT_SCOPE: the scope the operation needs (any one of them, space-separated), as in WWW-Authenticate.',
      }),
    ),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          pointer: Type.String({
            description:
              'JSON Pointer to the offending part, prefixed by body, querystring, params or headers.',
          }),
          detail: Type.String(),
        }),
      ),
    ),
  },
  { $id: PROBLEM_SCHEMA_ID, title: 'Problem', description: 'RFC 9457 problem details.' },
)

export type Problem = Static<typeof ProblemSchema>

export function buildProblem(
  code: ErrorCode,
  requestId: string,
  detail?: string,
  errors?: readonly ProblemFieldError[],
  scope?: string,
): Problem {
  const entry = ERROR_CATALOGUE[code]
  return {
    type: problemType(code),
    title: entry.title,
    status: entry.status,
    ...(detail !== undefined && detail !== entry.title ? { detail } : {}),
    instance: `urn:vigil:request:${requestId}`,
    code,
    requestId,
    ...(errors && errors.length > 0 ? { errors: [...errors] } : {}),
    ...(scope ? { scope } : {}),
  }
}

/** A route's documented problem response (OpenAPI): `response: { 404: problemResponse('No such patient') }`. */
export const problemResponse = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${PROBLEM_SCHEMA_ID}#` } } },
})
