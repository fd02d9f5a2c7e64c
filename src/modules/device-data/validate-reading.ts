// The semantic checks a schema cannot make (ADR-0010): the code is one Vigil knows, the unit fits
// the code, the value is physiologically plausible, a blood-pressure panel has both components,
// and the device's time is a real instant with its UTC offset, not in the future and not from a
// reset clock. Every problem names its place in the body (JSON Pointer) and never echoes a value.

import { isInstantInRange } from '../../platform/http/calendar.ts'
import type { ProblemFieldError } from '../../platform/http/errors.ts'
import { measurementRule, panelRule, toStoredValue } from './loinc-catalogue.ts'
import type { ReadingComponent, ReadingContent } from './reading-content.ts'

/** RFC 3339 date-time with a mandatory offset, to the millisecond (the dedup key's precision). */
export const RFC3339_WITH_OFFSET =
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,3})?(Z|[+-]\\d{2}:\\d{2})$'
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|([+-])(\d{2}):(\d{2}))$/

/** A device clock may run a little ahead of ours. */
export const MAX_FUTURE_MS = 5 * 60_000
/** Older than this is a reset clock (1970, 2000 defaults), not a reading kept in a meter's memory. */
export const MAX_AGE_MS = 10 * 366 * 24 * 3600_000

export interface ReadingInput {
  readonly clientId?: string | undefined
  readonly code: string
  readonly value?: number | undefined
  readonly unit?: string | undefined
  readonly components?: readonly ReadingComponent[] | undefined
  readonly effectiveDateTime: string
  readonly sequence?: number | undefined
  readonly note?: string | undefined
}

export interface ValidReading {
  readonly clientId: string | null
  readonly code: string
  readonly category: string
  readonly content: ReadingContent
  readonly effectiveAt: Date
  /** Minutes east of UTC, as the device reported. */
  readonly offsetMinutes: number
  readonly sequence: number | null
}

export function parseDeviceTime(text: string): { at: Date; offsetMinutes: number } | undefined {
  const m = TIME.exec(text)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, frac, zone, sign, oh, om] = m as unknown as string[]
  const offsetMinutes = zone === 'Z' ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om))
  if (Number(om) > 59 || Math.abs(offsetMinutes) > 18 * 60) return undefined
  const ms = frac ? Number(frac.padEnd(3, '0')) : 0
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms)
  const check = new Date(local)
  // Date.UTC rolls 31 February into March: a real calendar instant must round-trip.
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d)
  )
    return undefined
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined
  const at = new Date(local - offsetMinutes * 60_000)
  // An offset can carry 0001-01-01T00:00 local out of the years every part of the stack holds (ADR-0015).
  return isInstantInRange(at) ? { at, offsetMinutes } : undefined
}

/** An instant in the device's own offset, RFC 3339 with milliseconds. */
export function formatDeviceTime(at: Date, offsetMinutes: number): string {
  const local = new Date(at.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23)
  if (offsetMinutes === 0) return `${local}Z`
  const abs = Math.abs(offsetMinutes)
  return `${local}${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
}

function checkValue(
  code: string,
  value: number | undefined,
  unit: string | undefined,
  at: string,
  errors: ProblemFieldError[],
): { value: number; unit: string } | undefined {
  const rule = measurementRule(code)
  if (!rule) {
    errors.push({ pointer: `${at}/code`, detail: 'unknown or unsupported LOINC code' })
    return undefined
  }
  if (value === undefined || unit === undefined) {
    errors.push({ pointer: at, detail: `code ${code} needs value and unit` })
    return undefined
  }
  const stored = toStoredValue(rule, value, unit)
  if (stored === undefined) {
    errors.push({
      pointer: `${at}/unit`,
      detail: `unit not accepted for ${code}; expected one of ${Object.keys(rule.units).join(', ')} (UCUM)`,
    })
    return undefined
  }
  if (!Number.isFinite(stored) || stored < rule.min || stored > rule.max) {
    errors.push({
      pointer: `${at}/value`,
      detail: `outside the plausible range for ${code}: ${rule.min} to ${rule.max} ${rule.unit}`,
    })
    return undefined
  }
  return { value: stored, unit: rule.unit }
}

/** Checks one reading; problems go to `errors` under `at` (e.g. /body/readings/3). */
export function validateReading(
  input: ReadingInput,
  at: string,
  now: Date,
  errors: ProblemFieldError[],
): ValidReading | undefined {
  const before = errors.length
  const time = parseDeviceTime(input.effectiveDateTime)
  if (!time)
    errors.push({
      pointer: `${at}/effectiveDateTime`,
      detail: 'expected an RFC 3339 date-time with its UTC offset, e.g. 2026-11-22T08:30:00.000+01:00',
    })
  else if (time.at.getTime() > now.getTime() + MAX_FUTURE_MS)
    errors.push({ pointer: `${at}/effectiveDateTime`, detail: 'more than 5 minutes in the future' })
  else if (time.at.getTime() < now.getTime() - MAX_AGE_MS)
    errors.push({
      pointer: `${at}/effectiveDateTime`,
      detail: 'more than 10 years in the past (a reset device clock?)',
    })

  const panel = panelRule(input.code)
  let content: ReadingContent | undefined
  if (panel) {
    if (input.value !== undefined || input.unit !== undefined)
      errors.push({
        pointer: at,
        detail: `code ${input.code} is a panel: send components, not value and unit`,
      })
    const components = input.components ?? []
    const found: ReadingComponent[] = []
    for (const need of panel.components) {
      const i = components.findIndex((c) => c.code === need)
      if (i < 0) errors.push({ pointer: `${at}/components`, detail: `component ${need} is required` })
    }
    components.forEach((c, i) => {
      const where = `${at}/components/${i}`
      if (!panel.components.includes(c.code))
        errors.push({ pointer: `${where}/code`, detail: `not a component of ${panel.code}` })
      else if (components.findIndex((o) => o.code === c.code) !== i)
        errors.push({ pointer: `${where}/code`, detail: 'component given twice' })
      else {
        const v = checkValue(c.code, c.value, c.unit, where, errors)
        if (v) found.push({ code: c.code, ...v })
      }
    })
    const sys = found.find((c) => c.code === '8480-6')
    const dia = found.find((c) => c.code === '8462-4')
    if (sys && dia && sys.value <= dia.value)
      errors.push({ pointer: `${at}/components`, detail: 'systolic must be above diastolic' })
    content = {
      components: panel.components
        .map((code) => found.find((c) => c.code === code))
        .filter((c): c is ReadingComponent => c !== undefined),
    }
  } else {
    if (input.components !== undefined)
      errors.push({
        pointer: `${at}/components`,
        detail: `code ${input.code} takes value and unit, not components`,
      })
    const v = checkValue(input.code, input.value, input.unit, at, errors)
    if (v) content = { value: v.value, unit: v.unit }
  }
  if (errors.length > before || !time || !content) return undefined
  return {
    clientId: input.clientId ?? null,
    code: input.code,
    category: measurementRule(input.code)?.category ?? panel?.category ?? 'vital-signs',
    content: input.note !== undefined ? { ...content, note: input.note } : content,
    effectiveAt: time.at,
    offsetMinutes: time.offsetMinutes,
    sequence: input.sequence ?? null,
  }
}
