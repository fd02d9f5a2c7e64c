// Patient records as an organisation keeps them: create (/api/v2/organisations/{id}/patients, by its
// administrators), read one (/api/v2/patients/{id}) and list (/api/v2/patients) — the latter two for
// whoever the policy lets read the patient's demographics (own record, care team, consent,
// break-glass), decided per patient; a patient the caller may not see answers 404 (ADR-0008).
// Demographics are sealed with the patient's data key (ADR-0009) and opened only to answer.

import { Type, type Static } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import type { ModuleContext } from '../context.ts'
import type { Patient } from '../patients/index.ts'
import { authorizeOrganisation } from './organisations.routes.ts'
import type { OrganisationDirectory, PatientRecordService } from './service.ts'
import { IdParam, iso, problem, Time, Uuid } from './schemas.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const Demographics = Type.Object(
  {
    name: Type.Optional(
      Type.Object(
        {
          given: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 5 })),
          family: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
    birthDate: Type.Optional(Type.String({ format: 'date' })),
    gender: Type.Optional(Type.Enum(['male', 'female', 'other', 'unknown'])),
    identifiers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            system: Type.String({ minLength: 1, maxLength: 200 }),
            value: Type.String({ minLength: 1, maxLength: 200 }),
          },
          { additionalProperties: false },
        ),
        { maxItems: 10 },
      ),
    ),
  },
  { additionalProperties: false },
)
const CreatePatient = Type.Object(
  {
    demographics: Demographics,
    userId: Type.Optional(
      Uuid('An existing user holding the patient role in this organisation, whose own record this is'),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        demographics: {
          name: { given: ['Ada'], family: 'Lovelace' },
          birthDate: '1985-12-10',
          gender: 'female',
          identifiers: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: '123456782' }],
        },
      },
    ],
  },
)
const CreatedPatient = Type.Object({
  id: Uuid(),
  organisationId: Type.Union([Uuid(), Type.Null()]),
  userId: Type.Union([Uuid(), Type.Null()]),
  version: Type.Integer(),
  createdAt: Time(),
})
const PatientView = Type.Object({
  id: Uuid(),
  organisationId: Type.Union([Uuid(), Type.Null()]),
  demographics: Demographics,
  version: Type.Integer(),
  createdAt: Time(),
  updatedAt: Time(),
})
const PatientList = Type.Object({ patients: Type.Array(PatientView) })

const present = (p: Patient): Static<typeof PatientView> => ({
  id: p.id,
  organisationId: p.organisationId,
  // The domain's arrays are readonly; the wire type's are not. Same values, no copy.
  demographics: (p.demographics ?? {}) as Static<typeof Demographics>,
  version: p.version,
  createdAt: iso(p.createdAt),
  updatedAt: iso(p.updatedAt),
})

export function patientRoutes(
  ctx: ModuleContext,
  deps: { directory: OrganisationDirectory; records: PatientRecordService },
): RoutePlugin {
  const { directory, records } = deps
  return async function patients(app) {
    const tags = ['Patients']

    app.post(
      '/organisations/:id/patients',
      {
        config: { policy: 'patients.manage' },
        schema: {
          tags,
          summary:
            "Create a patient record in the organisation (its administrators); demographics are sealed with the patient's own data key",
          params: IdParam,
          body: CreatePatient,
          response: {
            201: CreatedPatient,
            404: problem('No such organisation, or not one the caller administers'),
            409: problem('The user already has a patient record'),
            422: problem('The user does not hold the patient role in this organisation'),
          },
        },
      },
      async (request, reply) => {
        const organisation = await authorizeOrganisation(
          request,
          directory,
          request.params.id,
          'patients.manage',
        )
        const created = await records.create(organisation.id, request.body, (tx, entry) =>
          request.auditInTransaction(tx, entry),
        )
        return reply.code(201).send({
          id: created.id,
          organisationId: created.organisationId,
          userId: created.userId,
          version: created.version,
          createdAt: iso(created.createdAt),
        })
      },
    )

    app.get(
      '/patients/:id',
      {
        config: { policy: 'patients.read' },
        schema: {
          tags,
          summary: "A patient's record with their demographics",
          params: IdParam,
          response: { 200: PatientView, 404: problem('No such patient, or not one the caller may see') },
        },
      },
      async (request) => {
        const id = request.params.id
        await request.authorize('patients.read', { type: 'patients', id, patientId: id })
        const patient = await ctx.patients.get(id)
        if (!patient || patient.demographics === null) throw new AppError('NOT_FOUND')
        return present(patient)
      },
    )

    app.get(
      '/patients',
      {
        config: { policy: 'patients.read' },
        schema: {
          tags,
          summary: 'The patients the caller may see now (own record, care teams, consents, break-glass)',
          response: { 200: PatientList },
        },
      },
      async (request) => {
        const scope = await request.patientScope('patients.read')
        if (scope.kind === 'none') return { patients: [] }
        const found = (await ctx.patients.getMany(scope.ids)).filter((p) => p.demographics !== null)
        // The audit entries name every patient listed (src/audit/http-audit.ts).
        request.carriesPatients(found.map((p) => p.id))
        return { patients: found.map(present) }
      },
    )
  }
}
