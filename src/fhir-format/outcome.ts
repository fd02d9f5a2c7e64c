// OperationOutcome: the one shape every error of the FHIR API leaves in (R4 §3.1.0.5), and the
// mapping of the service's errors (AppError, Fastify's validation and body errors) onto it. Like
// problem+json, a 5xx names only the request id; a 4xx never echoes a submitted value.

import type { FastifyError } from 'fastify'
import { classifyError } from '../platform/http/error-handler.ts'
import { AppError, ERROR_CATALOGUE, type FhirIssueType } from '../platform/http/errors.ts'

export const FHIR_JSON = 'application/fhir+json; charset=utf-8'

/** The IssueType value set (http://hl7.org/fhir/issue-type) entries we use. */
export type IssueCode = FhirIssueType

export interface OutcomeIssue {
  readonly severity: 'fatal' | 'error' | 'warning' | 'information'
  readonly code: IssueCode
  readonly diagnostics?: string
  readonly expression?: readonly string[]
}

export interface OperationOutcome {
  readonly resourceType: 'OperationOutcome'
  readonly issue: readonly OutcomeIssue[]
}

export function operationOutcome(issues: readonly OutcomeIssue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({ ...i, ...(i.expression ? { expression: [...i.expression] } : {}) })),
  }
}

/** An error only the FHIR API raises: a status the problem catalogue has no code for (412), or a precise issue type. */
export class FhirError extends Error {
  override name = 'FhirError'
  constructor(
    readonly status: number,
    readonly issueCode: IssueCode,
    message: string,
    readonly expressions: readonly string[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
  }
}

/** A JSON Pointer of a validation error (`/body/a/b`) as a FHIRPath-like expression (`body.a.b`). */
function expressionOf(pointer: string): string {
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.')
}

export interface RenderedOutcome {
  readonly status: number
  readonly body: OperationOutcome
  readonly headers: Record<string, string>
  /** A 5xx: log the cause, tell the client nothing. */
  readonly internal: boolean
}

/** Any error thrown in the FHIR scope → status, OperationOutcome and headers (WWW-Authenticate kept). */
export function renderError(err: unknown, requestId: string): RenderedOutcome {
  if (err instanceof FhirError) {
    return {
      status: err.status,
      headers: { ...err.headers },
      internal: false,
      body: operationOutcome([
        {
          severity: 'error',
          code: err.issueCode,
          diagnostics: err.message,
          ...(err.expressions.length ? { expression: err.expressions } : {}),
        },
      ]),
    }
  }
  // The same classification as problem+json (platform/http/error-handler.ts); only the shape differs.
  const e = (typeof err === 'object' && err !== null ? err : new Error(String(err))) as FastifyError
  const classified = classifyError(e)
  const code = classified.code
  const headers = { ...(classified.headers ?? {}) }
  const fields = classified.errors ?? []
  // Schema validation names where, never what: the request part in the diagnostics, the fields as expressions.
  const validation = Boolean(e.validation) && !(e instanceof AppError)
  const part = e.validationContext ?? 'body'
  const detail = validation
    ? `The request's ${part === 'querystring' ? 'search parameters' : part} are not valid`
    : classified.detail
  const expressions = fields.map((f) => (validation ? expressionOf(f.pointer) : f.pointer))
  const internal = code === 'INTERNAL'
  const entry = ERROR_CATALOGUE[code]
  const diagnostics = internal
    ? `${entry.title} (request ${requestId})`
    : detail && detail !== entry.title
      ? `${entry.title}: ${detail}`
      : entry.title
  return {
    status: entry.status,
    headers,
    internal,
    body: operationOutcome([
      {
        severity: 'error',
        code: entry.issue,
        diagnostics,
        ...(expressions.length ? { expression: expressions } : {}),
      },
    ]),
  }
}
