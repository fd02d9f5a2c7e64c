// The error-code catalogue (ADR-0004, ADR-0024): one table gives every code its HTTP status,
// title, problem type and FHIR issue type; problem+json renders from it; the published codes keep
// their status and issue type; docs/design/error-codes.md lists it row for row.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ERROR_CATALOGUE, type ErrorCode } from './error-codes.ts'
import { AppError, PROBLEM_TYPE_BASE, problemType } from './errors.ts'
import { buildProblem } from './problem.ts'

const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[]

/** The FHIR R4 IssueType value set (http://hl7.org/fhir/R4/valueset-issue-type.html). */
const FHIR_ISSUE_TYPES = new Set([
  'invalid',
  'structure',
  'required',
  'value',
  'invariant',
  'security',
  'login',
  'unknown',
  'expired',
  'forbidden',
  'suppressed',
  'processing',
  'not-supported',
  'duplicate',
  'multiple-matches',
  'not-found',
  'deleted',
  'too-long',
  'code-invalid',
  'extension',
  'too-costly',
  'business-rule',
  'conflict',
  'transient',
  'lock-error',
  'no-store',
  'exception',
  'timeout',
  'incomplete',
  'throttled',
  'informational',
])

test('[SRS-HTTP-451] error codes: every code is UPPER_SNAKE with an error status, a title, a FHIR issue type and a meaning, and a problem type of its own', () => {
  assert.ok(CODES.length >= 15)
  const types = new Set<string>()
  for (const code of CODES) {
    const entry = ERROR_CATALOGUE[code]
    assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code)
    assert.ok(
      Number.isInteger(entry.status) && entry.status >= 400 && entry.status <= 599,
      `${code}: ${entry.status}`,
    )
    assert.ok(entry.title.length > 0 && !entry.title.endsWith('.'), `${code}: a title is a short phrase`)
    assert.ok(
      FHIR_ISSUE_TYPES.has(entry.issue),
      `${code}: ${entry.issue} is not in the FHIR IssueType value set`,
    )
    assert.ok(entry.meaning.length > 20, `${code}: the meaning tells the client what happened`)
    const type = problemType(code)
    assert.equal(type, `${PROBLEM_TYPE_BASE}${code.toLowerCase().replaceAll('_', '-')}`)
    assert.ok(!types.has(type), `${code}: problem type ${type} is taken`)
    types.add(type)
    if (entry.status >= 500)
      assert.equal(entry.issue, 'exception', `${code}: a server error is an exception in FHIR`)
  }
})

test('[SRS-HTTP-451] error codes: published codes keep their status and FHIR issue type (clients branch on them)', () => {
  const published: Record<string, [number, string]> = {
    VALIDATION_FAILED: [400, 'invalid'],
    MALFORMED_BODY: [400, 'structure'],
    UNAUTHENTICATED: [401, 'login'],
    INVALID_TOKEN: [401, 'login'],
    FORBIDDEN: [403, 'forbidden'],
    NOT_FOUND: [404, 'not-found'],
    METHOD_NOT_ALLOWED: [405, 'not-supported'],
    NOT_ACCEPTABLE: [406, 'not-supported'],
    CONFLICT: [409, 'conflict'],
    BODY_TOO_LARGE: [413, 'too-long'],
    UNSUPPORTED_MEDIA_TYPE: [415, 'not-supported'],
    UNPROCESSABLE: [422, 'processing'],
    RATE_LIMITED: [429, 'throttled'],
    INTERNAL: [500, 'exception'],
    SERVICE_UNAVAILABLE: [503, 'exception'],
    // Domain codes (wave 7, SRS-HTTP-452)
    DEVICE_NOT_BOUND: [409, 'business-rule'],
    DEVICE_BOUND_ELSEWHERE: [409, 'business-rule'],
    DEVICE_ALREADY_REGISTERED: [409, 'duplicate'],
    READING_ALREADY_STORED: [409, 'duplicate'],
    IDEMPOTENCY_KEY_IN_PROGRESS: [409, 'conflict'],
    IDEMPOTENCY_KEY_REUSED: [422, 'processing'],
    EMAIL_TAKEN: [409, 'duplicate'],
    ORGANISATION_NAME_TAKEN: [409, 'duplicate'],
    CLIENT_ID_TAKEN: [409, 'duplicate'],
    PATIENT_RECORD_EXISTS: [409, 'duplicate'],
    PATIENT_ROLE_MISSING: [422, 'business-rule'],
    SECOND_FACTOR_ALREADY_ENROLLED: [409, 'business-rule'],
    SECOND_FACTOR_NOT_ENROLLED: [409, 'business-rule'],
    CANNOT_DISABLE_SELF: [409, 'business-rule'],
    LINK_NOT_USABLE: [422, 'processing'],
  }
  for (const [code, [status, issue]] of Object.entries(published)) {
    const entry = (ERROR_CATALOGUE as Record<string, { status: number; issue: string }>)[code]
    assert.ok(entry, `${code} was published and must not disappear or be renamed`)
    assert.deepEqual([entry.status, entry.issue], [status, issue], code)
  }
})

test('[SRS-HTTP-451] error codes: problem+json and AppError take status, type and title from the catalogue', () => {
  for (const code of CODES) {
    const entry = ERROR_CATALOGUE[code]
    const error = new AppError(code)
    assert.equal(error.status, entry.status, code)
    assert.equal(error.message, entry.title, code)
    const problem = buildProblem(code, 'req-1', 'what happened, in words')
    assert.deepEqual(
      {
        type: problem.type,
        title: problem.title,
        status: problem.status,
        code: problem.code,
        detail: problem.detail,
      },
      {
        type: problemType(code),
        title: entry.title,
        status: entry.status,
        code,
        detail: 'what happened, in words',
      },
    )
    assert.equal(
      buildProblem(code, 'req-1', entry.title).detail,
      undefined,
      `${code}: a detail equal to the title is left out`,
    )
  }
})

/** A catalogue row as docs/design/error-codes.md writes it. */
const docRow = (code: ErrorCode): string => {
  const e = ERROR_CATALOGUE[code]
  return `| \`${code}\` | ${e.status} | \`${problemType(code)}\` | \`${e.issue}\` | ${e.title} | ${e.meaning.replaceAll('|', '\\|')} |`
}

test('[SRS-HTTP-451] error codes: docs/design/error-codes.md lists the catalogue row for row', () => {
  const doc = readFileSync(new URL('../../../docs/design/error-codes.md', import.meta.url), 'utf8')
  const rows = doc.split('\n').filter((line) => /^\| `[A-Z0-9_]+` \|/.test(line))
  const expected = CODES.map(docRow)
  assert.deepEqual(
    rows,
    expected,
    `docs/design/error-codes.md is out of date; its table rows should be:\n${expected.join('\n')}`,
  )
})

test('[SRS-HTTP-452] domain codes: each refines a generic published code, keeps its status, says so in its meaning, and none stands for a 404 (what a caller may not know stays NOT_FOUND)', () => {
  const generic = new Set(['CONFLICT', 'UNPROCESSABLE'])
  const domain = CODES.filter((code) => /^Refines [A-Z_]+\./.test(ERROR_CATALOGUE[code].meaning))
  assert.ok(domain.length >= 10, `domain codes: ${domain.join(', ')}`)
  for (const code of domain) {
    const refined = /^Refines ([A-Z_]+)\./.exec(ERROR_CATALOGUE[code].meaning)?.[1] as ErrorCode
    assert.ok(generic.has(refined), `${code} refines ${refined}`)
    assert.equal(ERROR_CATALOGUE[code].status, ERROR_CATALOGUE[refined].status, code)
    assert.notEqual(ERROR_CATALOGUE[code].status, 404, code)
  }
})
