import assert from 'node:assert/strict'
import { test } from 'node:test'
import { API_CSP, PROTOCOL_CSP, withFormActionTarget } from './security-headers.ts'

test('[SRS-OAUTH-541] withFormActionTarget: one more form target, every other directive as it was', () => {
  const target = 'https://app.example'
  const widened = withFormActionTarget(PROTOCOL_CSP, target)
  const directives = (csp: string) => csp.split(';').map((d) => d.trim())
  assert.deepEqual(
    directives(widened),
    directives(PROTOCOL_CSP).map((d) => (d === "form-action 'self'" ? `form-action 'self' ${target}` : d)),
  )
  // Idempotent: asked twice (an error and its replacement both reported), the target is named once.
  assert.equal(withFormActionTarget(widened, target), widened)
  // 'none' cannot stand beside a source: the target replaces it.
  assert.match(withFormActionTarget(API_CSP, target), /(^|; )form-action https:\/\/app\.example(;|$)/)
  // A policy without form-action is left as it is.
  assert.equal(withFormActionTarget("default-src 'none'", target), "default-src 'none'")
})
