// FHIR's date, dateTime, instant and time primitives, checked against the calendar and the clock.
// The R4 JSON schema checks them only by pattern, which lets 2021-02-29 and a leap second (…:60)
// through; they would then be rolled over (2021-03-01) or fail further down. Added to the R4 schema
// as formats (schema-validation.ts), so every such element of every resource is checked (ADR-0015).

import {
  isCalendarDay,
  isClockTime,
  isInstantInRange,
  isUtcOffset,
  MAX_YEAR,
  MIN_YEAR,
} from '../platform/http/calendar.ts'

const PARTIAL = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2}))?)?)?$/
const TIME = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?$/

function check(value: string, requireTime: boolean, allowTime: boolean): boolean {
  const m = PARTIAL.exec(value)
  if (!m) return false
  const [, y, mo, d, h, mi, s, , offset] = m
  const year = Number(y)
  if (year < MIN_YEAR || year > MAX_YEAR) return false
  if (mo !== undefined && (Number(mo) < 1 || Number(mo) > 12)) return false
  if (d !== undefined && !isCalendarDay(year, Number(mo), Number(d))) return false
  if (h === undefined) return !requireTime
  if (!allowTime || !isClockTime(Number(h), Number(mi), Number(s)) || !isUtcOffset(offset as string))
    return false
  return isInstantInRange(new Date(value))
}

/** date: YYYY, YYYY-MM or YYYY-MM-DD, a real calendar day. */
export const isFhirDate = (value: string): boolean => check(value, false, false)
/** dateTime: a date, or a full date-time with an offset; no leap second. */
export const isFhirDateTime = (value: string): boolean => check(value, false, true)
/** instant: a full date-time with an offset; no leap second. */
export const isFhirInstant = (value: string): boolean => /T/.test(value) && check(value, true, true)
/** time: hh:mm:ss[.fff], no leap second. */
export function isFhirTime(value: string): boolean {
  const m = TIME.exec(value)
  return m !== null && isClockTime(Number(m[1]), Number(m[2]), Number(m[3]))
}
