// revokeAllForAccount on the real database of the run: the rows oidc-provider keeps for one
// account (written through our storage adapter, as oidc-provider writes them) go; other accounts'
// rows, client-credentials tokens and the session asked to be kept stay.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { revokeAllForAccount } from '../../src/security/oauth-server/revoke-account.ts'
import { oidcStorage } from '../support/oidc-storage.ts'

describe('revoking everything the authorization server holds for an account', () => {
  const storage = oidcStorage()
  const { id, put, exists } = storage
  before(() => storage.open())
  after(() => storage.close())

  /** One account's state: two sessions, a grant with its tokens, a device code, interactions in flight, a pending login. */
  async function seed(accountId: string) {
    const rows = {
      session: id('sess'),
      sessionUid: id('u'),
      otherSession: id('sess'),
      grant: id('grant'),
      access: id('at'),
      refresh: id('rt'),
      code: id('code'),
      device: id('dc'),
      // A token of the grant whose payload names no account: found through its grant id.
      grantOnly: id('at'),
      interactionSession: id('int'),
      interactionResult: id('int'),
      pendingLogin: id('uid'),
    }
    await put('Session', rows.session, { accountId, uid: rows.sessionUid, jti: rows.session })
    await put('Session', rows.otherSession, { accountId, uid: id('u'), jti: rows.otherSession })
    await put('Grant', rows.grant, { accountId, clientId: 'app' })
    await put('AccessToken', rows.access, { accountId, grantId: rows.grant, clientId: 'app' })
    await put('RefreshToken', rows.refresh, { accountId, grantId: rows.grant, clientId: 'app' })
    await put('AuthorizationCode', rows.code, { accountId, grantId: rows.grant, clientId: 'app' })
    await put('DeviceCode', rows.device, { accountId, clientId: 'app', userCode: id('UC') })
    await put('AccessToken', rows.grantOnly, { grantId: rows.grant, clientId: 'app' })
    await put('Interaction', rows.interactionSession, {
      uid: rows.interactionSession,
      session: { accountId, uid: id('u') },
    })
    await put('Interaction', rows.interactionResult, {
      uid: rows.interactionResult,
      result: { login: { accountId } },
    })
    await storage.db.query(
      "INSERT INTO pending_logins (interaction_uid, account_id, next_step, expires_at) VALUES ($1, $2, 'verify-totp', now() + interval '10 minutes')",
      [rows.pendingLogin, accountId],
    )
    return rows
  }

  test("[SRS-AUTH-007] revokeAllForAccount deletes the account's sessions, grants, codes, tokens, interactions and pending logins — and nothing of anyone else", async () => {
    const alice = randomUUID()
    const bob = randomUUID()
    const a = await seed(alice)
    const b = await seed(bob)
    const machineToken = id('cc')
    await put('ClientCredentials', machineToken, { clientId: 'device-1' })

    const removed = await revokeAllForAccount(storage.db, alice)
    assert.equal(removed, 10)
    for (const [model, rowId] of [
      ['Session', a.session],
      ['Session', a.otherSession],
      ['Grant', a.grant],
      ['AccessToken', a.access],
      ['RefreshToken', a.refresh],
      ['AuthorizationCode', a.code],
      ['DeviceCode', a.device],
      ['AccessToken', a.grantOnly],
      ['Interaction', a.interactionSession],
      ['Interaction', a.interactionResult],
    ] as const) {
      assert.equal(await exists(model, rowId), false, `${model} ${rowId} is gone`)
    }
    const pending = await storage.db.query('SELECT 1 FROM pending_logins WHERE account_id = $1', [alice])
    assert.equal(pending.rows.length, 0)

    assert.equal(await exists('Session', b.session), true)
    assert.equal(await exists('Grant', b.grant), true)
    assert.equal(await exists('RefreshToken', b.refresh), true)
    assert.equal(await exists('AccessToken', b.grantOnly), true)
    assert.equal(await exists('Interaction', b.interactionResult), true)
    assert.equal(
      (await storage.db.query('SELECT 1 FROM pending_logins WHERE account_id = $1', [bob])).rows.length,
      1,
    )
    assert.equal(await exists('ClientCredentials', machineToken), true)
  })

  test('[SRS-AUTH-007] revokeAllForAccount keeps the one session it is told to keep, and still ends its grants', async () => {
    const carol = randomUUID()
    const c = await seed(carol)
    await revokeAllForAccount(storage.db, carol, { keepSessionUid: c.sessionUid })
    assert.equal(await exists('Session', c.session), true, 'the kept session')
    assert.equal(await exists('Session', c.otherSession), false)
    assert.equal(await exists('Grant', c.grant), false)
    assert.equal(await exists('RefreshToken', c.refresh), false)
    assert.equal(
      await revokeAllForAccount(storage.db, carol, { keepSessionUid: c.sessionUid }),
      0,
      'nothing left but the kept session',
    )
  })
})
