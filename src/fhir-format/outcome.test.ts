// OperationOutcome from the error-code catalogue (ADR-0011, ADR-0024): under /fhir/R4 every
// AppError keeps its catalogue status and carries the catalogue's FHIR issue type; a 5xx names
// only the request id; a FhirError keeps the status and issue type it was raised with.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AppError, ERROR_CATALOGUE, type ErrorCode } from '../platform/http/errors.ts'
import { FhirError, renderError } from './outcome.ts'

test('[SRS-HTTP-451] OperationOutcome: every catalogue code renders with its status and FHIR issue type, the title first in the diagnostics', () => {
  for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
    const entry = ERROR_CATALOGUE[code]
    const rendered = renderError(new AppError(code, 'what happened, in words'), 'req-7')
    assert.equal(rendered.status, entry.status, code)
    assert.equal(rendered.body.resourceType, 'OperationOutcome')
    assert.equal(rendered.body.issue.length, 1)
    const [issue] = rendered.body.issue
    assert.equal(issue?.severity, 'error')
    assert.equal(issue?.code, entry.issue, code)
    if (code === 'INTERNAL') {
      assert.equal(rendered.internal, true)
      assert.equal(issue?.diagnostics, `${entry.title} (request req-7)`, 'a 5xx says nothing of its cause')
    } else {
      assert.equal(issue?.diagnostics, `${entry.title}: what happened, in words`, code)
    }
  }
})

test('[SRS-HTTP-451] OperationOutcome: an unexpected error is INTERNAL and tells nothing; headers of an AppError are kept; a FhirError keeps its own status and issue', () => {
  const crash = renderError(new Error('connection string postgres://user:secret@db'), 'req-8')
  assert.equal(crash.status, 500)
  assert.equal(crash.body.issue[0]?.code, 'exception')
  assert.ok(!JSON.stringify(crash.body).includes('secret'))

  const limited = renderError(
    new AppError('RATE_LIMITED', undefined, { headers: { 'retry-after': '7' } }),
    'req-9',
  )
  assert.equal(limited.status, 429)
  assert.deepEqual(limited.headers, { 'retry-after': '7' })
  assert.equal(limited.body.issue[0]?.code, 'throttled')

  const stale = renderError(
    new FhirError(412, 'conflict', 'the patient has changed since that version (If-Match)'),
    'req-10',
  )
  assert.equal(stale.status, 412)
  assert.equal(stale.body.issue[0]?.code, 'conflict')
})
