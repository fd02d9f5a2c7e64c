// /api/v2/devices — the device registry. 'devices.manage' (an administrator, or an organisation's
// administrator for that organisation's devices) registers, lists, updates, binds and unbinds;
// 'devices.bind' lets a patient pair an unbound device to their own record with its one-time pairing code,
// 'devices.unpair' unpair one of their own (DELETE /api/v2/me/devices/{id}; ADR-0027).

import type { FastifyRequest } from 'fastify'
import { PublicJwk as ClientPublicJwk } from '../clients/index.ts'
import { Type, type Static } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { Principal } from '../../security/authn/index.ts'
import { BindingView, DeviceView, presentBinding, presentDevice } from './device.presenter.ts'
import { DEVICE_TYPES, type Device, type DeviceService } from './service.ts'
import { noContent, type RoutePlugin } from '../../platform/http/typed-routes.ts'

const Label = (what: string) =>
  Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x20-\\x7E]+$', description: what })

// The clients module's public-JWK schema, without key_ops (a device's key only signs its assertions).
const PublicJwk = Type.Omit(ClientPublicJwk, ['key_ops'], { additionalProperties: false })

const RegisterDevice = Type.Object(
  {
    manufacturer: Label('Manufacturer'),
    model: Label('Model'),
    serial: Label('Serial number, as on the label'),
    type: Type.Union(DEVICE_TYPES.map((t) => Type.Literal(t))),
    firmwareVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    organisationId: Type.Optional(
      Type.String({
        format: 'uuid',
        description: "The organisation that manages it (required for an organisation's administrator)",
      }),
    ),
    dailyQuota: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000_000,
        description: 'Readings a day; default DEVICE_DAILY_QUOTA',
      }),
    ),
    jwks: Type.Optional(
      Type.Object(
        { keys: Type.Array(PublicJwk, { minItems: 1, maxItems: 5 }) },
        {
          additionalProperties: false,
          description:
            "The device's public keys: it authenticates with private_key_jwt. Without them a secret is generated",
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        manufacturer: 'Acme Medical',
        model: 'GlucoOne',
        serial: 'GO-2026-000451',
        type: 'glucometer',
        firmwareVersion: '2.4.1',
      },
    ],
  },
)
type RegisterDevice = Static<typeof RegisterDevice>

const UpdateDevice = Type.Object(
  {
    firmwareVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    status: Type.Optional(
      Type.Union([Type.Literal('active'), Type.Literal('disabled')], {
        description: "A disabled device's tokens are refused at once",
      }),
    ),
    dailyQuota: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 100_000_000 }), Type.Null()], {
        description: 'null: the default',
      }),
    ),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    examples: [{ firmwareVersion: '2.5.0' }, { status: 'disabled' }],
  },
)
type UpdateDevice = Static<typeof UpdateDevice>

const Bind = Type.Object(
  { patientId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false, examples: [{ patientId: '3f0c9d43-5a55-4c1e-9d8e-2c2b4f1d7a10' }] },
)
const Pair = Type.Object(
  {
    manufacturer: Label('Manufacturer'),
    model: Label('Model'),
    serial: Label('Serial number, as on the label'),
    pairingCode: Type.String({
      minLength: 8,
      maxLength: 40,
      description:
        'The one-time code that came with the device (XXXX-XXXX-XXXX; case and dashes do not matter)',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        manufacturer: 'Acme Medical',
        model: 'GlucoOne',
        serial: 'GO-2026-000451',
        pairingCode: 'K7QM-4XHT-9WPC',
      },
    ],
  },
)
const PairingCode = Type.Object({
  pairingCode: Type.String({ description: 'Shown this once, never again; pairing spends it' }),
})
const IdParam = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
type IdParam = Static<typeof IdParam>

const Registered = Type.Object({
  device: DeviceView,
  clientId: Type.String({
    description: "The device's OAuth client: client credentials at the token endpoint",
  }),
  clientSecret: Type.Optional(
    Type.String({ description: 'Shown this once, never again (absent with private_key_jwt)' }),
  ),
  pairingCode: Type.String({
    description:
      'The one-time code a patient pairs the device with (to print or ship with it); shown this once',
  }),
})

function isAdmin(p: Principal): boolean {
  return p.kind === 'user' && p.roles.includes('admin')
}

export function deviceRegistryRoutes(deps: { devices: DeviceService }): RoutePlugin {
  const { devices } = deps
  return async function deviceRegistry(app) {
    const tags = ['Devices']
    const manage = { policy: 'devices.manage' } as const

    /** The device, if the caller may manage it (404 otherwise, or when it does not exist). */
    async function managed(request: FastifyRequest, id: string): Promise<Device> {
      const device = await devices.get(id)
      await request.authorize('devices.manage', {
        type: 'devices',
        id,
        organisationId: device.organisationId,
      })
      return device
    }

    app.post(
      '/devices',
      {
        config: manage,
        schema: {
          tags,
          summary:
            'Register a device with its own OAuth client; a secret is generated and shown once unless it brings a JWKS',
          body: RegisterDevice,
          response: {
            201: Registered,
            404: problem('The organisation is not one this caller manages'),
            409: problem('A device with this manufacturer, model and serial is already registered'),
          },
        },
      },
      async (request, reply) => {
        const body = request.body
        const principal = request.principal as Principal
        if (body.organisationId === undefined && !isAdmin(principal)) {
          throw new AppError('VALIDATION_FAILED', undefined, {
            errors: [
              { pointer: '/body/organisationId', detail: "required for an organisation's administrator" },
            ],
          })
        }
        await request.authorize('devices.manage', {
          type: 'devices',
          organisationId: body.organisationId ?? null,
        })
        const { device, clientSecret, pairingCode } = await devices.register(body)
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({
            device: presentDevice(device),
            clientId: device.clientId as string,
            ...(clientSecret ? { clientSecret } : {}),
            pairingCode,
          })
      },
    )

    app.get(
      '/devices',
      {
        config: manage,
        schema: {
          tags,
          summary:
            "The devices the caller manages: every device for an administrator, the organisation's for its administrator",
          response: { 200: Type.Object({ devices: Type.Array(DeviceView) }) },
        },
      },
      async (request) => {
        const principal = request.principal as Principal
        const orgs = isAdmin(principal)
          ? null
          : (principal.memberships ?? [])
              .filter((m) => m.role === 'org-admin' && m.organisationId !== null)
              .map((m) => m.organisationId as string)
        return { devices: (await devices.list(orgs)).map(presentDevice) }
      },
    )

    app.get(
      '/devices/:id',
      {
        config: manage,
        schema: {
          tags,
          summary: 'One device',
          params: IdParam,
          response: { 200: DeviceView, 404: problem('No such device, or not one this caller manages') },
        },
      },
      async (request) => presentDevice(await managed(request, request.params.id)),
    )

    app.patch(
      '/devices/:id',
      {
        config: manage,
        schema: {
          tags,
          summary: "Update a device's firmware version, status or daily quota",
          params: IdParam,
          body: UpdateDevice,
          response: { 200: DeviceView, 404: problem('No such device, or not one this caller manages') },
        },
      },
      async (request) => {
        const { id } = request.params
        await managed(request, id)
        return presentDevice(await devices.update(id, request.body))
      },
    )

    app.put(
      '/devices/:id/binding',
      {
        config: manage,
        schema: {
          tags,
          summary: 'Bind the device to a patient (one at a time)',
          params: IdParam,
          body: Bind,
          response: {
            200: DeviceView,
            404: problem('No such device or patient, or not one this caller manages'),
            409: problem('The device is bound to another patient'),
          },
        },
      },
      async (request) => {
        const { id } = request.params
        const { patientId } = request.body
        await managed(request, id)
        // The patient must exist and, for an organisation's administrator, be in that organisation.
        await request.authorize('devices.manage', { type: 'devices', id, patientId })
        const principal = request.principal as Principal
        return presentDevice(await devices.bind(id, patientId, `${principal.kind}:${principal.id}`))
      },
    )

    app.delete(
      '/devices/:id/binding',
      {
        config: manage,
        schema: {
          tags,
          summary: 'Unbind the device from its patient (the history keeps the binding)',
          params: IdParam,
          response: {
            204: Type.Null({ description: 'The device is not bound' }),
            404: problem('No such device, or not one this caller manages'),
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        await managed(request, id)
        await devices.unbind(id)
        return noContent(reply)
      },
    )

    app.get(
      '/devices/:id/bindings',
      {
        config: manage,
        schema: {
          tags,
          summary: "The device's bindings, newest first",
          params: IdParam,
          response: {
            200: Type.Object({ bindings: Type.Array(BindingView) }),
            404: problem('No such device, or not one this caller manages'),
          },
        },
      },
      async (request) => {
        const { id } = request.params
        await managed(request, id)
        return { bindings: (await devices.history(id)).map(presentBinding) }
      },
    )

    app.post(
      '/devices/pairing',
      {
        config: { policy: 'devices.bind' },
        schema: {
          tags,
          summary:
            'A patient pairs an unbound device to their own record, with the details on its label and the one-time pairing code that came with it',
          body: Pair,
          response: {
            200: DeviceView,
            404: problem('No unbound, active device with these details and pairing code'),
          },
        },
      },
      async (request) => {
        const body = request.body
        const principal = request.principal as Principal
        if (!principal.patientId)
          throw new AppError('FORBIDDEN', 'Only a patient with a patient record can pair a device')
        await request.authorize('devices.bind', { type: 'devices', patientId: principal.patientId })
        // Unknown details, a wrong or spent code, a disabled device or one bound to someone else:
        // one 404 for all, so the label alone reveals and claims nothing.
        const device = await devices.findForPairing(
          body.manufacturer,
          body.model,
          body.serial,
          body.pairingCode,
        )
        if (!device || device.patientId !== null)
          throw new AppError('NOT_FOUND', 'No unbound device with these details and pairing code')
        return presentDevice(
          await devices.pair(device.id, principal.patientId, `${principal.kind}:${principal.id}`),
        )
      },
    )

    app.delete(
      '/me/devices/:id',
      {
        config: { policy: 'devices.unpair' },
        schema: {
          tags,
          operationId: 'unpairOwnDevice',
          summary:
            "A patient unpairs one of their own devices: the binding ends (history kept), the device's next post is refused, and a device.unbound event is emitted",
          params: IdParam,
          response: {
            204: Type.Null({ description: 'The device is no longer paired with your record' }),
            403: problem('Not a patient with a record'),
            404: problem('No device with this id is paired with your record'),
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        const principal = request.principal as Principal
        if (!principal.patientId)
          throw new AppError('FORBIDDEN', 'Only a patient with a patient record can unpair a device')
        await request.authorize('devices.unpair', { type: 'devices', id, patientId: principal.patientId })
        // Unknown, someone else's, or already unpaired: one 404, which reveals nothing of other records.
        if (!(await devices.unpair(id, principal.patientId)))
          throw new AppError('NOT_FOUND', 'No device with this id is paired with your record')
        return noContent(reply)
      },
    )

    app.post(
      '/devices/:id/pairing-code',
      {
        config: manage,
        schema: {
          tags,
          summary:
            'Issue a new one-time pairing code for a device (the previous one stops working), e.g. before handing it to another patient',
          params: IdParam,
          response: { 200: PairingCode, 404: problem('No device this caller manages') },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        await managed(request, id)
        return reply
          .header('cache-control', 'no-store')
          .send({ pairingCode: await devices.issuePairingCode(id) })
      },
    )
  }
}
