// The measurements Vigil accepts, by LOINC code: the UCUM units each may arrive in, the unit it is
// stored in, and the physiologically plausible range (ADR-0010). A value outside its range is a
// device or transcription fault, never a reading to show a clinician (a heart rate of 900).
//
// Conversions are exact linear maps to the stored unit; the range is checked after conversion.
// Glucose: 1 mmol/L = 18.016 mg/dL (molar mass of glucose 180.16 g/mol).

export interface UnitRule {
  /** value in this unit → value in the stored unit */
  readonly toStored: (v: number) => number
}

export interface MeasurementRule {
  readonly code: string
  readonly display: string
  /** UCUM unit the value is stored in. */
  readonly unit: string
  /** Accepted UCUM units, each with its conversion to `unit`. */
  readonly units: Readonly<Record<string, UnitRule>>
  /** Plausible range, in the stored unit, inclusive. */
  readonly min: number
  readonly max: number
  /** Decimal places kept after a conversion. */
  readonly decimals: number
  readonly category: 'vital-signs' | 'laboratory'
}

export interface PanelRule {
  readonly code: string
  readonly display: string
  /** The component codes the panel must carry, each exactly once. */
  readonly components: readonly string[]
  readonly category: 'vital-signs'
}

const same: UnitRule = { toStored: (v) => v }
const GLUCOSE_MG_PER_MMOL = 18.016

const glucoseMass = (code: string, display: string): MeasurementRule => ({
  code,
  display,
  unit: 'mg/dL',
  units: { 'mg/dL': same, 'mmol/L': { toStored: (v) => v * GLUCOSE_MG_PER_MMOL } },
  min: 10,
  max: 1000,
  decimals: 1,
  category: 'laboratory',
})
const glucoseMoles = (code: string, display: string): MeasurementRule => ({
  code,
  display,
  unit: 'mmol/L',
  units: { 'mmol/L': same, 'mg/dL': { toStored: (v) => v / GLUCOSE_MG_PER_MMOL } },
  min: 0.5,
  max: 55,
  decimals: 2,
  category: 'laboratory',
})

const RULES: readonly MeasurementRule[] = [
  glucoseMass('2339-0', 'Glucose [Mass/volume] in Blood'),
  glucoseMass('41653-7', 'Glucose [Mass/volume] in Capillary blood by Glucometer'),
  glucoseMoles('15074-8', 'Glucose [Moles/volume] in Blood'),
  glucoseMoles('14743-9', 'Glucose [Moles/volume] in Capillary blood by Glucometer'),
  {
    code: '8867-4',
    display: 'Heart rate',
    unit: '/min',
    units: { '/min': same, '{beats}/min': same },
    min: 20,
    max: 300,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '59408-5',
    display: 'Oxygen saturation in Arterial blood by Pulse oximetry',
    unit: '%',
    units: { '%': same },
    min: 50,
    max: 100,
    decimals: 1,
    category: 'vital-signs',
  },
  {
    code: '2708-6',
    display: 'Oxygen saturation in Arterial blood',
    unit: '%',
    units: { '%': same },
    min: 50,
    max: 100,
    decimals: 1,
    category: 'vital-signs',
  },
  {
    code: '8480-6',
    display: 'Systolic blood pressure',
    unit: 'mm[Hg]',
    units: { 'mm[Hg]': same },
    min: 40,
    max: 300,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '8462-4',
    display: 'Diastolic blood pressure',
    unit: 'mm[Hg]',
    units: { 'mm[Hg]': same },
    min: 20,
    max: 200,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '29463-7',
    display: 'Body weight',
    unit: 'kg',
    units: { kg: same, g: { toStored: (v) => v / 1000 }, '[lb_av]': { toStored: (v) => v * 0.45359237 } },
    min: 0.5,
    max: 500,
    decimals: 2,
    category: 'vital-signs',
  },
  {
    code: '8310-5',
    display: 'Body temperature',
    unit: 'Cel',
    units: { Cel: same, '[degF]': { toStored: (v) => ((v - 32) * 5) / 9 } },
    min: 25,
    max: 45,
    decimals: 2,
    category: 'vital-signs',
  },
]

export const BLOOD_PRESSURE_PANEL: PanelRule = {
  code: '85354-9',
  display: 'Blood pressure panel with all children optional',
  components: ['8480-6', '8462-4'],
  category: 'vital-signs',
}

const BY_CODE = new Map(RULES.map((r) => [r.code, r]))

export function measurementRule(code: string): MeasurementRule | undefined {
  return BY_CODE.get(code)
}

export function panelRule(code: string): PanelRule | undefined {
  return code === BLOOD_PRESSURE_PANEL.code ? BLOOD_PRESSURE_PANEL : undefined
}

export const KNOWN_CODES: readonly string[] = [...RULES.map((r) => r.code), BLOOD_PRESSURE_PANEL.code]

/** Rounds a converted value to the rule's precision; a value in the stored unit is kept as sent. */
export function toStoredValue(rule: MeasurementRule, value: number, unit: string): number | undefined {
  const conv = rule.units[unit]
  if (!conv) return undefined
  if (unit === rule.unit) return value
  const f = 10 ** rule.decimals
  return Math.round(conv.toStored(value) * f) / f
}
