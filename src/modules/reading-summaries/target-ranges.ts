// Default target ranges drawn on the console's charts, by LOINC code, in the stored unit. They are
// population defaults for orientation, used when the care team has set no target of the patient's
// own (ADJUSTABLE below; ADR-0027): glucose 70-180 mg/dL (3.9-10.0 mmol/L) per the international consensus on time in
// range (Diabetes Care 2019); resting adult heart rate 60-100 /min; blood pressure below
// 130/80 mm Hg (2017 ACC/AHA guideline) and above 90/60; SpO2 95-100 %; body temperature
// 36.1-37.2 °C. No default for body weight.

export interface TargetRange {
  readonly low: number
  readonly high: number
}

const TARGETS: Readonly<Record<string, TargetRange>> = {
  '2339-0': { low: 70, high: 180 },
  '41653-7': { low: 70, high: 180 },
  '15074-8': { low: 3.9, high: 10.0 },
  '14743-9': { low: 3.9, high: 10.0 },
  '8867-4': { low: 60, high: 100 },
  '8480-6': { low: 90, high: 130 },
  '8462-4': { low: 60, high: 80 },
  '59408-5': { low: 95, high: 100 },
  '2708-6': { low: 95, high: 100 },
  '8310-5': { low: 36.1, high: 37.2 },
}

export function targetRange(code: string): TargetRange | null {
  return TARGETS[code] ?? null
}

/** The glucose codes and their unit (the AGP applies to these). */
export const GLUCOSE_CODES: Readonly<Record<string, 'mg/dL' | 'mmol/L'>> = {
  '2339-0': 'mg/dL',
  '41653-7': 'mg/dL',
  '15074-8': 'mmol/L',
  '14743-9': 'mmol/L',
}

/**
 * The measurements whose target a care team may set for one patient (ADR-0027), with the unit the
 * range is in (the unit the readings are stored in) and the bounds a target must stay within. The
 * bounds keep a typo from becoming a target: glucose targets lie between the consensus' level-2
 * thresholds (54 and 250 mg/dL; 3.0 and 13.9 mmol/L), so time below/above range stays meaningful;
 * blood pressure and heart rate between values no adult target goes beyond.
 */
export const ADJUSTABLE: Readonly<
  Record<
    string,
    { readonly unit: string; readonly min: number; readonly max: number; readonly label: string }
  >
> = {
  '2339-0': { unit: 'mg/dL', min: 54, max: 250, label: 'Glucose' },
  '41653-7': { unit: 'mg/dL', min: 54, max: 250, label: 'Glucose (capillary)' },
  '15074-8': { unit: 'mmol/L', min: 3.0, max: 13.9, label: 'Glucose (mmol/L)' },
  '14743-9': { unit: 'mmol/L', min: 3.0, max: 13.9, label: 'Glucose (capillary, mmol/L)' },
  '8480-6': { unit: 'mm[Hg]', min: 70, max: 220, label: 'Systolic blood pressure' },
  '8462-4': { unit: 'mm[Hg]', min: 40, max: 130, label: 'Diastolic blood pressure' },
  '8867-4': { unit: '/min', min: 30, max: 200, label: 'Heart rate' },
}

/** What is wrong with a proposed target, as [pointer, detail] pairs; empty when it is acceptable. */
export function targetProblems(
  code: string,
  range: { low: number; high: number; unit: string },
): Array<{ pointer: string; detail: string }> {
  const rule = ADJUSTABLE[code]
  if (!rule) return [{ pointer: '/params/code', detail: `one of ${Object.keys(ADJUSTABLE).join(', ')}` }]
  const out: Array<{ pointer: string; detail: string }> = []
  if (range.unit !== rule.unit)
    out.push({
      pointer: '/body/unit',
      detail: `must be ${rule.unit}, the unit this measurement is stored in`,
    })
  for (const k of ['low', 'high'] as const) {
    if (!Number.isFinite(range[k]) || range[k] < rule.min || range[k] > rule.max)
      out.push({ pointer: `/body/${k}`, detail: `must be between ${rule.min} and ${rule.max} ${rule.unit}` })
  }
  if (!(range.low < range.high)) out.push({ pointer: '/body/high', detail: 'must be above low' })
  return out
}
