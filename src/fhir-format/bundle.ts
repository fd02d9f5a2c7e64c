// Search results as a Bundle (searchset), paged by opaque keyset cursors in Bundle.link next and
// previous: the cursor holds the sort key of the page's edge row, not an offset, so rows inserted
// while a client pages neither repeat nor get skipped on the pages it has not read yet.

import { Buffer } from 'node:buffer'
import type { CursorSeal } from '../platform/http/cursor.ts'
import { isInstantInRange } from '../platform/http/calendar.ts'
import { FhirError, operationOutcome, type OperationOutcome } from './outcome.ts'

export interface BundleEntry {
  readonly fullUrl: string
  readonly resource: Record<string, unknown>
  readonly search: { readonly mode: 'match' | 'include' | 'outcome' }
}

export interface SearchBundle {
  readonly resourceType: 'Bundle'
  readonly type: 'searchset'
  readonly timestamp: string
  readonly total?: number
  readonly link: ReadonlyArray<{ relation: string; url: string }>
  readonly entry: readonly BundleEntry[]
}

export interface Cursor {
  /** direction: the page after (n) or before (p) the key */
  readonly d: 'n' | 'p'
  /** the edge row's sort key: [time as text, id] */
  readonly k: readonly [string, string]
}

/** The cursor as handed out: its content sealed with the server's tag (platform/http/cursor.ts, ADR-0015). */
export function encodeCursor(c: Cursor, seal: CursorSeal): string {
  return seal.seal(Buffer.from(JSON.stringify(c)).toString('base64url'))
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A cursor this server issued for this search, or a 400: a forged or altered one never reaches a query. */
export function decodeCursor(raw: string | undefined, seal: CursorSeal): Cursor | undefined {
  if (raw === undefined) return undefined
  const content = seal.open(raw)
  if (content !== undefined) {
    try {
      const c = JSON.parse(Buffer.from(content, 'base64url').toString('utf8')) as Cursor
      if (
        (c.d === 'n' || c.d === 'p') &&
        Array.isArray(c.k) &&
        c.k.length === 2 &&
        typeof c.k[0] === 'string' &&
        isInstantInRange(new Date(c.k[0])) &&
        typeof c.k[1] === 'string' &&
        UUID.test(c.k[1])
      )
        return c
    } catch {
      // fall through
    }
  }
  throw new FhirError(400, 'invalid', '_cursor is not a cursor this server issued', ['_cursor'])
}

/** The URL of this search with its parameters and the given (sealed) cursor, if any. */
export function searchUrl(
  base: string,
  type: string,
  query: Record<string, readonly string[] | undefined>,
  cursor?: string,
): string {
  const params = new URLSearchParams()
  for (const [k, values] of Object.entries(query)) {
    if (k === '_cursor' || !values) continue
    for (const v of values) params.append(k, v)
  }
  if (cursor) params.append('_cursor', cursor)
  const qs = params.toString()
  return `${base}/${type}${qs ? `?${qs}` : ''}`
}

export function searchBundle(input: {
  base: string
  self: string
  next?: string | undefined
  previous?: string | undefined
  matches: ReadonlyArray<Record<string, unknown>>
  includes?: ReadonlyArray<Record<string, unknown>>
  outcome?: OperationOutcome | undefined
  total?: number | undefined
  now: Date
}): SearchBundle {
  const entry = (resource: Record<string, unknown>, mode: 'match' | 'include'): BundleEntry => ({
    fullUrl: `${input.base}/${String(resource.resourceType)}/${String(resource.id)}`,
    resource,
    search: { mode },
  })
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: input.now.toISOString(),
    ...(input.total !== undefined ? { total: input.total } : {}),
    link: [
      { relation: 'self', url: input.self },
      ...(input.next ? [{ relation: 'next', url: input.next }] : []),
      ...(input.previous ? [{ relation: 'previous', url: input.previous }] : []),
    ],
    entry: [
      ...input.matches.map((r) => entry(r, 'match')),
      ...(input.includes ?? []).map((r) => entry(r, 'include')),
      ...(input.outcome
        ? [
            {
              fullUrl: `urn:uuid:${crypto.randomUUID()}`,
              resource: input.outcome as unknown as Record<string, unknown>,
              search: { mode: 'outcome' as const },
            },
          ]
        : []),
    ],
  }
}

/** The warning a lenient search carries for the parameters it ignored (names only, never values). */
export function ignoredParamsOutcome(names: readonly string[]): OperationOutcome | undefined {
  if (names.length === 0) return undefined
  return operationOutcome(
    names.map((n) => ({
      severity: 'warning' as const,
      code: 'not-supported' as const,
      diagnostics: `search parameter ${n} is not supported and was ignored`,
      expression: [n],
    })),
  )
}
