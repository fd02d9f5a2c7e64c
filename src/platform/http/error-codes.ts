// The catalogue of error codes (conventions C4; ADR-0004, ADR-0024): every code a client can
// receive, with its HTTP status, its title, the FHIR IssueType an OperationOutcome carries for it,
// and what it tells the client. problem+json (problem.ts) and OperationOutcome (src/fhir-format/outcome.ts)
// both render from this table, and docs/design/error-codes.md lists it (a test fails when the
// two differ). A published code keeps its status and issue type and is never renamed: clients
// branch on it. A new code must not tell a caller more than the caller may know (ADR-0024).

/** The entries of the FHIR R4 IssueType value set (http://hl7.org/fhir/issue-type) Vigil uses. */
export type FhirIssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'not-found'
  | 'not-supported'
  | 'conflict'
  | 'duplicate'
  | 'processing'
  | 'exception'
  | 'throttled'
  | 'too-long'
  | 'business-rule'
  | 'informational'
  | 'incomplete'

export interface ErrorCodeEntry {
  /** The HTTP status of problem+json and of the FHIR response. */
  readonly status: number
  /** problem+json `title`; the start of an OperationOutcome's diagnostics. */
  readonly title: string
  /** OperationOutcome.issue.code under /fhir/R4. */
  readonly issue: FhirIssueType
  /** What the code tells the client, and what it can do about it (listed in the docs). */
  readonly meaning: string
}

export const ERROR_CATALOGUE = {
  VALIDATION_FAILED: {
    status: 400,
    title: 'The request is not valid',
    issue: 'invalid',
    meaning:
      'A parameter, header, query or body field is missing, unknown, of the wrong type or out of range; `errors` names each place by JSON Pointer, never its value. Correct the request: sent again unchanged it fails again.',
  },
  MALFORMED_BODY: {
    status: 400,
    title: 'The request body could not be parsed',
    issue: 'structure',
    meaning:
      'The body is not valid JSON (or form data), is empty where a body is required, or does not match its Content-Length.',
  },
  UNAUTHENTICATED: {
    status: 401,
    title: 'Authentication is required',
    issue: 'login',
    meaning:
      'The operation needs a bearer access token and none was sent; `WWW-Authenticate` says which. Obtain a token and retry.',
  },
  INVALID_TOKEN: {
    status: 401,
    title: 'The access token is not valid',
    issue: 'login',
    meaning:
      'The token is expired, revoked, unknown, or issued for the other resource (an API token at /fhir/R4 or the reverse). Refresh it or obtain a new one.',
  },
  FORBIDDEN: {
    status: 403,
    title: 'The request is not permitted',
    issue: 'forbidden',
    meaning:
      'The caller is known, but its kind, roles or token scopes do not permit the action. Retrying does not help; a token with the scope, or a user with the role, is needed.',
  },
  INSUFFICIENT_SCOPE: {
    status: 403,
    title: 'The access token lacks a scope this operation needs',
    issue: 'forbidden',
    meaning:
      'The caller may perform the operation, but its token was not granted the scope for it (RFC 6750 §3.1): `scope` in the body and `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` name what to request. Obtain a token with that scope.',
  },
  SEGREGATION_OF_DUTIES: {
    status: 403,
    title: 'Refused: segregation of duties',
    issue: 'forbidden',
    meaning:
      'The grant would let its own author, or an administrator, reach health data without a second administrator: nobody grants themselves a role or care-team place that opens PHI, and such a grant to an admin-held account needs another admin (ADR-0008). A security event records the attempt.',
  },
  NOT_FOUND: {
    status: 404,
    title: 'The resource was not found',
    issue: 'not-found',
    meaning:
      'No such route or resource, or one the caller may not learn exists: a patient outside the caller\u2019s reach answers exactly like an unknown one.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    title: 'The method is not allowed on this resource',
    issue: 'not-supported',
    meaning:
      'The path exists, but not with this method. Reserved: no route raises it today (an unknown method and path answer NOT_FOUND).',
  },
  NOT_ACCEPTABLE: {
    status: 406,
    title: 'No acceptable representation',
    issue: 'not-supported',
    meaning: 'No representation matches what the request accepts. Reserved: no route raises it today.',
  },
  CONFLICT: {
    status: 409,
    title: 'The request conflicts with the current state',
    issue: 'conflict',
    meaning:
      'The change collides with what is stored: a duplicate name or id, a device already bound or not bound, a different reading already stored under the same key, a request with the same Idempotency-Key still in progress.',
  },
  BODY_TOO_LARGE: {
    status: 413,
    title: 'The request body is too large',
    issue: 'too-long',
    meaning:
      'The body is larger than the server accepts (`BODY_LIMIT_BYTES`, 1 MiB by default). Send less, for example a smaller batch.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'The request content type is not supported',
    issue: 'not-supported',
    meaning:
      'The Content-Type is not one the operation accepts (JSON for the API, `application/fhir+json` or JSON under /fhir/R4).',
  },
  UNPROCESSABLE: {
    status: 422,
    title: 'The request cannot be processed',
    issue: 'processing',
    meaning:
      'The request is well-formed but cannot be carried out as asked: an Idempotency-Key reused with a different body, a spent or expired one-time token, references that do not fit together.',
  },
  RATE_LIMITED: {
    status: 429,
    title: 'Too many requests',
    issue: 'throttled',
    meaning:
      'Too many requests from this address or device, or the device\u2019s daily quota is spent; `Retry-After` says how many seconds to wait.',
  },
  INTERNAL: {
    status: 500,
    title: 'Internal server error',
    issue: 'exception',
    meaning:
      'An unexpected error. The body says nothing of its cause, only the request id to quote to the operator.',
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    title: 'The service is not ready',
    issue: 'exception',
    meaning:
      'The instance cannot serve because a dependency (the database, Redis) is down. Retry later, after `Retry-After` when given.',
  },
} as const satisfies Record<string, ErrorCodeEntry>

export type ErrorCode = keyof typeof ERROR_CATALOGUE
