// Default target ranges drawn on the console's charts, by LOINC code, in the stored unit. They are
// population defaults for orientation, not a patient's prescribed targets (which Vigil does not
// store yet): glucose 70-180 mg/dL (3.9-10.0 mmol/L) per the international consensus on time in
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
export const GLUCOSE_CODES: Readonly<Record<string, 'mg/dL' | 'mmol/L'>> = { '2339-0': 'mg/dL', '41653-7': 'mg/dL', '15074-8': 'mmol/L', '14743-9': 'mmol/L' }
