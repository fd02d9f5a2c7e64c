// Sign-in: OAuth 2.0 authorization code with PKCE (S256) through Vigil's own sign-in pages, as the
// first-party public client `vigil-console` (ADR-0022).
//
// Tokens live in this module's memory only — never localStorage, sessionStorage, cookies or the
// URL. Only for the round trip to the sign-in pages, sessionStorage holds the PKCE verifier, the
// state and the console path to come back to; they are removed as soon as the browser returns,
// and the verifier is worthless once its one-time code (valid ≤ 60 s) has been redeemed.
//
// One sign-in yields two access tokens, one per resource server (RFC 8707): the API (/api) and
// the FHIR server (/fhir/R4). The code is redeemed for the API token; the refresh token (rotated
// on every use) gives the FHIR one and renews both when they expire.

export const CLIENT_ID = 'vigil-console'
const ORIGIN = window.location.origin
export const API_RESOURCE = `${ORIGIN}/api`
export const FHIR_RESOURCE = `${ORIGIN}/fhir/R4`
const REDIRECT_URI = `${ORIGIN}/console/callback`
const SCOPES = [
  'openid',
  'offline_access',
  'account:read',
  'patients:read',
  'device-data:read',
  // A care team's target ranges (ADR-0027). Not device-data:write: the console writes no readings.
  'target-ranges:write',
  'reports:read',
  'consent:manage',
  'devices:manage',
  'audit:read',
  'admin:users',
  'admin:clients',
  'user/Patient.rs',
  'user/Observation.rs',
  'user/Device.rs',
  'user/DiagnosticReport.rs',
]
const PENDING_KEY = 'vigil-console.sign-in'

type Resource = 'api' | 'fhir'
interface Held {
  access: Partial<Record<Resource, { token: string; expiresAt: number }>>
  refresh?: string
}
const held: Held = { access: {} }
let refreshing: Promise<boolean> | undefined
// Set when this tab finishes a sign-in, cleared by the first answer the API accepts: a new token
// refused before any success means something else is wrong, and another round trip would loop.
let freshSignIn = false
export function signInWorked(): void {
  freshSignIn = false
}

function base64url(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}
function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)))
}
async function challengeOf(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))))
}

/** The console path to return to (never a query string: the app keeps its state in paths only). */
function currentPath(): string {
  const p = window.location.pathname
  return p.startsWith('/console/') && !p.startsWith('/console/callback') ? p : '/console/'
}

/** Leaves for the sign-in pages; the browser comes back to /console/callback. */
export async function signIn(returnTo: string = currentPath()): Promise<never> {
  if (freshSignIn) throw new SignInError('The server refused the new sign-in at once.')
  const verifier = randomString()
  const state = randomString()
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo }))
  const url = new URL('/oauth/authorize', ORIGIN)
  url.searchParams.set('client_id', CLIENT_ID)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('redirect_uri', REDIRECT_URI)
  url.searchParams.set('scope', SCOPES.join(' '))
  url.searchParams.append('resource', API_RESOURCE)
  url.searchParams.append('resource', FHIR_RESOURCE)
  url.searchParams.set('code_challenge', await challengeOf(verifier))
  url.searchParams.set('code_challenge_method', 'S256')
  url.searchParams.set('state', state)
  // OpenID Connect Core §11: offline_access (the refresh token) is honoured only with prompt=consent;
  // the console is first-party, so the consent step passes without a page.
  url.searchParams.set('prompt', 'consent')
  window.location.assign(url.toString())
  return new Promise<never>(() => {})
}

async function tokenRequest(
  form: Record<string, string>,
): Promise<{ access_token: string; expires_in: number; refresh_token?: string }> {
  const res = await fetch('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
    credentials: 'omit',
    cache: 'no-store',
  })
  if (!res.ok) throw new Error('token request refused')
  return (await res.json()) as { access_token: string; expires_in: number; refresh_token?: string }
}

function keep(
  resource: Resource,
  answer: { access_token: string; expires_in: number; refresh_token?: string },
): void {
  // Renewed 30 s early, so a request never leaves with a token about to lapse.
  held.access[resource] = {
    token: answer.access_token,
    expiresAt: Date.now() + (answer.expires_in - 30) * 1000,
  }
  if (answer.refresh_token) held.refresh = answer.refresh_token
}

/**
 * On /console/callback: redeems the code, forgets the round-trip values, and returns the path the
 * user was on. Returns null when this is not a callback.
 */
export async function completeSignIn(): Promise<string | null> {
  if (window.location.pathname !== '/console/callback') return null
  const params = new URLSearchParams(window.location.search)
  const pending = sessionStorage.getItem(PENDING_KEY)
  sessionStorage.removeItem(PENDING_KEY)
  // The code and state leave the address bar and the history at once.
  window.history.replaceState(null, '', '/console/')
  const saved = pending
    ? (JSON.parse(pending) as { verifier: string; state: string; returnTo: string })
    : null
  const code = params.get('code')
  if (!saved || !code || params.get('state') !== saved.state)
    throw new SignInError(
      params.get('error') === 'access_denied' ? 'Sign-in was cancelled.' : 'Sign-in did not complete.',
    )
  freshSignIn = true
  keep(
    'api',
    await tokenRequest({
      grant_type: 'authorization_code',
      client_id: CLIENT_ID,
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: saved.verifier,
      resource: API_RESOURCE,
    }),
  )
  return saved.returnTo.startsWith('/console/') ? saved.returnTo : '/console/'
}

export class SignInError extends Error {}

async function refresh(resource: Resource): Promise<boolean> {
  const token = held.refresh
  if (!token) return false
  try {
    keep(
      resource,
      await tokenRequest({
        grant_type: 'refresh_token',
        client_id: CLIENT_ID,
        refresh_token: token,
        resource: resource === 'api' ? API_RESOURCE : FHIR_RESOURCE,
      }),
    )
    return true
  } catch {
    held.refresh = undefined
    return false
  }
}

/** An access token for the resource, renewed with the refresh token when needed; null when signed out. */
export async function accessToken(
  resource: Resource,
  options: { forceRefresh?: boolean } = {},
): Promise<string | null> {
  const current = held.access[resource]
  if (current && current.expiresAt > Date.now() && !options.forceRefresh) return current.token
  // One refresh at a time: the refresh token rotates, so a second concurrent use would fail.
  while (refreshing) await refreshing.catch(() => false)
  const again = held.access[resource]
  if (again && again.expiresAt > Date.now() && again !== current) return again.token
  refreshing = refresh(resource)
  try {
    return (await refreshing) ? (held.access[resource]?.token ?? null) : null
  } finally {
    refreshing = undefined
  }
}

export function isSignedIn(): boolean {
  return held.access.api !== undefined || held.refresh !== undefined
}

/** Forgets the tokens and ends the session at the authorization server. */
export async function signOut(): Promise<void> {
  const token = held.refresh
  held.access = {}
  held.refresh = undefined
  if (token)
    await fetch('/oauth/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: CLIENT_ID }),
      credentials: 'omit',
    }).catch(() => undefined)
  window.location.assign('/oauth/logout')
}
