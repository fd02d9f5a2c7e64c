// Dates and instants as Vigil accepts them anywhere (query strings, bodies, FHIR searches and
// resources): RFC 3339 syntax, a real calendar day, a time without a leap second, and a year in
// 0001–9999 — the range every part of the stack agrees on. JavaScript's Date silently rolls
// 2021-02-30 over to 2021-03-02 and reads a two-digit year as 19xx; PostgreSQL has no year 0 and
// fails on it; neither represents 23:59:60. So each value is checked field by field before any of
// them sees it, and refused rather than repaired (ADR-0004, ADR-0015).

export const MIN_YEAR = 1
export const MAX_YEAR = 9999

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

export function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** A calendar day: year 0001–9999, month 1–12, day within the month (29 February only in leap years). */
export function isCalendarDay(year: number, month: number, day: number): boolean {
  return (
    Number.isInteger(year) &&
    year >= MIN_YEAR &&
    year <= MAX_YEAR &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month)
  )
}

/** A wall-clock time: 00:00:00–23:59:59 (no leap second: neither Date nor PostgreSQL holds one). */
export function isClockTime(hour: number, minute: number, second = 0): boolean {
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 59
}

/** A UTC offset ±hh:mm within ±23:59. */
export function isUtcOffset(offset: string): boolean {
  if (offset === 'Z' || offset === 'z') return true
  const m = /^[+-](\d{2}):(\d{2})$/.exec(offset)
  return m !== null && Number(m[1]) <= 23 && Number(m[2]) <= 59
}

/** The instant of a UTC calendar time, years 1–99 included (Date.UTC would read them as 19xx). */
export function utcInstant(
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): Date {
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  d.setUTCHours(hour, minute, second, ms)
  return d
}

const FIRST_INSTANT = utcInstant(MIN_YEAR, 1, 1).getTime()
const END_INSTANT = utcInstant(MAX_YEAR + 1, 1, 1).getTime()

/** Whether an instant lies in 0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999Z (an offset can push a valid local time out). */
export function isInstantInRange(at: Date): boolean {
  const t = at.getTime()
  return Number.isFinite(t) && t >= FIRST_INSTANT && t < END_INSTANT
}

/** RFC 3339 full-date (`2024-02-29`), calendar-valid, year 0001–9999. */
export function isValidDate(value: string): boolean {
  const m = DATE.exec(value)
  return m !== null && isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]))
}

/** RFC 3339 date-time with an offset → its instant; undefined when the syntax, the calendar, the clock or the range is wrong. */
export function parseDateTime(value: string): Date | undefined {
  const m = DATE_TIME.exec(value)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, , offset] = m
  if (
    !isCalendarDay(Number(y), Number(mo), Number(d)) ||
    !isClockTime(Number(h), Number(mi), Number(s)) ||
    !isUtcOffset(offset as string)
  )
    return undefined
  const at = new Date(value)
  return isInstantInRange(at) ? at : undefined
}

export function isValidDateTime(value: string): boolean {
  return parseDateTime(value) !== undefined
}
