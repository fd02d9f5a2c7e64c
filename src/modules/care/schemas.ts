// Wire formats shared by the care module's routes (organisations, users, patients, care teams,
// consents, break-glass). Every object is closed (additionalProperties: false) and times are
// RFC 3339 with an offset.

import { Type } from 'typebox'
import { problemResponse } from '../../platform/http/problem.ts'

export { problemResponse as problem }

export const Uuid = (description?: string) =>
  Type.String({ format: 'uuid', ...(description ? { description } : {}) })
export const Time = (description?: string) =>
  Type.String({ format: 'date-time', ...(description ? { description } : {}) })

/** The roles an organisation hands out; admin and auditor are platform-wide and granted only by the CLI. */
export const ORGANISATION_ROLES = ['clinician', 'org-admin', 'patient', 'caregiver'] as const
export type OrganisationRole = (typeof ORGANISATION_ROLES)[number]
export const OrganisationRoleSchema = Type.Enum(ORGANISATION_ROLES)

export const IdParam = Type.Object({ id: Uuid() }, { additionalProperties: false })

export const iso = (d: Date | string): string => new Date(d).toISOString()
