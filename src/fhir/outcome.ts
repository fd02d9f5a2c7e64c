// OperationOutcome: the one shape every error of the FHIR API leaves in (R4 §3.1.0.5), and the
// mapping of the service's errors (AppError, Fastify's validation and body errors) onto it. Like
// problem+json, a 5xx names only the request id; a 4xx never echoes a submitted value.

import type { FastifyError } from 'fastify'
import { AppError, ERROR_CATALOGUE, type ErrorCode } from '../platform/http/errors.ts'

export const FHIR_JSON = 'application/fhir+json; charset=utf-8'

/** The IssueType value set (http://hl7.org/fhir/issue-type) entries we use. */
export type IssueCode = 'invalid' | 'structure' | 'required' | 'value' | 'security' | 'login' | 'forbidden' | 'not-found' | 'not-supported' | 'conflict' | 'duplicate' | 'processing' | 'exception' | 'throttled' | 'too-long' | 'business-rule' | 'informational' | 'incomplete'

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
  return { resourceType: 'OperationOutcome', issue: issues.map((i) => ({ ...i, ...(i.expression ? { expression: [...i.expression] } : {}) })) }
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

const ISSUE_OF: Partial<Record<ErrorCode, IssueCode>> = {
  VALIDATION_FAILED: 'invalid',
  MALFORMED_BODY: 'structure',
  UNAUTHENTICATED: 'login',
  INVALID_TOKEN: 'login',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not-found',
  METHOD_NOT_ALLOWED: 'not-supported',
  NOT_ACCEPTABLE: 'not-supported',
  CONFLICT: 'conflict',
  BODY_TOO_LARGE: 'too-long',
  UNSUPPORTED_MEDIA_TYPE: 'not-supported',
  UNPROCESSABLE: 'processing',
  RATE_LIMITED: 'throttled',
  SERVICE_UNAVAILABLE: 'exception',
  INTERNAL: 'exception',
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_BODY',
}

interface AjvError {
  instancePath?: string
  keyword?: string
  message?: string
  params?: Record<string, unknown>
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
    return { status: err.status, headers: { ...err.headers }, internal: false, body: operationOutcome([{ severity: 'error', code: err.issueCode, diagnostics: err.message, ...(err.expressions.length ? { expression: err.expressions } : {}) }]) }
  }
  let code: ErrorCode = 'INTERNAL'
  let detail: string | undefined
  let expressions: string[] = []
  let headers: Record<string, string> = {}
  const e = err as FastifyError & { validation?: AjvError[]; validationContext?: string }
  if (err instanceof AppError) {
    code = err.code
    detail = err.message
    headers = { ...err.headers }
    expressions = (err.errors ?? []).map((f) => f.pointer)
  } else if (e?.validation) {
    code = 'VALIDATION_FAILED'
    const part = e.validationContext ?? 'body'
    expressions = e.validation.slice(0, 20).map((v) => {
      const base = `${part}${(v.instancePath ?? '').replaceAll('/', '.')}`
      return v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string' ? `${base}.${v.params.additionalProperty}` : base
    })
    detail = `The request's ${part === 'querystring' ? 'search parameters' : part} are not valid`
  } else if (e?.code && FASTIFY_CODES[e.code]) {
    code = FASTIFY_CODES[e.code] as ErrorCode
  } else if (e instanceof SyntaxError && e.statusCode === 400) {
    code = 'MALFORMED_BODY'
  } else if (e?.statusCode === 429) {
    code = 'RATE_LIMITED'
    detail = ERROR_CATALOGUE.RATE_LIMITED.title
  } else if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    code = e.statusCode === 404 ? 'NOT_FOUND' : e.statusCode === 413 ? 'BODY_TOO_LARGE' : e.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'VALIDATION_FAILED'
  }
  const internal = code === 'INTERNAL'
  const entry = ERROR_CATALOGUE[code]
  const diagnostics = internal ? `${entry.title} (request ${requestId})` : detail && detail !== entry.title ? `${entry.title}: ${detail}` : entry.title
  return {
    status: entry.status,
    headers,
    internal,
    body: operationOutcome([{ severity: 'error', code: ISSUE_OF[code] ?? 'exception', diagnostics, ...(expressions.length ? { expression: expressions } : {}) }]),
  }
}
