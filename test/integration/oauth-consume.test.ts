// The storage adapter's consume (ADR-0013): a code or refresh token is consumed once, atomically.
// oidc-provider checks `consumed` on the row it read and then consumes it, so of two requests that
// read the row at once, the adapter is what tells the second it is a replay: it is refused, and the
// whole grant goes, the grant itself included, so tokens the first saves afterwards find no grant.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { AdapterPayload } from 'oidc-provider'
import { oidcStorage } from '../support/oidc-storage.ts'

describe('consuming a code or refresh token', () => {
  const storage = oidcStorage()
  const { id, put, exists, adapter } = storage
  before(() => storage.open())
  after(() => storage.close())
  const errorOf = (r: PromiseSettledResult<void>) =>
    r.status === 'rejected' ? (r.reason as { error?: string }).error : 'consumed'

  for (const [model, refusal] of [
    ['RefreshToken', 'invalid_grant'],
    ['AuthorizationCode', 'invalid_grant'],
    ['DeviceCode', 'invalid_grant'],
  ] as const) {
    test(`[SRS-OAUTH-536] a ${model} consumed twice at once: one consumes it, the other is refused ${refusal} and its grant is revoked, the grant itself included`, async () => {
      const grant = id('grant')
      const source = id('src')
      const access = id('at')
      const otherGrant = id('grant')
      const otherToken = id('at')
      await put('Grant', grant, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
      await put(model, source, { grantId: grant, accountId: 'acct', clientId: 'app' } as AdapterPayload)
      await put('AccessToken', access, { grantId: grant, accountId: 'acct' } as AdapterPayload)
      await put('Grant', otherGrant, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
      await put('AccessToken', otherToken, { grantId: otherGrant, accountId: 'acct' } as AdapterPayload)

      const results = await Promise.allSettled([
        adapter(model).consume(source),
        adapter(model).consume(source),
      ])
      assert.deepEqual(results.map(errorOf).sort(), ['consumed', refusal])
      assert.equal(await exists('Grant', grant), false, 'the grant is revoked')
      assert.equal(await exists('AccessToken', access), false, "the grant's tokens are revoked")
      assert.equal(await exists(model, source), false)
      assert.equal(await exists('Grant', otherGrant), true, 'another grant is untouched')
      assert.equal(await exists('AccessToken', otherToken), true)
      // Consumed again later (a replay after the race): still refused.
      await assert.rejects(adapter(model).consume(source), (err: { error?: string }) => err.error === refusal)
    })
  }

  test('[SRS-OAUTH-536] a pushed authorization request used twice at once: the second is invalid_request_uri, and nothing else is touched', async () => {
    const par = id('par')
    const grant = id('grant')
    await put('PushedAuthorizationRequest', par, { clientId: 'app' } as AdapterPayload)
    await put('Grant', grant, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
    const results = await Promise.allSettled([
      adapter('PushedAuthorizationRequest').consume(par),
      adapter('PushedAuthorizationRequest').consume(par),
    ])
    assert.deepEqual(results.map(errorOf).sort(), ['consumed', 'invalid_request_uri'])
    assert.equal(await exists('Grant', grant), true)
  })
})
