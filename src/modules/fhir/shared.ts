// What every FHIR route adapter shares: the base URL, the lenient/strict handling of unknown
// search parameters, side-effect-free visibility checks for _include, and the keyset paging query.

import { fhirBaseUrl } from '../../fhir-format/base-url.ts'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import {
  decodeCursor,
  encodeCursor,
  ignoredParamsOutcome,
  searchBundle,
  searchUrl,
  type Cursor,
  type SearchBundle,
} from '../../fhir-format/bundle.ts'
import { cursorSeal, type CursorSeal } from '../../platform/http/cursor.ts'
import { FhirError } from '../../fhir-format/outcome.ts'
import { countOf, knownParams, one, type Query } from '../../fhir-format/search.ts'
import type { ModuleContext } from '../context.ts'
import type { KeysetRow } from './service.ts'

export const fhirBase = (ctx: ModuleContext): string => fhirBaseUrl(ctx.config.publicUrl)

/** Any FHIR resource: validated against the R4 schema in the handler (closed there), documented loosely here. */
export const AnyResource = Type.Object(
  {},
  { additionalProperties: true, description: 'A FHIR R4 resource (application/fhir+json)' },
)

/**
 * A FHIR request body. The route schema only requires an object with a resourceType: the handler
 * validates it against the (closed) R4 JSON schema and our profile, which reject unknown elements
 * with an OperationOutcome naming them (ADR-0011).
 */
export const FhirBody = {
  type: 'object',
  required: ['resourceType'],
  description: 'A FHIR R4 resource (application/fhir+json), validated against the R4 schema',
} as const

/** A FHIR error status a route answers beyond the common ones; the document shows it as an OperationOutcome (platform/http/openapi.ts). */
export const Outcome = (description: string) =>
  Type.Object({ resourceType: Type.Literal('OperationOutcome') }, { additionalProperties: true, description })

export const IdParams = Type.Object(
  { id: Type.String({ pattern: '^[A-Za-z0-9\\-.]{1,64}$', description: 'Logical id' }) },
  { additionalProperties: false },
)

declare module 'fastify' {
  interface FastifyRequest {
    /** Search parameters a lenient search ignored (names only). */
    fhirIgnored?: string[]
  }
}

/** Prefer: handling=strict → unknown search parameters are an error; otherwise (lenient, R4 §3.1.1.5.6) ignored and reported in the Bundle. */
export function unknownSearchParams(type: string) {
  const known = knownParams(type)
  return async (request: FastifyRequest): Promise<void> => {
    const query = (request.query ?? {}) as Record<string, unknown>
    const unknown = Object.keys(query).filter((k) => !known.has(k))
    if (unknown.length === 0) return
    const prefer = String(request.headers.prefer ?? '')
    if (/(^|[;,\s])handling\s*=\s*strict\b/i.test(prefer)) {
      throw new FhirError(
        400,
        'not-supported',
        `unknown or unsupported search parameter(s): ${unknown.map((u) => u.replace(/[^A-Za-z0-9_:.-]/g, '?').slice(0, 60)).join(', ')}`,
        unknown.map((u) => u.slice(0, 60)),
      )
    }
    for (const k of unknown) delete query[k]
    request.fhirIgnored = unknown.map((u) => u.replace(/[^A-Za-z0-9_:.-]/g, '?').slice(0, 60))
  }
}

/**
 * The patients the request may reach with action (for searches; marks the object check done),
 * narrowed to those named in every group of patient references the search gives (`patient=a,b`
 * and `subject=Patient/c` each a group): only those are decided.
 */
export async function scopeIds(
  request: FastifyRequest,
  action: string,
  named: readonly (readonly string[])[] = [],
): Promise<string[]> {
  const within = named.length > 0 ? intersect(named[0] as readonly string[], named.slice(1)) : undefined
  const scope = await request.patientScope(action, within)
  return scope.kind === 'none' ? [] : [...scope.ids]
}

/** Whether the caller may see this patient's data under action — for _include, without touching the request's audit decision. */
export async function maySee(
  ctx: ModuleContext,
  request: FastifyRequest,
  action: string,
  resource: { type: string; id: string; patientId: string },
): Promise<boolean> {
  if (!request.principal) return false
  // An included resource is read (SMART `r`), whatever the search that includes it.
  const d = await ctx.pdp.decide(
    request.principal,
    action,
    { ...resource, interaction: 'r' },
    {
      requestId: request.id,
      ip: request.ip,
      now: new Date(),
    },
  )
  return d.effect === 'permit'
}

export function intersect(base: readonly string[], groups: readonly (readonly string[])[]): string[] {
  let out = [...new Set(base)]
  for (const g of groups) {
    const s = new Set(g)
    out = out.filter((id) => s.has(id))
  }
  return out
}

/** The Bundle of a keyset page with its self, next and previous links. */
export function pagedBundle(
  ctx: ModuleContext,
  request: FastifyRequest,
  type: string,
  query: Query,
  page: { rows: readonly KeysetRow[]; hasNext: boolean; hasPrevious: boolean },
  matches: ReadonlyArray<Record<string, unknown>>,
  includes: ReadonlyArray<Record<string, unknown>> = [],
): SearchBundle {
  const base = fhirBase(ctx)
  const first = page.rows[0]
  const last = page.rows.at(-1)
  return searchBundle({
    base,
    self: searchUrl(base, type, query, one(query, '_cursor')),
    next:
      page.hasNext && last
        ? searchUrl(
            base,
            type,
            query,
            encodeCursor({ d: 'n', k: [last.sort_key, last.id] }, fhirCursorSeal(ctx, type)),
          )
        : undefined,
    previous:
      page.hasPrevious && first
        ? searchUrl(
            base,
            type,
            query,
            encodeCursor({ d: 'p', k: [first.sort_key, first.id] }, fhirCursorSeal(ctx, type)),
          )
        : undefined,
    matches,
    includes,
    outcome: ignoredParamsOutcome(request.fhirIgnored ?? []),
    now: ctx.clock(),
  })
}

/** The cursors of one resource type's searches, authenticated under the keyring (ADR-0015). */
export function fhirCursorSeal(ctx: Pick<ModuleContext, 'keyring'>, type: string): CursorSeal {
  return cursorSeal(ctx.keyring, `fhir ${type}`)
}

/** _count and the verified _cursor of a search (a forged or altered cursor is a 400). */
export function pagingOf(
  ctx: Pick<ModuleContext, 'keyring'>,
  type: string,
  query: Query,
): { count: number; cursor: Cursor | undefined } {
  return { count: countOf(query), cursor: decodeCursor(one(query, '_cursor'), fhirCursorSeal(ctx, type)) }
}

/** If-Match: W/"3" (or "3") → 3; absent → undefined. */
export function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined) return undefined
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(header)
  if (!m) throw new FhirError(412, 'conflict', 'If-Match must be a version ETag such as W/"1"')
  return Number(m[1])
}

export const etag = (version: number): string => `W/"${version}"`
