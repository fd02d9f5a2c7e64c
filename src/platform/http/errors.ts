// The one catalogue of error codes (STYLE §4). Each code has a stable problem `type` URI, an
// HTTP status and a title; the error handler turns an AppError into application/problem+json
// (RFC 9457). Codes are never renamed: clients branch on them.

export const PROBLEM_TYPE_BASE = 'urn:vigil:problem:'

export const ERROR_CATALOGUE = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  MALFORMED_BODY: { status: 400, title: 'The request body could not be parsed' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  INVALID_TOKEN: { status: 401, title: 'The access token is not valid' },
  FORBIDDEN: { status: 403, title: 'The request is not permitted' },
  INSUFFICIENT_SCOPE: { status: 403, title: 'The access token lacks a scope this operation needs' },
  NOT_FOUND: { status: 404, title: 'The resource was not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'The method is not allowed on this resource' },
  NOT_ACCEPTABLE: { status: 406, title: 'No acceptable representation' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request content type is not supported' },
  UNPROCESSABLE: { status: 422, title: 'The request cannot be processed' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'The service is not ready' },
} as const satisfies Record<string, { status: number; title: string }>

export type ErrorCode = keyof typeof ERROR_CATALOGUE

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
    options: { errors?: readonly ProblemFieldError[]; headers?: Record<string, string>; cause?: unknown; scope?: string } = {},
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
