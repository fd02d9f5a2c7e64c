// What no text from a request may carry, wherever it arrives (path, query, header, JSON or form
// body): a NUL (PostgreSQL's text and jsonb cannot hold one, so it became a 500), or a lone UTF-16
// surrogate (not Unicode: stored as U+FFFD, a silent change of the value). And the limits of a
// parsed JSON body: its depth (a 10,000-deep FHIR extension overflowed the validator's stack), the
// length of any one string, and numbers a double can hold (1e309 parses as Infinity). See ADR-0015.

/** JSON nesting (objects and arrays) a body may have. FHIR resources Vigil stores nest about 8 deep. */
export const MAX_JSON_DEPTH = 32
/** Characters in any one string of a body: more than any field of the data model holds (the longest, a report conclusion, is capped lower). */
export const MAX_STRING_LENGTH = 64 * 1024

export interface TextProblem {
  /** JSON Pointer (RFC 6901) of the offending value within its part, '' for the part itself. */
  readonly pointer: string
  readonly detail: string
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one (code units: no `u` flag).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why a string may not enter, or undefined. Names the defect, never the value. */
export function textDefect(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character'
  if (LONE_SURROGATE.test(value)) return 'contains an unpaired UTF-16 surrogate'
  return undefined
}

function escapeToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

/**
 * The first defect of a parsed JSON value, walked without recursion (so depth cannot overflow the
 * stack here either): NUL or lone surrogates in a string or a key, a string longer than
 * MAX_STRING_LENGTH, a non-finite number, nesting deeper than MAX_JSON_DEPTH.
 */
export function jsonDefect(
  root: unknown,
  limits: { maxDepth?: number; maxStringLength?: number } = {},
): TextProblem | undefined {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH
  const maxString = limits.maxStringLength ?? MAX_STRING_LENGTH
  const stack: Array<{ value: unknown; pointer: string; depth: number }> = [
    { value: root, pointer: '', depth: 0 },
  ]
  while (stack.length > 0) {
    const { value, pointer, depth } = stack.pop() as { value: unknown; pointer: string; depth: number }
    if (typeof value === 'string') {
      const defect = textDefect(value)
      if (defect) return { pointer, detail: defect }
      if (value.length > maxString) return { pointer, detail: `longer than ${maxString} characters` }
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { pointer, detail: 'a number out of range' }
    } else if (value !== null && typeof value === 'object') {
      if (depth + 1 > maxDepth) return { pointer, detail: `nested deeper than ${maxDepth} levels` }
      const entries: Array<[string, unknown]> = Array.isArray(value)
        ? value.map((v, i) => [String(i), v])
        : Object.entries(value)
      for (const [key, child] of entries) {
        const keyDefect = textDefect(key)
        if (keyDefect) return { pointer, detail: `a member name ${keyDefect}` }
        if (key.length > 1024) return { pointer, detail: 'a member name is too long' }
        stack.push({ value: child, pointer: `${pointer}/${escapeToken(key)}`, depth: depth + 1 })
      }
    }
  }
  return undefined
}

/**
 * The nesting depth of JSON text, counted before parsing: brackets outside strings. Lets a body
 * nested 10,000 deep be refused without building it.
 */
export function jsonTextDepthExceeds(text: string, maxDepth = MAX_JSON_DEPTH): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

/**
 * Strict percent-decoding of one URL component (a path segment, a query name or value, with `+`
 * as a space in queries): undefined when the escapes are not UTF-8 (lone surrogates included,
 * which decodeURIComponent refuses) or the result carries a NUL.
 */
export function decodeComponent(raw: string, plusIsSpace: boolean): string | undefined {
  try {
    const decoded = decodeURIComponent(plusIsSpace ? raw.replaceAll('+', ' ') : raw)
    return textDefect(decoded) === undefined ? decoded : undefined
  } catch {
    return undefined
  }
}
