// The web console in Chromium (issue 15): when the session's tokens end, the console goes back
// through sign-in and returns to the page the user was on, leaving nothing in the URL or storage;
// Sign out ends the session.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: an expired session', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 1, signIn: ['clinician', 'patient'] })
  })
  after(async () => w?.close())

  test('[SRS-UI-402] an expired session goes back through sign-in and returns to the page the user was on', async () => {
    const c = await w.open(w.users.clinician, { path: `/console/patients/${w.patientId}` })
    const { page } = c
    await page.getByRole('heading', { name: `Grace Hopper${w.tag}` }).waitFor({ timeout: 30_000 })
    assert.equal(
      new URL(page.url()).pathname,
      `/console/patients/${w.patientId}`,
      'the deep link survives sign-in',
    )
    // The page's own loads finish first, so the call the click makes is the first one refused
    // (a load still on the wire would leave for sign-in before the click).
    await page.waitForLoadState('networkidle')
    const before = c.requests.length
    // The session's tokens end (as at expiry or revocation): the next call is refused.
    await w.s.db.query(
      `DELETE FROM oidc_payloads WHERE model IN ('AccessToken', 'RefreshToken') AND payload->>'accountId' = $1`,
      [w.users.clinician.id],
    )
    // A click, not check(): check() reads the radio again after the click, while the page is
    // leaving for sign-in.
    const back = page.waitForRequest((r) => new URL(r.url()).pathname === '/console/callback', {
      timeout: 30_000,
    })
    await page.getByLabel('2 weeks').click()
    await back
    await page.getByRole('heading', { name: `Grace Hopper${w.tag}` }).waitFor({ timeout: 30_000 })
    const after = c.requests.slice(before).map((u) => new URL(u).pathname)
    assert.ok(after.includes('/oauth/authorize'), 'the refused call sends the user back through sign-in')
    assert.equal(new URL(page.url()).pathname, `/console/patients/${w.patientId}`)
    assert.equal(new URL(page.url()).search, '', 'no code, state or anything else left in the address bar')
    const stored = await page.evaluate(
      '({ local: window.localStorage.length, session: window.sessionStorage.length })',
    )
    assert.deepEqual(stored, { local: 0, session: 0 }, 'nothing kept in the browser storage')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test('[SRS-OAUTH-542] Sign out confirms on Vigil’s page and ends the session: the console asks for the password again', async () => {
    // The patient: the clinician's TOTP code of this half-minute is spent by the test above.
    const c = await w.open(w.users.patient)
    const { page } = c
    try {
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('heading', { name: 'Sign out?' }).waitFor({ timeout: 30_000 })
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('heading', { name: 'Signed out' }).waitFor({ timeout: 30_000 })
      assert.ok(!c.messages.some((m) => /Content Security Policy|Refused to/.test(m)), c.messages.join('\n'))
      // The console's refresh token was revoked, and no token of the session is left.
      const { rows } = await w.s.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM oidc_payloads WHERE model IN ('AccessToken', 'RefreshToken') AND payload->>'accountId' = $1`,
        [w.users.patient.id],
      )
      assert.equal(rows[0]?.n, 0, 'no token of the session is left')
      await page.getByRole('link', { name: 'Sign in again' }).click()
      await page.getByLabel('Password').waitFor({ timeout: 30_000 })
      assert.match(new URL(page.url()).pathname, /^\/interaction\//, 'the sign-in page, not the console')
      assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
    } finally {
      await c.context.close()
    }
  })
})
