// Logins, failures and locks leave audit entries of their own, tied to the HTTP request that
// caused them (request id, caller's address), naming the account but never the email or password.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from '../support/config.ts'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followUntilOutside,
  nativeAppMetadata,
  TEST_PASSWORD,
} from '../support/identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

interface Row {
  action: string
  actor_kind: string
  actor_id: string | null
  resource_type: string
  resource_id: string | null
  outcome: string
  ip: string | null
  request_id: string | null
}

describe('security events in the audit trail', () => {
  let s: OAuthTestServer
  let config: client.Configuration
  const appId = `app-${randomUUID()}`
  let patient: Awaited<ReturnType<typeof createTestUser>>

  before(async () => {
    s = await startOAuthTestServer()
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
    const org = await createAccountDirectory({
      db: s.db,
      keyring: createKeyring(TEST_KEYRING),
    }).users.createOrganisation(`Clinic ${randomUUID()}`)
    patient = await createTestUser(s.db, {
      email: `audited-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: org.id }],
    })
    config = await s.discover(appId, client.None())
  })
  after(() => s.close())

  async function attempt(email: string, password: string, requestId: string) {
    const jar = new CookieJar()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:40000/callback',
      scope: 'openid',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
      state: 's',
    })
    const first = await followUntilOutside(s.issuer, url.href, jar)
    const action = new URL(/action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '', s.issuer).toString()
    const res = await fetch(action, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: jar.header(),
        'content-type': 'application/x-www-form-urlencoded',
        'x-request-id': requestId,
      },
      body: new URLSearchParams({ email, password, csrf: csrfOf(first.page ?? '') }),
    })
    await res.arrayBuffer()
    return res.status
  }

  /** Entries are written as the events happen and the request's own after its response, each
   * committing on its own: wait (bounded) until the request's entry and the expected one are in. */
  const entriesFor = async (requestId: string, action: string) => {
    let rows: Row[] = []
    for (let i = 0; i < 100; i++) {
      ;({ rows } = await s.db.query<Row>(
        'SELECT action, actor_kind, actor_id, resource_type, resource_id, outcome, ip, request_id FROM audit_entries WHERE request_id = $1 ORDER BY occurred_at, seq',
        [requestId],
      ))
      if (
        rows.some((r) => r.action.startsWith('POST ')) &&
        rows.some((r) => r.action === action && r.resource_type === 'account')
      )
        return rows
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`no ${action} entry for ${requestId}: ${JSON.stringify(rows)}`)
  }

  test('[SRS-AUDIT-001][SRS-AUTH-005] a failed login leaves an entry naming the account, the caller and the request; never the email or password', async () => {
    const requestId = `failed-login-${randomUUID()}`
    assert.equal(await attempt(patient.email, 'not the right password', requestId), 401)
    const rows = await entriesFor(requestId, 'login.failed')
    const failed = rows.find((r) => r.action === 'login.failed' && r.resource_type === 'account')
    assert.ok(failed, JSON.stringify(rows))
    assert.equal(failed.resource_id, patient.id)
    assert.equal(failed.actor_kind, 'anonymous')
    assert.equal(failed.outcome, 'denied')
    assert.equal(failed.ip, '127.0.0.1')
    const { rows: all } = await s.db.query<{ row: string }>(
      'SELECT row_to_json(a)::text AS row FROM audit_entries a WHERE request_id = $1',
      [requestId],
    )
    for (const r of all) {
      assert.ok(!r.row.includes(patient.email), 'no email in the trail')
      assert.ok(!r.row.includes('not the right password'), 'no password in the trail')
    }
  })

  test('[SRS-AUDIT-001] a successful login leaves an entry with the user as actor', async () => {
    const requestId = `good-login-${randomUUID()}`
    assert.equal(await attempt(patient.email, TEST_PASSWORD, requestId), 303)
    const rows = await entriesFor(requestId, 'login.succeeded')
    const ok = rows.find((r) => r.action === 'login.succeeded' && r.resource_type === 'account')
    assert.ok(ok, JSON.stringify(rows))
    assert.equal(ok.actor_kind, 'user')
    assert.equal(ok.actor_id, patient.id)
    assert.equal(ok.outcome, 'success')
  })

  test('[SRS-AUDIT-001] an unknown email is recorded under an opaque key, never the address', async () => {
    const requestId = `unknown-login-${randomUUID()}`
    const email = `nobody-${randomUUID()}@demo.test`
    assert.equal(await attempt(email, 'whatever password', requestId), 401)
    const rows = await entriesFor(requestId, 'login.failed')
    const failed = rows.find((r) => r.action === 'login.failed' && r.resource_type === 'account')
    assert.ok(failed, JSON.stringify(rows))
    assert.ok(
      failed.resource_id && !failed.resource_id.includes(email) && !failed.resource_id.includes('nobody'),
    )
  })
})
