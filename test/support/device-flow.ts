// The person's side of the device authorization grant (RFC 8628) as a browser walks it: the code
// form, the confirmation, the sign-in and the consent, each an HTML form posted with the browser's
// cookies. Shared by the device grant's end-to-end tests and its fault test.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import * as client from 'openid-client'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from './config.ts'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followDoubleClicking,
  followUntilOutside,
  postForm,
  TEST_PASSWORD,
  xsrfOf,
} from './identity.ts'
import type { OAuthTestServer } from './oauth.ts'

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

/**
 * A glucometer registered for the device grant (with refresh tokens), the device's openid-client
 * configuration, a patient of a clinic, and the device pages walked by that patient.
 */
export async function deviceGrantWorld(s: OAuthTestServer) {
  const deviceId = `glucometer-${randomUUID()}`
  const secret = 'device-secret-0123456789abcdef0123456789'
  await s.clients.upsert({
    clientId: deviceId,
    secret,
    metadata: {
      client_id: deviceId,
      client_name: 'Glucometer',
      grant_types: [DEVICE_GRANT, 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      scope: 'device-data:write account:read offline_access',
    },
  })
  const org = await createAccountDirectory({
    db: s.db,
    keyring: createKeyring(TEST_KEYRING),
  }).users.createOrganisation(`Clinic ${randomUUID()}`)
  const patient = await createTestUser(s.db, {
    email: `patient-${randomUUID()}@demo.test`,
    roles: [{ role: 'patient', organisationId: org.id }],
  })
  const config = await s.discover(deviceId, client.ClientSecretBasic(secret))
  return { deviceId, secret, config, patient, pages: devicePages(s.issuer, patient) }
}

/** The device's resume of a person's sign-in or consent (oidc-provider's device_resume route). */
const isDeviceResume = (at: URL) => /^\/oauth\/device\/(?!auth$)[^/]+$/.test(at.pathname)

type CodeForm = { xsrf: string; user_code: string }

/** The device pages of `issuer`, walked by `patient` unless another person is named. */
export function devicePages(issuer: string, patient: { email: string }) {
  const formAction = (page: string | undefined, step: string) =>
    new URL(new RegExp(`action="([^"]*/${step})"`).exec(page ?? '')?.[1] ?? '', issuer).toString()

  /** Opens the code form and types `userCode` into it, in a browser of its own unless one is given; the page answered. */
  async function enterCode(userCode: string, jar = new CookieJar()) {
    const input = await followUntilOutside(issuer, `${issuer}/oauth/device`, jar)
    assert.match(input.page ?? '', /autocomplete="one-time-code"/)
    const xsrf = xsrfOf(input.page ?? '')
    return followUntilOutside(issuer, `${issuer}/oauth/device`, jar, postForm({ xsrf, user_code: userCode }))
  }

  /** Up to the confirmation page of a user code, in a browser of its own unless one is given. */
  async function codeConfirmation(userCode: string, jar = new CookieJar()) {
    const confirmPage = await enterCode(userCode, jar)
    assert.match(confirmPage.page ?? '', /Is this your device\?/)
    return { jar, form: { xsrf: xsrfOf(confirmPage.page ?? ''), user_code: userCode } }
  }

  /** One press of Continue (or Abort) as the browser sends it, not followed: the raw answer. */
  const press = (jar: CookieJar, form: CodeForm, choice: 'confirm' | 'abort') =>
    fetch(`${issuer}/oauth/device`, {
      ...postForm({ ...form, [choice]: 'yes' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
      redirect: 'manual',
    })

  /** Presses Continue (or Abort) on the confirmation page; the page answered. */
  const answerConfirmation = (jar: CookieJar, form: CodeForm, choice: 'confirm' | 'abort' = 'confirm') =>
    followUntilOutside(issuer, `${issuer}/oauth/device`, jar, postForm({ ...form, [choice]: 'yes' }))

  /** Follows a form's post; with `doubleClick`, every resume of the device's authorization is sent twice at once. */
  const walk = (jar: CookieJar, start: string, init: RequestInit, doubleClick: boolean) =>
    followDoubleClicking(issuer, start, jar, init, (at) => doubleClick && isDeviceResume(at))

  /** After the code is confirmed: signs in on the login page; the consent page answered. */
  async function signIn(
    jar: CookieJar,
    loginPage: string,
    who: { email: string } = patient,
    doubleClick = false,
  ) {
    const consentPage = await walk(
      jar,
      formAction(loginPage, 'login'),
      postForm({ email: who.email, password: TEST_PASSWORD, csrf: csrfOf(loginPage) }),
      doubleClick,
    )
    assert.match(consentPage.page ?? '', /Allow access\?/, consentPage.page?.slice(0, 400))
    return consentPage
  }

  /** Approves (or denies) on the consent page; the page answered. */
  const decide = (jar: CookieJar, consentPage: string, consent: 'allow' | 'deny', doubleClick = false) =>
    walk(
      jar,
      formAction(consentPage, 'consent'),
      postForm({ decision: consent, csrf: csrfOf(consentPage) }),
      doubleClick,
    )

  /**
   * After the code is confirmed: sign in and approve (or deny). With `doubleClick`, every resume of
   * the device's authorization is sent twice at once; the pairs are returned.
   */
  async function signInAndDecide(
    jar: CookieJar,
    loginPage: string,
    consent: 'allow' | 'deny',
    who: { email: string } = patient,
    doubleClick = false,
  ) {
    const consentPage = await signIn(jar, loginPage, who, doubleClick)
    const done = await decide(jar, consentPage.page ?? '', consent, doubleClick)
    return { ...done, pairs: [...consentPage.pairs, ...done.pairs] }
  }

  /** The patient's side on the phone: enter the code, confirm (or abort), sign in, approve (or deny). */
  async function patientVisits(
    userCode: string,
    choice: { confirm: boolean; consent: 'allow' | 'deny' },
    who: { email: string } = patient,
  ) {
    const { jar, form } = await codeConfirmation(userCode)
    const after = await answerConfirmation(jar, form, choice.confirm ? 'confirm' : 'abort')
    if (!choice.confirm) return after
    return signInAndDecide(jar, after.page ?? '', choice.consent, who)
  }

  return {
    enterCode,
    codeConfirmation,
    press,
    answerConfirmation,
    signIn,
    decide,
    signInAndDecide,
    patientVisits,
  }
}
