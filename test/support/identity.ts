// Test users and clients through the real services, and a cookie-keeping HTTP walker for the
// sign-in pages (the Chromium tests drive the same pages in a real browser).
import type { ClientMetadata } from 'oidc-provider'
import { createKeyring, keyringSealer } from '../../src/platform/crypto/keyring.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createSecondFactorService, totpCode, type RoleGrant } from '../../src/modules/users/index.ts'
import { TEST_KEYRING } from './config.ts'

export const TEST_PASSWORD = 'correct horse battery staple 7'

export async function createTestUser(
  db: Database,
  input: { email: string; roles: RoleGrant[]; totp?: boolean; password?: string },
) {
  const keyring = createKeyring(TEST_KEYRING)
  const directory = createAccountDirectory({ db, keyring })
  const user = await directory.users.createUser({
    email: input.email,
    password: input.password ?? TEST_PASSWORD,
    roles: input.roles,
    emailVerified: true,
  })
  let totpSecret: string | undefined
  if (input.totp) {
    const sf = createSecondFactorService({ db, clock: () => new Date(), sealer: keyringSealer(keyring) })
    const enrolment = await sf.startTotpEnrolment({ userId: user.id, email: user.email })
    totpSecret = enrolment.secret
    // Confirm with the code of the previous step, so the current one is still unused for the login.
    const confirmed = await sf.confirmTotpEnrolment(
      user.id,
      totpCode(enrolment.secret, new Date(Date.now() - 30_000)),
    )
    if (!confirmed.ok) throw new Error(`TOTP enrolment failed: ${confirmed.reason}`)
  }
  return { id: user.id, email: user.email, totpSecret }
}

/** A public native client as the demo world's demo-app: authorization code + PKCE, loopback redirects on any port. */
export function nativeAppMetadata(clientId: string): ClientMetadata {
  return {
    client_id: clientId,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', 'com.example.vigil:/callback'],
    scope: 'openid offline_access profile email account:read device-data:read device-data:write',
    first_party: true,
  }
}

export class CookieJar {
  private readonly cookies = new Map<string, string>()
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair?.indexOf('=') ?? -1
      if (!pair || eq < 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}

export function csrfOf(page: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(page)
  if (!m?.[1]) throw new Error('no CSRF token on the page')
  return m[1]
}

/** The xsrf token oidc-provider puts in its device code forms (the code, the confirmation). */
export function xsrfOf(page: string): string {
  const m = /name="xsrf" value="([^"]+)"/.exec(page)
  if (!m?.[1]) throw new Error('no xsrf token on the page')
  return m[1]
}

/** Follows redirects by hand (keeping cookies) until one leaves the issuer; returns that URL. */
export async function followUntilOutside(
  issuer: string,
  start: string,
  jar: CookieJar,
  init?: RequestInit,
): Promise<{ url: string; page?: string; status: number }> {
  const { pairs: _none, ...end } = await followDoubleClicking(issuer, start, jar, init, () => false)
  return end
}

/** One request of a pair sent at once: its status, where it redirects, and its page if it did not. */
export interface RacedResponse {
  readonly status: number
  readonly location: string | null
  readonly page?: string
}

/**
 * Follows redirects as followUntilOutside does, but sends each request to a URL `doubled` matches
 * twice at once, as a double click does. Goes on with the first of each pair answered below 400 (the
 * other is the one refused, if any), and returns where it ended, with every pair in the order sent.
 */
export async function followDoubleClicking(
  issuer: string,
  start: string,
  jar: CookieJar,
  init: RequestInit | undefined,
  doubled: (url: URL) => boolean,
): Promise<{ url: string; page?: string; status: number; pairs: RacedResponse[][] }> {
  const pairs: RacedResponse[][] = []
  // The cookies kept are those of the response the walk goes on with.
  const send = async (url: string, req?: RequestInit) => {
    const res = await fetch(url, {
      ...req,
      redirect: 'manual',
      headers: { ...(req?.headers as Record<string, string> | undefined), cookie: jar.header() },
    })
    const location = res.headers.get('location')
    const raced: RacedResponse =
      res.status >= 300 && res.status < 400 && location
        ? { status: res.status, location }
        : { status: res.status, location: null, page: await res.text() }
    return { raced, keep: () => jar.store(res) }
  }
  let url = start
  let req: RequestInit | undefined = init
  for (let hop = 0; hop < 15; hop++) {
    if (!url.startsWith(issuer)) return { url, status: 302, pairs }
    const sent = doubled(new URL(url))
      ? await Promise.all([send(url, req), send(url, req)])
      : [await send(url, req)]
    if (sent.length === 2) pairs.push(sent.map((s) => s.raced))
    const next = sent.find((s) => s.raced.status < 400) ?? (sent[0] as (typeof sent)[0])
    next.keep()
    const res = next.raced
    if (!res.location) return { url, page: res.page, status: res.status, pairs }
    url = new URL(res.location, url).toString()
    req = undefined
  }
  throw new Error('too many redirects')
}

export function postForm(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  }
}

/** Signs in through the HTML forms (password, then TOTP when asked); returns where the browser lands. */
export async function signInThroughForms(
  issuer: string,
  authorizationUrl: string,
  login: { email: string; password: string; totpSecret?: string | undefined },
) {
  const jar = new CookieJar()
  const first = await followUntilOutside(issuer, authorizationUrl, jar)
  if (!first.page) return { ...first, jar }
  const loginAction = new URL(/action="([^"]*\/login)"/.exec(first.page)?.[1] ?? '', issuer).toString()
  let step = await followUntilOutside(
    issuer,
    loginAction,
    jar,
    postForm({ email: login.email, password: login.password, csrf: csrfOf(first.page) }),
  )
  if (step.page && /action="[^"]*\/totp"/.test(step.page)) {
    if (!login.totpSecret) throw new Error('a second factor was asked for')
    const action = new URL(/action="([^"]*\/totp)"/.exec(step.page)?.[1] ?? '', issuer).toString()
    step = await followUntilOutside(
      issuer,
      action,
      jar,
      postForm({ code: totpCode(login.totpSecret, new Date()), csrf: csrfOf(step.page) }),
    )
  }
  return { ...step, jar }
}
