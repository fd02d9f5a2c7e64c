// Wire formats shared by the care module's routes (organisations, users, patients, care teams,
// consents, break-glass). Every object is closed (additionalProperties: false) and times are
// RFC 3339 with an offset.

import { Type } from 'typebox'
import { PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA_ID } from '../../platform/http/problem.ts'

export const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${PROBLEM_SCHEMA_ID}#` } } } })

export const Uuid = (description?: string) => Type.String({ format: 'uuid', ...(description ? { description } : {}) })
export const Time = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) })

/** The roles an organisation hands out; admin and auditor are platform-wide and granted only by the CLI. */
export const ORGANISATION_ROLES = ['clinician', 'org-admin', 'patient', 'caregiver'] as const
export type OrganisationRole = (typeof ORGANISATION_ROLES)[number]
export const OrganisationRoleSchema = Type.Enum(ORGANISATION_ROLES)

export const IdParam = Type.Object({ id: Uuid() }, { additionalProperties: false })

export const iso = (d: Date | string): string => new Date(d).toISOString()
