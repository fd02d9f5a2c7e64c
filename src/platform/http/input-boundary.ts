// The input boundary: one place, before any route, that every request passes (ADR-0015).
//  - The URL: printable ASCII only; every path segment, query name and value strictly
//    percent-decoded as UTF-8 (a lone surrogate is not UTF-8) and free of NUL.
//  - Headers: no NUL; If-None-Exist (a query string in a header) decoded like the query.
//  - The body's media type: what the matched route takes — JSON on JSON routes (and
//    application/fhir+json under /fhir/R4), HTML form posts only on routes that answer HTML pages —
//    else 415; a charset other than UTF-8 is a 415 too.
//  - The body's bytes: valid UTF-8 (never repaired to U+FFFD), JSON no deeper than MAX_JSON_DEPTH
//    (counted before parsing), no NUL or lone surrogate in any string or name, no string longer
//    than MAX_STRING_LENGTH, no number beyond a double (1e309).
// Refusals are 400/415 problem+json (OperationOutcome under /fhir/R4: the route's own error
// handler renders them) naming where, never what: a refused value is not echoed or logged.

import type {
  FastifyContextConfig,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RouteOptions,
} from 'fastify'
import { AppError } from './errors.ts'
import { decodeComponent, jsonDefect, jsonTextDepthExceeds, MAX_JSON_DEPTH } from './untrusted-text.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Body media types the route takes (set at registration by the input boundary). */
    bodyMediaTypes?: readonly string[]
  }
}

export const JSON_MEDIA_TYPE = 'application/json'
export const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded'
const FHIR_MEDIA_TYPE = 'application/fhir+json'
const FORM_BODY_LIMIT = 16 * 1024

const PLAIN_NAME = /^[A-Za-z0-9_.:-]{1,64}$/
/** A parameter's name for a pointer, if it is plain enough to show; never a hostile name. */
const nameFor = (name: string | undefined) => (name !== undefined && PLAIN_NAME.test(name) ? `/${name}` : '')

function refuse(pointer: string, detail: string): AppError {
  return new AppError(
    'VALIDATION_FAILED',
    'The request carries characters or encodings that are not accepted',
    { errors: [{ pointer, detail }] },
  )
}

/** `type/subtype` and its charset, lower-cased, from a Content-Type header. */
export function mediaTypeOf(
  header: string | undefined,
): { type: string; charset: string | undefined } | undefined {
  if (!header) return undefined
  const [type, ...params] = header.split(';')
  let charset: string | undefined
  for (const p of params) {
    const eq = p.indexOf('=')
    if (eq < 0) continue
    if (p.slice(0, eq).trim().toLowerCase() === 'charset')
      charset = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase()
  }
  return { type: (type ?? '').trim().toLowerCase(), charset }
}

/** Printable ASCII without spaces (RFC 3986: everything else is percent-encoded). */
const URL_CHARS = /^[\x21-\x7e]*$/

/** A query string (without `?`), strictly decoded: the first defect, or undefined. */
function queryDefect(query: string, part: string): AppError | undefined {
  if (query === '') return undefined
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=')
    const rawName = eq < 0 ? pair : pair.slice(0, eq)
    const name = decodeComponent(rawName, true)
    if (name === undefined)
      return refuse(`/${part}`, 'a parameter name is not valid percent-encoded UTF-8, or holds a NUL')
    if (eq >= 0 && decodeComponent(pair.slice(eq + 1), true) === undefined)
      return refuse(
        `/${part}${nameFor(name)}`,
        'not valid percent-encoded UTF-8, or holds a NUL or an unpaired surrogate',
      )
  }
  return undefined
}

/** The URL of a request: the first defect, or undefined. */
export function urlDefect(url: string): AppError | undefined {
  if (!URL_CHARS.test(url))
    return refuse('/url', 'characters outside printable ASCII must be percent-encoded')
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  for (const segment of path.split('/')) {
    if (decodeComponent(segment, false) === undefined)
      return refuse('/params', 'a path segment is not valid percent-encoded UTF-8, or holds a NUL')
  }
  return q < 0 ? undefined : queryDefect(url.slice(q + 1).split('#')[0] ?? '', 'querystring')
}

function headerDefect(headers: FastifyRequest['headers']): AppError | undefined {
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && v.includes('\u0000'))
        return refuse(`/headers${nameFor(name)}`, 'contains a NUL character')
    }
  }
  const ifNoneExist = headers['if-none-exist']
  return typeof ifNoneExist === 'string' ? queryDefect(ifNoneExist, 'headers/if-none-exist') : undefined
}

/** The media types a route takes, from what it is: FHIR (fhir+json or JSON), an HTML page (a form post or JSON), or an API route (JSON only). */
function bodyMediaTypesOf(route: RouteOptions): readonly string[] | undefined {
  const schema = (route.schema ?? {}) as {
    hide?: boolean
    response?: Record<string, { content?: Record<string, unknown> }>
  }
  if (schema.hide === true) return undefined // oidc-provider's protocol endpoints parse their own bodies
  if (route.url.startsWith('/fhir/')) return [FHIR_MEDIA_TYPE, JSON_MEDIA_TYPE]
  const answersHtml = Object.values(schema.response ?? {}).some(
    (r) => r?.content !== undefined && 'text/html' in r.content,
  )
  return answersHtml ? [FORM_MEDIA_TYPE, JSON_MEDIA_TYPE] : [JSON_MEDIA_TYPE]
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length']
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

type Done = (err: Error | null, body?: unknown) => void
type TextParser = (request: FastifyRequest, body: string, done: Done) => void

const UTF8 = new TextDecoder('utf-8', { fatal: true })

function decodeUtf8(body: Buffer): string | undefined {
  try {
    return UTF8.decode(body)
  } catch {
    return undefined
  }
}

const bodyRefusal = (d: { pointer: string; detail: string }) =>
  new AppError('VALIDATION_FAILED', 'The request body holds a value that is not accepted', {
    errors: [{ pointer: `/body${d.pointer}`, detail: d.detail }],
  })

/** The JSON body parser (application/json, and application/fhir+json in the FHIR scope): bytes → checked text → Fastify's safe parse → checked value. */
export function strictJsonParser(parse: TextParser) {
  return (request: FastifyRequest, body: Buffer, done: Done): void => {
    const text = decodeUtf8(body)
    if (text === undefined) return done(new AppError('MALFORMED_BODY', 'The request body is not valid UTF-8'))
    if (jsonTextDepthExceeds(text))
      return done(bodyRefusal({ pointer: '', detail: `nested deeper than ${MAX_JSON_DEPTH} levels` }))
    parse(request, text, (err, value) => {
      if (err) return done(err)
      const defect = jsonDefect(value)
      return defect ? done(bodyRefusal(defect)) : done(null, value)
    })
  }
}

/** HTML form posts (the sign-in pages): strictly decoded like a query; a repeated name becomes an array. */
function formParser(_request: FastifyRequest, body: Buffer, done: Done): void {
  const text = decodeUtf8(body)
  if (text === undefined) return done(new AppError('MALFORMED_BODY', 'The request body is not valid UTF-8'))
  const out: Record<string, string | string[]> = {}
  for (const pair of text === '' ? [] : text.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq), true)
    const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1), true)
    if (name === undefined || value === undefined)
      return done(
        bodyRefusal({
          pointer: nameFor(name),
          detail: 'not valid percent-encoded UTF-8, or holds a NUL or an unpaired surrogate',
        }),
      )
    if (name === '__proto__' || name === 'constructor' || name === 'prototype')
      return done(bodyRefusal({ pointer: '', detail: 'a reserved field name' }))
    const prior = out[name]
    out[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value]
  }
  const defect = jsonDefect(out)
  return defect ? done(bodyRefusal(defect)) : done(null, out)
}

/** Registers the boundary; call before any route (the media types are worked out per route at registration). */
export function registerInputBoundary(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const types = bodyMediaTypesOf(route)
    if (types) route.config = { ...(route.config ?? {}), bodyMediaTypes: types } as FastifyContextConfig
  })

  app.removeContentTypeParser(JSON_MEDIA_TYPE)
  app.addContentTypeParser(
    JSON_MEDIA_TYPE,
    { parseAs: 'buffer' },
    strictJsonParser(app.getDefaultJsonParser('error', 'error')),
  )
  app.addContentTypeParser(FORM_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT }, formParser)

  app.addHook('onRequest', async (request) => {
    const defect = urlDefect(request.url) ?? headerDefect(request.headers)
    if (defect) throw defect
  })

  app.addHook('preParsing', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    const accepted = request.routeOptions.config?.bodyMediaTypes
    if (reply.sent || !accepted || !hasBody(request)) return payload
    const media = mediaTypeOf(request.headers['content-type'])
    if (!media || !accepted.includes(media.type))
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', `This operation takes ${accepted.join(' or ')}`)
    if (media.charset !== undefined && media.charset !== 'utf-8' && media.charset !== 'utf8')
      throw new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Request bodies are UTF-8: send charset=utf-8 or no charset',
      )
    return payload
  })
}
