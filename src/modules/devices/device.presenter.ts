// How a device and its bindings leave the API: identifiers and labels, never a secret.

import { Type, type Static } from 'typebox'
import type { Binding, Device } from './repository.ts'

export const DeviceView = Type.Object({
  id: Type.String(),
  clientId: Type.Union([Type.String(), Type.Null()]),
  organisationId: Type.Union([Type.String(), Type.Null()]),
  manufacturer: Type.String(),
  model: Type.String(),
  serial: Type.String(),
  type: Type.String(),
  firmwareVersion: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  dailyQuota: Type.Union([Type.Integer(), Type.Null()]),
  patientId: Type.Union([Type.String(), Type.Null()], {
    description: 'The patient it is bound to now (pseudonymous id)',
  }),
  boundAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
})

export const BindingView = Type.Object({
  id: Type.String(),
  patientId: Type.String(),
  boundAt: Type.String(),
  unboundAt: Type.Union([Type.String(), Type.Null()]),
  boundBy: Type.Union([Type.String(), Type.Null()]),
})

export function presentDevice(d: Device): Static<typeof DeviceView> {
  return {
    id: d.id,
    clientId: d.clientId,
    organisationId: d.organisationId,
    manufacturer: d.manufacturer,
    model: d.model,
    serial: d.serial,
    type: d.type,
    firmwareVersion: d.firmwareVersion,
    status: d.status,
    dailyQuota: d.dailyQuota,
    patientId: d.patientId,
    boundAt: d.boundAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  }
}

export function presentBinding(b: Binding): Static<typeof BindingView> {
  return {
    id: b.id,
    patientId: b.patientId,
    boundAt: b.boundAt.toISOString(),
    unboundAt: b.unboundAt?.toISOString() ?? null,
    boundBy: b.boundBy,
  }
}
