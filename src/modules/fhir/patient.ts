// Patient: read, search (_id, identifier through the blind index, name and birthdate compared
// after decryption within the caller's patients only), create by an organisation's
// administrators (patients.manage) with conditional create, update with If-Match.

import type { FastifyRequest } from 'fastify'
import { searchBundle, searchUrl, ignoredParamsOutcome, encodeCursor } from '../../fhir-format/bundle.ts'
import { FhirError } from '../../fhir-format/outcome.ts'
import {
  dateMatches,
  datesOf,
  idsOf,
  isUuid,
  one,
  searchQuerySchema,
  tokensOf,
} from '../../fhir-format/search.ts'
import { assertValidResource } from '../../fhir-format/validate.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { ModuleContext } from '../context.ts'
import type { Demographics, Patient } from '../patients/index.ts'
import {
  AnyResource,
  FhirBody,
  etag,
  fhirBase,
  IdParams,
  ifMatchVersion,
  Outcome,
  fhirCursorSeal,
  pagingOf,
  scopeIds,
  unknownSearchParams,
} from './shared.ts'
import type { TypedApp } from '../../platform/http/typed-routes.ts'
import type { FhirService } from './service.ts'

export function presentPatient(p: Patient): Record<string, unknown> {
  const d = p.demographics ?? {}
  const name =
    d.name && (d.name.family || (d.name.given && d.name.given.length > 0))
      ? [
          {
            ...(d.name.family ? { family: d.name.family } : {}),
            ...(d.name.given?.length ? { given: [...d.name.given] } : {}),
          },
        ]
      : undefined
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: { versionId: String(p.version), lastUpdated: p.updatedAt.toISOString() },
    ...(d.identifiers?.length
      ? { identifier: d.identifiers.map((i) => ({ system: i.system, value: i.value })) }
      : {}),
    active: true,
    ...(name ? { name } : {}),
    ...(d.gender ? { gender: d.gender } : {}),
    ...(d.birthDate ? { birthDate: d.birthDate } : {}),
  }
}

/** The elements Vigil stores for a Patient; anything else is refused rather than silently dropped. */
const STORED = new Set([
  'resourceType',
  'id',
  'meta',
  'text',
  'identifier',
  'active',
  'name',
  'gender',
  'birthDate',
  'managingOrganization',
])

interface PatientResource {
  resourceType: 'Patient'
  id?: string
  identifier?: Array<{ system?: string; value?: string }>
  name?: Array<{ family?: string; given?: string[]; use?: string }>
  gender?: 'male' | 'female' | 'other' | 'unknown'
  birthDate?: string
  active?: boolean
  managingOrganization?: { reference?: string }
}

/** R4 schema, then our profile: identifiers need system and value; one name; only elements we store. */
function demographicsOf(body: unknown): { demographics: Demographics; resource: PatientResource } {
  assertValidResource(body, 'Patient')
  const r = body as PatientResource
  const extra = Object.keys(r).filter((k) => !STORED.has(k))
  if (extra.length)
    throw new FhirError(
      422,
      'not-supported',
      'Vigil does not store these Patient elements',
      extra.map((k) => `Patient.${k}`),
    )
  if (r.active === false)
    throw new FhirError(422, 'business-rule', 'inactive patients are not created through FHIR', [
      'Patient.active',
    ])
  if ((r.name?.length ?? 0) > 1)
    throw new FhirError(422, 'business-rule', 'one name per patient', ['Patient.name'])
  const identifiers = (r.identifier ?? []).map((i, n) => {
    if (!i.system || !i.value)
      throw new FhirError(422, 'required', 'an identifier needs a system and a value', [
        `Patient.identifier[${n}]`,
      ])
    return { system: i.system, value: i.value }
  })
  const name = r.name?.[0]
  return {
    resource: r,
    demographics: {
      ...(name
        ? {
            name: {
              ...(name.family ? { family: name.family } : {}),
              ...(name.given ? { given: name.given } : {}),
            },
          }
        : {}),
      ...(r.birthDate ? { birthDate: r.birthDate } : {}),
      ...(r.gender ? { gender: r.gender } : {}),
      ...(identifiers.length ? { identifiers } : {}),
    },
  }
}

/** The organisation a new patient belongs to: managingOrganization, or the creator's only org-admin organisation. */
function organisationFor(request: FastifyRequest, r: PatientResource): string {
  const ref = r.managingOrganization?.reference
  if (ref !== undefined) {
    const m = /^Organization\/([0-9a-f-]{36})$/i.exec(ref)
    if (!m?.[1] || !isUuid(m[1]))
      throw new FhirError(422, 'value', 'managingOrganization must be Organization/<id>', [
        'Patient.managingOrganization',
      ])
    return m[1].toLowerCase()
  }
  const orgs = (request.principal?.memberships ?? [])
    .filter((m) => m.role === 'org-admin' && m.organisationId)
    .map((m) => m.organisationId as string)
  if (orgs.length !== 1)
    throw new FhirError(422, 'required', 'managingOrganization is required (Organization/<id>)', [
      'Patient.managingOrganization',
    ])
  return orgs[0] as string
}

function nameMatches(p: Patient, prefixes: readonly string[]): boolean {
  const n = p.demographics?.name
  const parts = [n?.family ?? '', ...(n?.given ?? [])]
    .map((s) =>
      s
        .normalize('NFKD')
        .replace(/\p{Diacritic}/gu, '')
        .toLowerCase(),
    )
    .filter(Boolean)
  return prefixes.some((pre) => {
    const want = pre
      .normalize('NFKD')
      .replace(/\p{Diacritic}/gu, '')
      .toLowerCase()
    return parts.some((part) => part.startsWith(want))
  })
}

export function patientRoutes(ctx: ModuleContext, fhir: FhirService) {
  const base = fhirBase(ctx)
  return async function patients(app: TypedApp): Promise<void> {
    app.get(
      '/Patient/:id',
      {
        config: { policy: 'patients.read' },
        schema: {
          tags: ['FHIR'],
          summary: 'Read a Patient',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        if (!isUuid(id)) throw new AppError('NOT_FOUND')
        await request.authorize('patients.read', {
          type: 'Patient',
          id: id.toLowerCase(),
          patientId: id.toLowerCase(),
        })
        const p = await ctx.patients.get(id.toLowerCase())
        if (!p || !p.demographics) throw new AppError('NOT_FOUND')
        reply.header('etag', etag(p.version)).header('last-modified', p.updatedAt.toUTCString())
        return presentPatient(p)
      },
    )

    app.get(
      '/Patient',
      {
        config: { policy: 'patients.read' },
        preValidation: unknownSearchParams('Patient'),
        schema: {
          tags: ['FHIR'],
          summary: 'Search Patients among those the caller may see',
          querystring: searchQuerySchema('Patient'),
          response: { 200: AnyResource },
        },
      },
      async (request) => {
        const q = request.query
        const { count, cursor } = pagingOf(ctx, 'Patient', q)
        if (one(q, '_sort') !== undefined)
          throw new FhirError(400, 'not-supported', '_sort is not supported on Patient', ['_sort'])
        if (q._include)
          throw new FhirError(400, 'not-supported', '_include is not supported on Patient', ['_include'])
        const groups: string[][] = [...idsOf(q)]
        for (const group of tokensOf(q, 'identifier')) {
          const ids = new Set<string>()
          for (const t of group) {
            if (t.system === undefined)
              throw new FhirError(400, 'invalid', 'identifier search needs system|value', ['identifier'])
            for (const id of await ctx.patients.findByIdentifier({ system: t.system, value: t.code }))
              ids.add(id)
          }
          groups.push([...ids])
        }
        const ids = (await scopeIds(request, 'patients.read', groups)).sort()
        const names = (q.name ?? []).map((v) => v.split(','))
        const births = datesOf(q, 'birthdate')
        // Demographics are sealed: names and birth dates are compared after decryption, within the caller's patients only.
        const after = cursor?.d === 'n' ? cursor.k[1] : undefined
        const candidates = after ? ids.filter((id) => id > after) : ids
        const matches: Patient[] = []
        let more = false
        for (let i = 0; i < candidates.length; i += 50) {
          for (const p of await ctx.patients.getMany(candidates.slice(i, i + 50))) {
            if (!p.demographics) continue
            if (!names.every((alternatives) => nameMatches(p, alternatives))) continue
            if (births.length) {
              const bd = p.demographics.birthDate
              if (!bd) continue
              const at = new Date(
                `${bd.length === 4 ? `${bd}-01-01` : bd.length === 7 ? `${bd}-01` : bd}T00:00:00Z`,
              )
              if (!births.every((r) => dateMatches(r, at, new Date(at.getTime() + 86_400_000)))) continue
            }
            if (matches.length === count) {
              more = true
              break
            }
            matches.push(p)
          }
          if (more) break
        }
        const last = matches.at(-1)
        return searchBundle({
          base,
          self: searchUrl(base, 'Patient', q, one(q, '_cursor')),
          next:
            more && last
              ? searchUrl(
                  base,
                  'Patient',
                  q,
                  encodeCursor(
                    { d: 'n', k: ['1970-01-01T00:00:00Z', last.id] },
                    fhirCursorSeal(ctx, 'Patient'),
                  ),
                )
              : undefined,
          matches: matches.map(presentPatient),
          outcome: ignoredParamsOutcome(request.fhirIgnored ?? []),
          now: ctx.clock(),
        })
      },
    )

    app.post(
      '/Patient',
      {
        config: { policy: 'patients.manage' },
        schema: {
          tags: ['FHIR'],
          summary:
            'Create a Patient (organisation administrators); If-None-Exist: identifier=system|value for a conditional create',
          body: {
            ...FhirBody,
            examples: [
              {
                resourceType: 'Patient',
                identifier: [{ system: 'urn:vigil:mrn', value: 'MRN-0001' }],
                name: [{ family: 'Example', given: ['Erin'] }],
                gender: 'female',
                birthDate: '1984-05-06',
              },
            ],
          },
          response: {
            200: AnyResource,
            201: AnyResource,
            412: Outcome('If-None-Exist matches more than one patient'),
            422: Outcome('The Patient uses elements or values Vigil does not store or accept'),
          },
        },
      },
      async (request, reply) => {
        const { demographics, resource } = demographicsOf(request.body)
        const organisationId = organisationFor(request, resource)
        await request.authorize('patients.manage', { type: 'Patient', organisationId })
        const condition = request.headers['if-none-exist']
        if (typeof condition === 'string') {
          const params = new URLSearchParams(condition)
          const keys = [...params.keys()]
          const value = params.get('identifier')
          if (keys.length !== 1 || value === null || !value.includes('|'))
            throw new FhirError(400, 'not-supported', 'If-None-Exist supports identifier=system|value')
          const bar = value.indexOf('|')
          const found = await ctx.patients.findByIdentifier({
            system: value.slice(0, bar),
            value: value.slice(bar + 1),
          })
          // Only this organisation's records count: another organisation's patient is not revealed.
          const rows = found.length ? await fhir.patientVersionsInOrganisation(found, organisationId) : []
          if (rows.length > 1)
            throw new FhirError(412, 'duplicate', 'If-None-Exist matches more than one patient')
          const existing = rows[0]
          if (existing) {
            reply
              .code(200)
              .header('location', `${base}/Patient/${existing.id}/_history/${Number(existing.version)}`)
              .header('etag', etag(Number(existing.version)))
            return {
              resourceType: 'OperationOutcome',
              issue: [
                {
                  severity: 'information',
                  code: 'duplicate',
                  diagnostics: `a patient with this identifier exists: Patient/${existing.id}`,
                },
              ],
            }
          }
        }
        const p = await fhir.createPatient({ organisationId, demographics }, (tx, entry) =>
          request.auditInTransaction(tx, entry),
        )
        reply
          .code(201)
          .header('location', `${base}/Patient/${p.id}/_history/${p.version}`)
          .header('etag', etag(p.version))
        return presentPatient(p)
      },
    )

    app.put(
      '/Patient/:id',
      {
        config: { policy: 'patients.write' },
        schema: {
          tags: ['FHIR'],
          summary: 'Update a Patient (If-Match: W/"<versionId>" refuses a lost update with 412)',
          params: IdParams,
          body: {
            ...FhirBody,
            examples: [
              {
                resourceType: 'Patient',
                id: '00000000-0000-4000-8000-000000000000',
                name: [{ family: 'Example', given: ['Erin'] }],
                birthDate: '1984-05-06',
              },
            ],
          },
          response: {
            200: AnyResource,
            412: Outcome('If-Match names a version that is not the current one, or is not a version ETag'),
            422: Outcome(
              'The Patient uses elements or values Vigil does not accept here (managingOrganization cannot change)',
            ),
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        if (!isUuid(id)) throw new AppError('NOT_FOUND')
        const patientId = id.toLowerCase()
        await request.authorize('patients.write', { type: 'Patient', id: patientId, patientId })
        const expected = ifMatchVersion(request.headers['if-match'] as string | undefined)
        const { demographics, resource } = demographicsOf(request.body)
        if (resource.id?.toLowerCase() !== patientId)
          throw new FhirError(400, 'invalid', 'the resource id must equal the id in the URL', ['Patient.id'])
        if (resource.managingOrganization !== undefined)
          throw new FhirError(422, 'not-supported', 'managingOrganization cannot be changed here', [
            'Patient.managingOrganization',
          ])
        const updated = await fhir.updatePatient(patientId, demographics, expected, (tx, entry) =>
          request.auditInTransaction(tx, entry),
        )
        if (updated === undefined) throw new AppError('NOT_FOUND')
        if (updated === 'conflict')
          throw new FhirError(412, 'conflict', 'the patient has changed since that version (If-Match)')
        reply
          .header('etag', etag(updated.version))
          .header('location', `${base}/Patient/${updated.id}/_history/${updated.version}`)
        return presentPatient(updated)
      },
    )
  }
}
