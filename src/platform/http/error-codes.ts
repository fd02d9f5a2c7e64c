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
      'The change collides with what is stored. The cases a client can act on have their own codes (the domain codes below, same status); CONFLICT remains for the others.',
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
      'The request is well-formed but cannot be carried out as asked, for example references that do not fit together. The cases a client can act on have their own codes (the domain codes below, same status).',
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
  // Domain codes (issue 14): a case of a generic code above that a client can act on differently.
  // Each keeps the generic code's status, so a client that knows only the status still reads it
  // right; its meaning names the code it refines.
  DEVICE_NOT_BOUND: {
    status: 409,
    title: 'The device is not bound to a patient',
    issue: 'business-rule',
    meaning:
      'Refines CONFLICT. The device sent readings but is bound to no patient, so they are not stored. Pair the device (a pairing code, or an administrator binds it), then send again: the readings are accepted once it is bound.',
  },
  DEVICE_BOUND_ELSEWHERE: {
    status: 409,
    title: 'The device is bound to another patient',
    issue: 'business-rule',
    meaning:
      'Refines CONFLICT. A device has one patient at a time: unbind it from its current patient first, then bind it again.',
  },
  DEVICE_ALREADY_REGISTERED: {
    status: 409,
    title: 'A device with this manufacturer, model and serial number is already registered',
    issue: 'duplicate',
    meaning:
      'Refines CONFLICT. The registry holds one device per manufacturer, model and serial number; nothing new is stored. Find the registered device (GET /api/v2/devices) and manage it.',
  },
  READING_ALREADY_STORED: {
    status: 409,
    title: 'A different reading is already stored under this key',
    issue: 'duplicate',
    meaning:
      'Refines CONFLICT (API v1). A different reading of this type at this time is already stored for the patient; the one sent is not stored. Sending the same reading again is not an error: it answers as the first time did.',
  },
  IDEMPOTENCY_KEY_IN_PROGRESS: {
    status: 409,
    title: 'A request with this Idempotency-Key is still in progress',
    issue: 'conflict',
    meaning:
      'Refines CONFLICT. Another request with the same Idempotency-Key has not finished. Retry the same request a moment later: it then answers as the first one did.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: 'This Idempotency-Key was used for a different request',
    issue: 'processing',
    meaning:
      'Refines UNPROCESSABLE. The key was already used with a different body or path; nothing is stored. Send a new request with a new key (a retry must repeat the first request byte for byte).',
  },
  EMAIL_TAKEN: {
    status: 409,
    title: 'An account with this email already exists',
    issue: 'duplicate',
    meaning:
      'Refines CONFLICT. Answered to an administrator creating or inviting an account whose address another account holds; invite or manage that account instead.',
  },
  ORGANISATION_NAME_TAKEN: {
    status: 409,
    title: 'An organisation with this name already exists',
    issue: 'duplicate',
    meaning: 'Refines CONFLICT. Organisation names are unique; choose another name.',
  },
  CLIENT_ID_TAKEN: {
    status: 409,
    title: 'A client with this id already exists',
    issue: 'duplicate',
    meaning:
      'Refines CONFLICT. An OAuth client (or a device\u2019s client) is already registered under this client id; register under another id, or rotate the existing client\u2019s secret.',
  },
  PATIENT_RECORD_EXISTS: {
    status: 409,
    title: 'The user already has a patient record',
    issue: 'duplicate',
    meaning: 'Refines CONFLICT. An account has at most one patient record; use the existing one.',
  },
  PATIENT_ROLE_MISSING: {
    status: 422,
    title: 'The user does not hold the patient role in this organisation',
    issue: 'business-rule',
    meaning:
      'Refines UNPROCESSABLE. A patient record for an account needs the account to hold the patient role in the record\u2019s organisation; grant the role first.',
  },
  SECOND_FACTOR_ALREADY_ENROLLED: {
    status: 409,
    title: 'A second factor is already enrolled',
    issue: 'business-rule',
    meaning:
      'Refines CONFLICT. The account already has an authenticator; it is replaced only after an administrator resets it.',
  },
  SECOND_FACTOR_NOT_ENROLLED: {
    status: 409,
    title: 'No second factor is enrolled',
    issue: 'business-rule',
    meaning: 'Refines CONFLICT. Recovery codes belong to an enrolled authenticator: enrol one first.',
  },
  CANNOT_DISABLE_SELF: {
    status: 409,
    title: 'You cannot disable your own account',
    issue: 'business-rule',
    meaning:
      'Refines CONFLICT. An administrator cannot lock themself out; another administrator disables the account.',
  },
  LINK_NOT_USABLE: {
    status: 422,
    title: 'The link is not valid, has been used or has expired',
    issue: 'processing',
    meaning:
      'Refines UNPROCESSABLE. A one-time e-mailed link (password reset, email verification) was used after its first use or its expiry, or never existed. Ask for a new link.',
  },
} as const satisfies Record<string, ErrorCodeEntry>

export type ErrorCode = keyof typeof ERROR_CATALOGUE
