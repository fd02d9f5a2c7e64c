// Issue 11 (the dump and log scan): after a realistic run — tokens issued through the real flows,
// a clinic administrator signing in with a password and a second factor, patients created and
// readings posted through the API, tokens refreshed and introspected — a dump of the database
// (the real pg_dump on PostgreSQL; every table's text on PGlite, which has no pg_dump) and the
// server's captured log (at debug level) contain none of the tokens, client secrets, passwords,
// second-factor secrets or PHI markers the run produced. Sits beside dump-plaintext.test.ts,
// which covers the seeded demo world and erasure.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import type { Database } from '../../src/platform/db/index.ts'
import { databaseText, secretsFoundIn } from '../support/db-text.ts'
import { createTestUser, signInThroughForms } from '../support/identity.ts'
import { pkceAuthorizationRequest, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { buildWorld, type World } from '../support/world.ts'

const run = promisify(execFile)

/** The whole database as someone holding a backup reads it. */
async function dump(db: Database): Promise<string> {
  if (!process.env.DATABASE_URL) return databaseText(db)
  const schema = (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string
  const { stdout } = await run(
    '/usr/bin/pg_dump',
    ['--dbname', process.env.DATABASE_URL, '--schema', schema, '--no-owner'],
    { maxBuffer: 512 * 1024 * 1024 },
  )
  assert.match(stdout, /PostgreSQL database dump/)
  return stdout
}

describe('a realistic run leaves no secret and no PHI in a dump or the log', () => {
  let s: OAuthTestServer
  let world: World
  const marker = randomBytes(5).toString('hex')
  const secrets: Record<string, string> = {}
  const phi: Record<string, string> = {}

  before(async () => {
    s = await startOAuthTestServer({ env: { LOG_LEVEL: 'debug' } })
    world = await buildWorld(s.app)
  })
  after(() => s.close())

  test('[SRS-CRYPTO-150] tokens, client secrets, passwords, TOTP secrets and PHI markers of the run appear in neither the dump nor the log', async () => {
    // A clinic administrator with a password and TOTP signs in through the pages with a console app.
    const password = `Orchard lantern ${marker} quietly`
    const admin = await createTestUser(s.db, {
      email: `org-admin-${marker}@demo.test`,
      roles: [{ role: 'org-admin', organisationId: world.orgA }],
      totp: true,
      password,
    })
    const appId = `console-${marker}`
    const redirectUri = 'http://127.0.0.1:49152/callback'
    await s.clients.upsert({
      clientId: appId,
      metadata: {
        client_id: appId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
        scope: 'openid offline_access admin:users account:read',
        first_party: true,
      },
    })
    const config = await s.discover(appId, client.None())
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid offline_access admin:users',
      prompt: 'consent',
    })
    const landed = await signInThroughForms(s.issuer, req.url.href, {
      email: admin.email,
      password,
      totpSecret: admin.totpSecret,
    })
    assert.ok(landed.url.startsWith(redirectUri), `signed in: ${landed.url}`)
    const callback = new URL(landed.url)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '')
    Object.assign(secrets, {
      password,
      'TOTP secret': admin.totpSecret ?? '',
      'authorization code': callback.searchParams.get('code') ?? '',
      'access token': tokens.access_token,
      'refresh token': tokens.refresh_token ?? '',
      'refreshed access token': refreshed.access_token,
      'refreshed refresh token': refreshed.refresh_token ?? '',
      'id token': tokens.id_token ?? '',
    })

    // The administrator creates patients with marked demographics.
    for (let i = 0; i < 2; i++) {
      const demographics = {
        name: { given: [`Given${marker}${i}`], family: `Family${marker}${i}` },
        birthDate: `19${40 + i}-0${3 + i}-1${i}`,
        gender: 'female',
        identifiers: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: `ID${marker}${i}` }],
      }
      const res = await fetch(`${s.issuer}/api/v2/organisations/${world.orgA}/patients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${refreshed.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ demographics }),
      })
      assert.equal(res.status, 201, await res.text())
      Object.assign(phi, {
        [`given name ${i}`]: `Given${marker}${i}`,
        [`family name ${i}`]: `Family${marker}${i}`,
        [`identifier ${i}`]: `ID${marker}${i}`,
      })
    }

    // The patient's bound device gets a token with its secret and posts readings.
    const device = world.devices.bound
    const deviceConfig = await s.discover(device.clientId, client.ClientSecretBasic(device.clientSecret))
    const deviceToken = await client.clientCredentialsGrant(deviceConfig, { scope: 'device-data:write' })
    const value = 97.4321
    const body = {
      readings: [
        {
          id: `r-${marker}`,
          code: '2339-0',
          value,
          unit: 'mg/dL',
          effectiveDateTime: new Date().toISOString(),
          sequence: 1,
        },
      ],
    }
    const posted = await fetch(`${s.issuer}/api/v2/device-data`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${deviceToken.access_token}`,
        'content-type': 'application/json',
        'idempotency-key': `key-${marker}`,
      },
      body: JSON.stringify(body),
    })
    assert.ok(posted.status === 201 || posted.status === 200, `${posted.status} ${await posted.text()}`)
    // A backend service introspects nothing but uses its secret; its token is live too.
    const service = world.services.orgA
    const serviceToken = await client.clientCredentialsGrant(
      await s.discover(service.clientId, client.ClientSecretBasic(service.clientSecret)),
      { scope: 'patients:read' },
    )
    assert.equal(
      (
        await fetch(`${s.issuer}/api/v2/patients`, {
          headers: { authorization: `Bearer ${serviceToken.access_token}` },
        })
      ).status,
      200,
    )
    Object.assign(secrets, {
      'device client secret': device.clientSecret,
      'device token': deviceToken.access_token,
      'service client secret': service.clientSecret,
      'service token': serviceToken.access_token,
    })

    // A failed sign-in with a mistyped password: the attempt is logged, the password is not.
    const mistyped = `Mistyped ${marker} password`
    await signInThroughForms(
      s.issuer,
      (await pkceAuthorizationRequest(config, { redirectUri, scope: 'openid' })).url.href,
      { email: admin.email, password: mistyped },
    ).catch(() => undefined)
    secrets['mistyped password'] = mistyped

    const text = await dump(s.db)
    assert.ok(text.includes(admin.email) || text.includes(marker), 'the dump is of the database the run used')
    assert.deepEqual(secretsFoundIn(text, secrets), [], 'no token, secret or password in the dump')
    assert.deepEqual(secretsFoundIn(text, phi), [], 'no PHI marker in the dump')
    assert.ok(!text.includes(String(value)), 'the reading value is not in the dump')

    const log = s.logs.text
    assert.ok(log.includes('"requestId"') && s.logs.lines.length > 20, 'the log captured the run')
    assert.deepEqual(secretsFoundIn(log, secrets), [], 'no token, secret or password in the log')
    assert.deepEqual(secretsFoundIn(log, phi), [], 'no PHI marker in the log')
  })
})
