// Wire formats of /api/v2/device-data (ADR-0010): a batch of 1–1000 readings in, one outcome per
// reading out; the query's parameters and page. The schema rejects unknown fields, wrong types and
// a time without its offset (400 naming the reading's index); validate-reading.ts does the rest.

import { Type, type Static } from 'typebox'
import { KNOWN_CODES } from './loinc-catalogue.ts'
import { RFC3339_WITH_OFFSET } from './validate-reading.ts'

export const MAX_BATCH = 1000

const Code = Type.String({
  pattern: '^[0-9]{1,7}-[0-9]$',
  description: `LOINC code; supported: ${KNOWN_CODES.join(', ')}`,
})
const Unit = Type.String({
  minLength: 1,
  maxLength: 32,
  description: 'UCUM unit (mg/dL, mmol/L, /min, %, mm[Hg], kg, Cel, …)',
})
const Value = Type.Number({ description: 'The measured value, in `unit`' })
const Time = Type.String({
  pattern: RFC3339_WITH_OFFSET,
  description: "The device's own time, RFC 3339 with its UTC offset (required), to the millisecond",
})

export const Component = Type.Object(
  { code: Code, value: Value, unit: Unit },
  { additionalProperties: false },
)

export const ReadingIn = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: "The device's own id for the reading: the dedup key with the device when given",
      }),
    ),
    code: Code,
    value: Type.Optional(Value),
    unit: Type.Optional(Unit),
    components: Type.Optional(
      Type.Array(Component, {
        minItems: 1,
        maxItems: 4,
        description: 'For a panel (85354-9 blood pressure): systolic 8480-6 and diastolic 8462-4',
      }),
    ),
    effectiveDateTime: Time,
    sequence: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description:
          "The device's sequence number: tells apart two readings of one code in the same millisecond",
      }),
    ),
    note: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1000, description: 'Free text; sealed like the value' }),
    ),
  },
  { additionalProperties: false },
)

export const PostReadings = Type.Object(
  {
    patientId: Type.Optional(
      Type.String({
        format: 'uuid',
        description:
          'The patient the readings are for. A device may omit it (its binding decides); a user (clinician) must give it',
      }),
    ),
    readings: Type.Array(ReadingIn, { minItems: 1, maxItems: MAX_BATCH }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        readings: [
          {
            id: 'gm1-000123',
            code: '2339-0',
            value: 104,
            unit: 'mg/dL',
            effectiveDateTime: '2026-11-22T07:45:12.250+01:00',
            sequence: 123,
          },
          {
            id: 'gm1-000124',
            code: '85354-9',
            components: [
              { code: '8480-6', value: 128, unit: 'mm[Hg]' },
              { code: '8462-4', value: 82, unit: 'mm[Hg]' },
            ],
            effectiveDateTime: '2026-11-22T07:46:00.000+01:00',
          },
          {
            code: '8867-4',
            value: 72,
            unit: '/min',
            effectiveDateTime: '2026-11-22T06:46:00Z',
            note: 'after the morning walk',
          },
        ],
      },
    ],
  },
)
export type PostReadings = Static<typeof PostReadings>

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      pattern: '^[\\x21-\\x7E]{1,255}$',
      description:
        'Makes a retry safe: an identical request under the same key replays the first answer; another body is refused (422)',
    }),
  ),
})

const OutcomeOut = Type.Object({
  index: Type.Integer({ description: "The reading's position in the request" }),
  outcome: Type.Union([Type.Literal('created'), Type.Literal('duplicate'), Type.Literal('rejected')]),
  id: Type.Optional(
    Type.String({ description: 'created: the new reading; duplicate: the reading already stored' }),
  ),
  clientId: Type.Optional(Type.String()),
  reason: Type.Optional(Type.Literal('conflict')),
  conflictsWith: Type.Optional(
    Type.String({ description: 'rejected (conflict): the different reading stored under the same key' }),
  ),
  detail: Type.Optional(Type.String()),
})

export const BatchResult = Type.Object({
  created: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Integer(),
  results: Type.Array(OutcomeOut),
})

export const ReadingsQuery = Type.Object(
  {
    patient: Type.Optional(
      Type.String({ format: 'uuid', description: "The patient; a patient's own token may omit it" }),
    ),
    code: Type.Optional(Code),
    from: Type.Optional(
      Type.String({ pattern: RFC3339_WITH_OFFSET, description: 'Inclusive lower bound of the device time' }),
    ),
    to: Type.Optional(
      Type.String({ pattern: RFC3339_WITH_OFFSET, description: 'Exclusive upper bound of the device time' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'From the previous page: nextCursor',
      }),
    ),
  },
  { additionalProperties: false },
)
export type ReadingsQuery = Static<typeof ReadingsQuery>

export const ReadingOut = Type.Object({
  id: Type.String(),
  patientId: Type.String(),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  clientId: Type.Optional(Type.String()),
  code: Type.String(),
  category: Type.String(),
  value: Type.Optional(Type.Number()),
  unit: Type.Optional(Type.String()),
  components: Type.Optional(
    Type.Array(Type.Object({ code: Type.String(), value: Type.Number(), unit: Type.String() })),
  ),
  note: Type.Optional(Type.String()),
  effectiveDateTime: Type.String({ description: "The device's time, in its own offset" }),
  receivedAt: Type.String({ description: "The server's time of receipt (UTC)" }),
  sequence: Type.Optional(Type.Integer()),
  source: Type.String({ description: 'The contract that wrote it: v1, v2' }),
})

export const ReadingPage = Type.Object({
  readings: Type.Array(ReadingOut),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Absent (null) on the last page' }),
})
