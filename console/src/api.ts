// The console's only way to the server: /api/v2 and /fhir/R4 on this origin, with the signed-in
// user's token. A 401 renews the token once; if that fails, the user goes back through sign-in
// and returns to the page they were on. Errors become sentences saying what to do.

import { accessToken, signIn, SignInError, signInWorked } from './auth.ts'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** What the user should read for a failed call: what happened and what to do about it. */
export function explain(status: number, detail?: string, code?: string): string {
  // A segregation-of-duties refusal's detail says who may do it instead (ADR-0012).
  if (status === 403 && code === 'SEGREGATION_OF_DUTIES')
    return `Refused by segregation of duties: ${detail ?? 'another administrator must do this.'}`
  if (status === 400 || status === 422)
    return `The server did not accept this: ${detail ?? 'check the values and try again.'}`
  if (status === 403)
    return 'You are not allowed to do this. Ask your organisation administrator if you need access.'
  if (status === 404) return 'Not found, or not available to you. Go back to the list and choose again.'
  if (status === 409)
    return `This conflicts with the current state: ${detail ?? 'reload the page and try again.'}`
  if (status === 429) return 'Too many requests. Wait a minute, then try again.'
  if (status === 0) return 'The server could not be reached. Check your connection, then try again.'
  return 'The server could not answer. Try again in a moment; if it keeps failing, tell your administrator.'
}

type Target = 'api' | 'fhir'
const PREFIX: Record<Target, string> = { api: '/api/v2', fhir: '/fhir/R4' }

async function send(target: Target, path: string, init: RequestInit, token: string): Promise<Response> {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${token}`)
  headers.set('accept', target === 'fhir' ? 'application/fhir+json' : 'application/json')
  if (init.body !== undefined)
    headers.set('content-type', target === 'fhir' ? 'application/fhir+json' : 'application/json')
  return fetch(`${PREFIX[target]}${path}`, { ...init, headers, credentials: 'omit', cache: 'no-store' })
}

export async function call<T>(target: Target, path: string, init: RequestInit = {}): Promise<T> {
  let res: Response
  try {
    let token = await accessToken(target)
    if (!token) return await signIn()
    res = await send(target, path, init, token)
    if (res.status === 401) {
      token = await accessToken(target, { forceRefresh: true })
      if (!token) return await signIn()
      res = await send(target, path, init, token)
      if (res.status === 401) return await signIn()
    }
  } catch (err) {
    if (err instanceof SignInError)
      throw new ApiError(
        401,
        'Your sign-in was not accepted. Sign out and sign in again; if it keeps failing, tell your administrator.',
      )
    throw new ApiError(0, explain(0))
  }
  signInWorked()
  if (res.status === 204) return undefined as T
  const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined
  if (!res.ok) {
    const detail = typeof body?.detail === 'string' ? body.detail : undefined
    const code = typeof body?.code === 'string' ? body.code : undefined
    throw new ApiError(res.status, explain(res.status, detail, code))
  }
  return body as T
}

export const api = {
  get: <T>(path: string) => call<T>('api', path),
  post: <T>(path: string, body?: unknown) =>
    call<T>('api', path, { method: 'POST', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }),
  put: <T>(path: string, body?: unknown) =>
    call<T>('api', path, { method: 'PUT', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }),
  del: <T>(path: string) => call<T>('api', path, { method: 'DELETE' }),
}
export const fhir = { get: <T>(path: string) => call<T>('fhir', path) }

/** A query string from defined values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}
