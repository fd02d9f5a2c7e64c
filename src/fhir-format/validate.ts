// Incoming resources: the R4 JSON schema first (structure, types, closed elements), then the
// rules of our profiles, applied by each route adapter. Errors are 400 OperationOutcomes whose
// expressions name the element, never its value.

import { FhirError } from './outcome.ts'
import { validateAgainstR4Schema } from './schema-validation.ts'

/** Checks `body` against the R4 schema; the caller names the profile type `T` the checked body is read as. */
export function assertValidResource<T = unknown>(body: unknown, expectedType: string): asserts body is T {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new FhirError(400, 'structure', `the body must be a ${expectedType} resource`)
  const type = (body as { resourceType?: unknown }).resourceType
  if (type !== expectedType)
    throw new FhirError(400, 'invalid', `resourceType must be ${expectedType}`, ['resourceType'])
  const issues = validateAgainstR4Schema(body)
  if (issues.length > 0) {
    throw new FhirError(
      400,
      'structure',
      `the ${expectedType} does not conform to FHIR R4: ${issues
        .slice(0, 5)
        .map((i) => `${i.expression} ${i.message}`)
        .join('; ')}`,
      issues.map((i) => i.expression),
    )
  }
}
