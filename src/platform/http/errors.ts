// The error type every layer throws, over the one catalogue of codes (error-codes.ts; conventions
// C4). Each code has a stable problem `type` URI, an HTTP status and a title; the error handler
// turns an AppError into application/problem+json (RFC 9457). Codes are never renamed: clients
// branch on them.

import { ERROR_CATALOGUE, type ErrorCode } from './error-codes.ts'

// The codes themselves, with status, title, FHIR issue type and meaning, are in error-codes.ts.
export { ERROR_CATALOGUE, type ErrorCode, type ErrorCodeEntry, type FhirIssueType } from './error-codes.ts'

export const PROBLEM_TYPE_BASE = 'urn:vigil:problem:'

export interface ProblemFieldError {
  /** JSON Pointer (RFC 6901) into the request part, prefixed by the part: /body/readings/3/value */
  readonly pointer: string
  readonly detail: string
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly errors: readonly ProblemFieldError[] | undefined
  readonly headers: Readonly<Record<string, string>>
  /** INSUFFICIENT_SCOPE: the scope the operation needs (RFC 6750 §3.1), carried in the body too. */
  readonly scope: string | undefined

  constructor(
    code: ErrorCode,
    detail?: string,
    options: {
      errors?: readonly ProblemFieldError[]
      headers?: Record<string, string>
      cause?: unknown
      scope?: string
    } = {},
  ) {
    super(detail ?? ERROR_CATALOGUE[code].title, { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.status = ERROR_CATALOGUE[code].status
    this.errors = options.errors
    this.headers = options.headers ?? {}
    this.scope = options.scope
  }
}

export function problemType(code: ErrorCode): string {
  return PROBLEM_TYPE_BASE + code.toLowerCase().replaceAll('_', '-')
}
