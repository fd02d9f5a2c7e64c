// A route's `config.policy` is typed as the policy's Action union (ADR-0030): a misspelt or unknown
// action is a compile error (`npm run typecheck`, in CI), not a route that start-up refuses later.
// The @ts-expect-error lines fail the typecheck the day an unknown action compiles again.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyContextConfig } from 'fastify'
import { ACTIONS, type Action } from './rules.ts'
import { assertRouteAccess } from './route-access.ts'

test('[SRS-ARCH-600] a route policy is an Action: every action of the policy compiles and registers; a misspelt one does not compile', () => {
  for (const action of Object.keys(ACTIONS) as Action[]) {
    const config: FastifyContextConfig = { policy: action }
    assert.equal(assertRouteAccess({ method: 'GET', url: '/x', config }), 'policy')
  }
  // @ts-expect-error 'device.manage' is not an action of the policy ('devices.manage' is)
  const typo: FastifyContextConfig = { policy: 'device.manage' }
  // @ts-expect-error a policy is one action, not any string
  const anyString: FastifyContextConfig = { policy: String('devices.manage') }
  assert.ok(typo && anyString)
})
