// The storage adapter's consume (ADR-0013): a code or refresh token is consumed once, atomically.
// oidc-provider checks `consumed` on the row it read and then consumes it, so of two requests that
// read the row at once, the adapter is what tells the second it is a replay: it is refused, and the
// whole grant goes, the grant itself included, so tokens the first saves afterwards find no grant.
// The same holds for what oidc-provider checks then saves: an interaction resumed, a device code
// confirmed or decided.
import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { after, before, describe, test } from 'node:test'
import type { AdapterPayload } from 'oidc-provider'
import { countingDatabase } from '../support/counting-db.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { oidcStorageId, type ProviderRequest } from '../../src/security/oauth-server/postgres-adapter.ts'
import { TEST_KEYRING } from '../support/config.ts'
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

  test('[SRS-OAUTH-537] a code or token saved under a grant that is gone or expired is refused invalid_grant and not stored', async () => {
    // The race's winner saves its new tokens after the loser revoked the grant.
    const grant = id('grant')
    const refresh = id('rt')
    await put('Grant', grant, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
    await put('RefreshToken', refresh, {
      grantId: grant,
      accountId: 'acct',
      clientId: 'app',
    } as AdapterPayload)
    const raced = await Promise.allSettled([
      adapter('RefreshToken').consume(refresh),
      adapter('RefreshToken').consume(refresh),
    ])
    assert.deepEqual(raced.map(errorOf).sort(), ['consumed', 'invalid_grant'])
    for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode']) {
      const token = id(model)
      await assert.rejects(
        put(model, token, { grantId: grant, accountId: 'acct', clientId: 'app' } as AdapterPayload),
        (err: { error?: string }) => err.error === 'invalid_grant',
        model,
      )
      assert.equal(await exists(model, token), false, `no ${model} outlives its grant`)
    }

    // A grant that expired is gone as well; one that lives takes the same token.
    const expired = id('grant')
    await adapter('Grant').upsert(expired, { accountId: 'acct', clientId: 'app' } as AdapterPayload, -1)
    const late = id('at')
    await assert.rejects(put('AccessToken', late, { grantId: expired, accountId: 'acct' } as AdapterPayload))
    const live = id('grant')
    await put('Grant', live, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
    await put('AccessToken', late, { grantId: live, accountId: 'acct' } as AdapterPayload)
    assert.equal(await exists('AccessToken', late), true)
  })

  test('[SRS-OAUTH-537] a grant destroyed while its tokens are being saved leaves none of them', async () => {
    // On PostgreSQL the two run at once on two connections, in every order the scheduler picks.
    for (let round = 0; round < 40; round++) {
      const grant = id('grant')
      await put('Grant', grant, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
      const tokens = [id('at'), id('at'), id('rt')]
      await Promise.allSettled([
        put('AccessToken', tokens[0] ?? '', { grantId: grant, accountId: 'acct' } as AdapterPayload),
        adapter('Grant').destroy(grant),
        put('AccessToken', tokens[1] ?? '', { grantId: grant, accountId: 'acct' } as AdapterPayload),
        put('RefreshToken', tokens[2] ?? '', { grantId: grant, accountId: 'acct' } as AdapterPayload),
      ])
      assert.equal(await exists('Grant', grant), false)
      for (const [i, token] of tokens.entries())
        assert.equal(
          await exists(i === 2 ? 'RefreshToken' : 'AccessToken', token),
          false,
          `round ${round}: ${token} survived its grant`,
        )
    }
  })

  test("[SRS-OAUTH-537] a grant's codes and tokens revoked by every model at once go with one statement; a later revocation runs its own", async () => {
    // oidc-provider revokes a grant by asking each model's adapter at once (lib/helpers/revoke.js).
    const { db: counted, log } = countingDatabase(storage.db)
    const revocations = () =>
      log.statements.filter((sql) => sql.startsWith('DELETE FROM oidc_payloads WHERE grant_id')).length
    const Adapter = storage.adapterOver(counted)
    const grant = id('grant')
    const other = id('grant')
    await put('Grant', grant, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
    await put('Grant', other, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
    const tokens = [
      ['AccessToken', id('at')],
      ['RefreshToken', id('rt')],
      ['AuthorizationCode', id('code')],
    ] as const
    for (const [model, token] of tokens)
      await put(model, token, { grantId: grant, accountId: 'acct' } as AdapterPayload)
    const untouched = id('at')
    await put('AccessToken', untouched, { grantId: other, accountId: 'acct' } as AdapterPayload)

    const models = [
      'AccessToken',
      'RefreshToken',
      'AuthorizationCode',
      'DeviceCode',
      'BackchannelAuthenticationRequest',
    ]
    await Promise.all(models.map((model) => new Adapter(model).revokeByGrantId(grant)))
    assert.equal(revocations(), 1, 'one DELETE for the five models')
    for (const [model, token] of tokens) assert.equal(await exists(model, token), false, model)
    assert.equal(await exists('AccessToken', untouched), true, "another grant's token is untouched")

    // A token saved under the grant afterwards is revoked by the next revocation, not skipped as a repeat.
    const later = id('at')
    await put('AccessToken', later, { grantId: grant, accountId: 'acct' } as AdapterPayload)
    await new Adapter('AccessToken').revokeByGrantId(grant)
    assert.equal(revocations(), 2)
    assert.equal(await exists('AccessToken', later), false)
  })

  test('[SRS-OAUTH-538] an interaction destroyed twice at once (its authorization resumed twice): one call goes on, the other is refused as the session not found', async () => {
    // oidc-provider resumes an authorization by finding its interaction, then destroying it.
    const uid = id('interaction')
    await put('Interaction', uid, {
      uid,
      kind: 'Interaction',
      params: { client_id: 'app' },
    } as AdapterPayload)
    const results = await Promise.allSettled([
      adapter('Interaction').destroy(uid),
      adapter('Interaction').destroy(uid),
    ])
    const outcome = (r: PromiseSettledResult<void>) =>
      r.status === 'fulfilled' ? 'resumed' : (r.reason as Error).name
    assert.deepEqual(results.map(outcome).sort(), ['SessionNotFound', 'resumed'])
    assert.equal(await exists('Interaction', uid), false)
    // Destroying any other model twice is not an error (a token revoked twice, a session logged out twice).
    const token = id('at')
    await put('AccessToken', token, { accountId: 'acct' } as AdapterPayload)
    await adapter('AccessToken').destroy(token)
    await adapter('AccessToken').destroy(token)
  })

  // A device code as oidc-provider saves it: created, then confirmed (inFlight), then decided.
  const created = { clientId: 'device', params: { scope: 'device-data:write' } } as AdapterPayload
  const confirmed = { ...created, inFlight: true } as AdapterPayload
  const refused = (err: { error?: string }) => err.error === 'invalid_request'
  const outcome = (r: PromiseSettledResult<void>) =>
    r.status === 'fulfilled' ? 'saved' : (r.reason as { error?: string }).error
  const stored = async (code: string) => (await adapter('DeviceCode').find(code)) as AdapterPayload

  test('[SRS-OAUTH-539] a device code moves forward once: of two confirmations, or two decisions, saved at once one is kept and the other refused, and nothing takes a decision back', async () => {
    // oidc-provider reads a device code, checks its stage, then saves it whole (RFC 8628's user code
    // form, then the device's authorization); two requests that read it at once both pass the check.
    // These saves are made outside any request (no browser session), as a confirmation by another browser.
    const grants = [id('grant'), id('grant')] as const
    for (const grant of grants)
      await put('Grant', grant, { accountId: 'acct', clientId: 'device' } as AdapterPayload)

    const code = id('dc')
    await put('DeviceCode', code, created)
    const confirmations = await Promise.allSettled([
      put('DeviceCode', code, confirmed),
      put('DeviceCode', code, confirmed),
    ])
    assert.deepEqual(confirmations.map(outcome).sort(), ['invalid_request', 'saved'])
    // An abort read while the code was pending, saved after the confirmation: refused.
    await assert.rejects(put('DeviceCode', code, { ...created, error: 'access_denied' }), refused)
    assert.equal((await stored(code)).error, undefined)

    // Two people approve at once, each under their own grant: one decision is kept, and it is the one stored.
    const decisions = await Promise.allSettled([
      put('DeviceCode', code, { ...confirmed, accountId: 'alice', grantId: grants[0] }),
      put('DeviceCode', code, { ...confirmed, accountId: 'bob', grantId: grants[1] }),
    ])
    assert.deepEqual(decisions.map(outcome).sort(), ['invalid_request', 'saved'])
    const kept = decisions[0].status === 'fulfilled' ? 'alice' : 'bob'
    assert.equal((await stored(code)).accountId, kept)
    // A failure recorded afterwards (oidc-provider's handler of a failed authorization): refused, the approval stands.
    await assert.rejects(put('DeviceCode', code, { ...confirmed, error: 'invalid_request' }), refused)
    assert.deepEqual([(await stored(code)).accountId, (await stored(code)).error], [kept, undefined])

    // An approval after a failure was recorded is refused too; an approval whose grant is gone is refused as before.
    const failed = id('dc')
    await put('DeviceCode', failed, confirmed)
    await put('DeviceCode', failed, { ...confirmed, error: 'access_denied' })
    await assert.rejects(
      put('DeviceCode', failed, { ...confirmed, accountId: 'alice', grantId: grants[0] }),
      refused,
    )
    assert.deepEqual(
      [(await stored(failed)).accountId, (await stored(failed)).error],
      [undefined, 'access_denied'],
    )
    const orphan = id('dc')
    await put('DeviceCode', orphan, confirmed)
    await assert.rejects(
      put('DeviceCode', orphan, { ...confirmed, accountId: 'alice', grantId: id('grant') }),
      (err: { error?: string }) => err.error === 'invalid_grant',
    )
  })

  test('[SRS-OAUTH-539] [SRS-OAUTH-538] the browser a device code is saved from counts: the one that confirmed it may confirm again, at once or later, and abort; another is refused; a request whose interaction another resumed saves none', async () => {
    // oidc-provider's request context, as the adapter reads it (Provider.ctx): here, a store of our own.
    const requests = new AsyncLocalStorage<ProviderRequest>()
    const Adapter = storage.adapterOver(storage.db, () => requests.getStore())
    const inBrowser = (session: string): ProviderRequest => ({ oidc: { session: { uid: session } } })
    const saveIn = (request: ProviderRequest, code: string, payload: AdapterPayload) =>
      requests.run(request, () => new Adapter('DeviceCode').upsert(code, payload, 3600))
    const lookUpIn = (request: ProviderRequest, userCode: string) =>
      requests.run(request, () => new Adapter('DeviceCode').findByUserCode(userCode))
    const [phone, other] = [id('session'), id('session')]
    const userCode = id('user-code')
    const code = id('dc')
    await put('DeviceCode', code, { ...created, userCode })

    // A double click: the browser drops the first response and shows the second's, so both go on.
    const clicks = await Promise.allSettled([
      saveIn(inBrowser(phone), code, { ...confirmed, userCode }),
      saveIn(inBrowser(phone), code, { ...confirmed, userCode }),
    ])
    assert.deepEqual(clicks.map(outcome), ['saved', 'saved'])
    // oidc-provider refuses a code in flight: the browser that confirmed it sees it not yet
    // confirmed, and may confirm it again (a sign-in abandoned and started over); no other browser may.
    assert.equal((await lookUpIn(inBrowser(phone), userCode))?.inFlight, undefined)
    assert.equal((await lookUpIn(inBrowser(other), userCode))?.inFlight, true)
    await saveIn(inBrowser(phone), code, { ...confirmed, userCode })
    await assert.rejects(
      saveIn(inBrowser(other), code, { ...confirmed, userCode }),
      refused,
      'another browser',
    )
    await assert.rejects(put('DeviceCode', code, confirmed), refused, 'no browser session')
    await assert.rejects(saveIn(inBrowser(other), code, { ...created, error: 'access_denied' }), refused)
    // The confirming browser may abort it; then it is decided, for that browser too.
    const aborted = id('dc')
    await put('DeviceCode', aborted, { ...created, userCode: `${userCode}-2` })
    await saveIn(inBrowser(phone), aborted, { ...confirmed, userCode: `${userCode}-2` })
    await saveIn(inBrowser(phone), aborted, { ...created, error: 'access_denied' })
    assert.equal((await lookUpIn(inBrowser(phone), `${userCode}-2`))?.error, 'access_denied')
    await assert.rejects(
      saveIn(inBrowser(phone), aborted, { ...confirmed, userCode: `${userCode}-2` }),
      refused,
    )

    // The sign-in's resume sent twice at once: the request that lost the interaction saves no device
    // code (oidc-provider would record its refusal as the code's error), and the other approves.
    const uid = id('interaction')
    await put('Interaction', uid, {
      uid,
      kind: 'Interaction',
      deviceCode: code,
      params: { client_id: 'device' },
    } as AdapterPayload)
    const resumes = [inBrowser(phone), inBrowser(phone)] as const
    const [first, second] = await Promise.allSettled(
      resumes.map((r) => requests.run(r, () => new Adapter('Interaction').destroy(uid))),
    )
    assert.deepEqual([first?.status, second?.status].sort(), ['fulfilled', 'rejected'])
    const [won, lost] = first?.status === 'fulfilled' ? resumes : [resumes[1], resumes[0]]
    await assert.rejects(
      saveIn(lost, code, { ...confirmed, error: 'invalid_request' }),
      (err: Error) => err.name === 'SessionNotFound',
    )
    const grant = id('grant')
    await put('Grant', grant, { accountId: 'alice', clientId: 'device' } as AdapterPayload)
    await saveIn(won, code, { ...confirmed, accountId: 'alice', grantId: grant })
    assert.deepEqual([(await stored(code)).accountId, (await stored(code)).error], ['alice', undefined])
  })

  test('[SRS-OAUTH-543] a browser session a request read is written back only while it is stored: a sign-out, or a new identifier, made meanwhile by another request stands', async () => {
    const requests = new AsyncLocalStorage<ProviderRequest>()
    const Adapter = storage.adapterOver(storage.db, () => requests.getStore())
    const inRequest = <T>(
      request: ProviderRequest,
      work: (sessions: InstanceType<typeof Adapter>) => Promise<T>,
    ) => requests.run(request, () => work(new Adapter('Session')))
    const session = (grantId: string) =>
      ({
        uid: 'browser-1',
        accountId: 'alice',
        authorizations: { app: { grantId } },
      }) as unknown as AdapterPayload
    const oldId = id('session')
    await put('Session', oldId, session('grant-before'))
    // Two requests of one browser read its session at their start.
    const [winner, loser] = [{}, {}] as ProviderRequest[]
    for (const request of [winner, loser] as ProviderRequest[])
      assert.ok(await inRequest(request, (a) => a.find(oldId)), 'the session is read')
    // One signs in again: the session gets a new identifier, with the new grant; the old row goes.
    const newId = id('session')
    await inRequest(winner as ProviderRequest, async (a) => {
      await a.upsert(newId, session('grant-after'), 3600)
      await a.destroy(oldId)
    })
    // The other ends (refused, say) and saves the session as it read it: nothing comes back.
    await inRequest(loser as ProviderRequest, (a) => a.upsert(oldId, session('grant-before'), 3600))
    assert.equal(await exists('Session', oldId), false, 'the old identifier stays gone')
    const byUid = await new (storage.adapterOver(storage.db))('Session').findByUid('browser-1')
    assert.deepEqual(byUid?.authorizations, { app: { grantId: 'grant-after' } }, 'found by uid: the new one')
    // Signed out (the row deleted) while a request that read it was under way: it stays signed out.
    const tab = {} as ProviderRequest
    assert.ok(await inRequest(tab, (a) => a.find(newId)))
    await adapter('Session').destroy(newId)
    await inRequest(tab, (a) => a.upsert(newId, session('grant-after'), 3600))
    assert.equal(await exists('Session', newId), false, 'the sign-out stands')
    // A session the request did not read (a new one) is written as before, and so is one still stored.
    const fresh = id('session')
    await inRequest(tab, (a) => a.upsert(fresh, session('grant-new'), 3600))
    assert.equal(await exists('Session', fresh), true)
    const kept = {} as ProviderRequest
    assert.ok(await inRequest(kept, (a) => a.find(fresh)))
    await inRequest(kept, (a) =>
      a.upsert(fresh, { ...session('grant-new'), accountId: 'alice-2' } as AdapterPayload, 3600),
    )
    assert.equal((await adapter('Session').find(fresh))?.accountId, 'alice-2')
  })

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

  test('[SRS-OAUTH-545] at the token endpoint a consumption is written with the tokens issued for it, when the request completes: a failed request writes neither; a replay found then is refused and revokes the grant', async () => {
    const requests = new AsyncLocalStorage<ProviderRequest>()
    const Adapter = storage.adapterOver(storage.db, () => requests.getStore())
    const consumed = async (model: string, value: string) =>
      (await new Adapter(model).find(value))?.consumed !== undefined
    /** One token request's grant: it consumes `source` and issues an access and a refresh token. */
    const redeem = (source: string, grant: string) => {
      const request: ProviderRequest = { oidc: { route: 'token' } }
      const [access, refresh] = [id('at'), id('rt')]
      const issued = requests.run(request, async () => {
        await new Adapter('RefreshToken').consume(source)
        await new Adapter('AccessToken').upsert(access, { grantId: grant, accountId: 'acct' }, 3600)
        await new Adapter('RefreshToken').upsert(refresh, { grantId: grant, accountId: 'acct' }, 3600)
      })
      return { request, issued, access, refresh }
    }
    /** A grant and a refresh token of it, stored. */
    const grantWithRefreshToken = async () => {
      const [grant, source] = [id('grant'), id('rt')]
      await put('Grant', grant, { accountId: 'acct', clientId: 'app' } as AdapterPayload)
      await put('RefreshToken', source, { grantId: grant, accountId: 'acct' } as AdapterPayload)
      return { grant, source }
    }
    const { grant, source } = await grantWithRefreshToken()

    // Until the request completes, nothing of it is written.
    const failed = redeem(source, grant)
    await failed.issued
    assert.equal(await consumed('RefreshToken', source), false, 'not consumed before the request completes')
    assert.equal(await exists('AccessToken', failed.access), false)
    // A request that failed (its response is not a token response) writes nothing.
    await Adapter.completeTokenRequest(failed.request, false)
    assert.equal(await consumed('RefreshToken', source), false, 'a failed request consumes nothing')
    assert.equal(await exists('AccessToken', failed.access), false)
    assert.equal(await exists('RefreshToken', failed.refresh), false)

    // Two requests redeeming the refresh token at once: one writes its consumption and its tokens;
    // the other is a replay, refused when it completes, and the grant goes with every token of it.
    const [one, two] = [redeem(source, grant), redeem(source, grant)]
    await Promise.all([one.issued, two.issued])
    const completed = await Promise.allSettled([
      Adapter.completeTokenRequest(one.request, true),
      Adapter.completeTokenRequest(two.request, true),
    ])
    assert.deepEqual(completed.map(errorOf).sort(), ['consumed', 'invalid_grant'])
    const loser = completed[0]?.status === 'rejected' ? one : two
    assert.equal(await exists('AccessToken', loser.access), false, "the replay's tokens are not written")
    assert.equal(await exists('Grant', grant), false, 'the replay revoked the grant')
    const winner = loser === one ? two : one
    assert.equal(await exists('AccessToken', winner.access), false, "and the first request's tokens with it")

    // A grant that expires before the request completes: refused, and nothing of the request written.
    const { grant: other, source: otherSource } = await grantWithRefreshToken()
    const late = redeem(otherSource, other)
    await late.issued
    await storage.db.query(
      "UPDATE oidc_payloads SET expires_at = now() - interval '1 second' WHERE model = 'Grant' AND id = $1",
      [oidcStorageId(createKeyring(TEST_KEYRING), other)],
    )
    await assert.rejects(
      Adapter.completeTokenRequest(late.request, true),
      (err: { error?: string; error_detail?: string }) =>
        err.error === 'invalid_grant' && err.error_detail === 'grant not found',
    )
    assert.equal(await exists('AccessToken', late.access), false)
    assert.equal(await consumed('RefreshToken', otherSource), false, 'its refresh token is not consumed')
  })
})
