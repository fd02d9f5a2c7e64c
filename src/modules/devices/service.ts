// The device registry's use cases (issue 5): register a device with its own confidential OAuth
// client (a generated secret shown once, or a public JWKS for private_key_jwt), list, read,
// update, bind to one patient at a time and unbind (history kept). Authorization is decided by the
// routes (request.authorize); this layer enforces the registry's own invariants.

import { randomInt, randomUUID, timingSafeEqual } from 'node:crypto'
import type { ClientMetadata } from 'oidc-provider'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { generateClientSecret } from '../../security/oauth-server/index.ts'
import { publicJwkProblem } from '../clients/index.ts'
import { recordEvent } from '../events/index.ts'
import * as repo from './repository.ts'

/** The registry's device types and record, for the routes' schemas and presenters. */
export { DEVICE_TYPES, type Device } from './repository.ts'

export interface Registration {
  readonly manufacturer: string
  readonly model: string
  readonly serial: string
  readonly type: repo.DeviceType
  readonly firmwareVersion?: string | undefined
  readonly organisationId?: string | undefined
  readonly dailyQuota?: number | undefined
  /** private_key_jwt with the device's public keys (preferred), or a generated secret. */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] } | undefined
}

/** What a device's token may do: write readings for its bound patient, nothing else. */
export const DEVICE_CLIENT_SCOPE = 'device-data:write'

// Pairing codes: 12 characters of an unambiguous alphabet (no 0/O, 1/I/L) ≈ 60 bits, shown as
// XXXX-XXXX-XXXX. Typed by a person, so case and dashes are forgiven.
const PAIRING_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ'
const PAIRING_LENGTH = 12

export function normalisePairingCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '')
}

function newPairingCode(): string {
  const chars = Array.from(
    { length: PAIRING_LENGTH },
    () => PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)],
  )
  return [chars.slice(0, 4), chars.slice(4, 8), chars.slice(8)].map((g) => g.join('')).join('-')
}

/**
 * What the registry needs of the OAuth side: a confidential client for each device, written in
 * the registry's own transaction (q). The registry never writes oauth_clients itself; compose.ts
 * wires this over the OAuth server's client store.
 */
export interface DeviceClients {
  /** False (and nothing written) when the client id is taken. */
  register(
    q: Queryable,
    c: {
      clientId: string
      metadata: ClientMetadata
      secret: string | undefined
      description: string
      organisationId: string | null
    },
  ): Promise<boolean>
}

/** What the registry needs of the patients module: the user's own patient record, if not erased. */
export interface DevicePatients {
  activeIdOfUser(userId: string): Promise<string | undefined>
}

export function createDeviceService(deps: {
  db: Database
  keyring: Keyring
  clock: () => Date
  clients: DeviceClients
  patients: DevicePatients
}) {
  const { db, clock } = deps
  const pairingHash = (deviceId: string, code: string) =>
    deps.keyring.blindIndex(`${deviceId}:${normalisePairingCode(code)}`, 'device-pairing-code')

  async function get(id: string): Promise<repo.Device> {
    const device = await repo.findDevice(db, id)
    if (!device) throw new AppError('NOT_FOUND', 'No device with this id')
    return device
  }

  return {
    get,
    list: (organisations: readonly string[] | null) => repo.listDevices(db, organisations),
    history: (id: string) => repo.bindingHistory(db, id),
    findBySerial: (manufacturer: string, model: string, serial: string) =>
      repo.findDeviceBySerial(db, manufacturer, model, serial),

    /** A new one-time pairing code for the device (any earlier code stops working); shown once. */
    async issuePairingCode(id: string): Promise<string> {
      const code = newPairingCode()
      await repo.setPairingCodeHash(db, id, pairingHash(id, code))
      return code
    },

    /**
     * The unbound, active device this pairing code belongs to (found by the details on its label),
     * or undefined — the same answer for unknown details, a wrong code, a spent code, or a device
     * bound to someone else, so nothing is revealed.
     */
    async findForPairing(
      manufacturer: string,
      model: string,
      serial: string,
      code: string,
    ): Promise<repo.Device | undefined> {
      const device = await repo.findDeviceBySerial(db, manufacturer, model, serial)
      const stored = device ? await repo.pairingCodeHash(db, device.id) : null
      const offered = pairingHash(device?.id ?? 'none', code)
      const matches =
        stored !== null &&
        stored.length === offered.length &&
        timingSafeEqual(Buffer.from(stored), Buffer.from(offered))
      if (!device || !matches || device.status !== 'active') return undefined
      return device
    },

    /** Binds the device to the patient who proved the pairing code, and spends the code (in one transaction). */
    async pair(id: string, patientId: string, pairedBy: string): Promise<repo.Device> {
      await db.transaction(async (tx) => {
        await repo.lockDevice(tx, id)
        const device = await repo.findDevice(tx, id)
        const stored = await repo.pairingCodeHash(tx, id)
        // Spent by a concurrent pairing, or bound meanwhile: the same 404 as a wrong code.
        if (!device || stored === null || device.patientId !== null)
          throw new AppError('NOT_FOUND', 'No unbound device with these details and pairing code')
        await repo.setPairingCodeHash(tx, id, null)
        const now = clock()
        await repo.insertBinding(tx, { id: randomUUID(), deviceId: id, patientId, boundBy: pairedBy }, now)
        await recordEvent(tx, { type: 'device.bound', patientId, resourceId: id }, now)
      })
      return get(id)
    },

    /**
     * A patient approved a device authorization grant (RFC 8628) on their phone. For a registered
     * device: bind it to the approver's patient record if it is unbound; refuse when it is bound
     * to another patient or the approver has no patient record. Other clients: nothing to do.
     */
    async approveDeviceGrant(c: { clientId: string; accountId: string }): Promise<'ok' | { refuse: string }> {
      const device = await repo.deviceOfClient(db, c.clientId)
      if (!device) return 'ok'
      if (device.status !== 'active') return { refuse: 'This device is disabled' }
      const patientId = await deps.patients.activeIdOfUser(c.accountId)
      if (!patientId) return { refuse: 'Only a patient can pair a device with their record' }
      try {
        await this.bind(device.id, patientId, `device-grant:${c.accountId}`)
        return 'ok'
      } catch (err) {
        if (err instanceof AppError && err.code === 'DEVICE_BOUND_ELSEWHERE')
          return { refuse: 'This device is paired with another patient' }
        throw err
      }
    },

    async register(
      r: Registration,
    ): Promise<{ device: repo.Device; clientSecret: string | undefined; pairingCode: string }> {
      const keyProblems = (r.jwks?.keys ?? []).flatMap((key, i) => {
        const detail = publicJwkProblem(key)
        return detail ? [{ pointer: `/body/jwks/keys/${i}`, detail }] : []
      })
      if (keyProblems.length > 0)
        throw new AppError('VALIDATION_FAILED', "The device's public keys are not valid", {
          errors: keyProblems,
        })
      const id = randomUUID()
      const clientId = `device-${id}`
      const clientSecret = r.jwks ? undefined : generateClientSecret()
      const metadata = {
        client_id: clientId,
        client_name: `${r.manufacturer} ${r.model}`,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: DEVICE_CLIENT_SCOPE,
        ...(r.jwks
          ? { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [...r.jwks.keys] } }
          : { token_endpoint_auth_method: 'client_secret_basic' }),
      } as unknown as ClientMetadata
      const now = clock()
      const pairingCode = newPairingCode()
      await db.transaction(async (tx) => {
        // An administrator may name any organisation: one that does not exist is a 404, never a
        // foreign-key failure half-way through the registration.
        if (r.organisationId !== undefined && !(await repo.organisationExists(tx, r.organisationId)))
          throw new AppError('NOT_FOUND', 'The organisation is not one this caller manages')
        const registered = await deps.clients.register(tx, {
          clientId,
          metadata,
          secret: clientSecret,
          description: `device ${id}`,
          organisationId: r.organisationId ?? null,
        })
        if (!registered) throw new AppError('CLIENT_ID_TAKEN', 'The device client already exists')
        const inserted = await repo.insertDevice(
          tx,
          {
            id,
            clientId,
            organisationId: r.organisationId ?? null,
            manufacturer: r.manufacturer,
            model: r.model,
            serial: r.serial,
            type: r.type,
            firmwareVersion: r.firmwareVersion ?? null,
            dailyQuota: r.dailyQuota ?? null,
          },
          now,
        )
        if (!inserted) throw new AppError('DEVICE_ALREADY_REGISTERED')
        // With the device and its client: written apart, a failure between them lost the client
        // secret (shown once) while the retry was refused as already registered.
        await repo.setPairingCodeHash(tx, id, pairingHash(id, pairingCode))
      })
      return { device: await get(id), clientSecret, pairingCode }
    },

    async update(
      id: string,
      changes: {
        firmwareVersion?: string | null | undefined
        status?: 'active' | 'disabled' | undefined
        dailyQuota?: number | null | undefined
      },
    ): Promise<repo.Device> {
      await repo.updateDevice(db, id, changes, clock())
      return get(id)
    },

    /** Binds the device to the patient; the same patient again is a no-op; another patient → DEVICE_BOUND_ELSEWHERE (unbind first). */
    async bind(id: string, patientId: string, boundBy: string): Promise<repo.Device> {
      await db.transaction(async (tx) => {
        await repo.lockDevice(tx, id)
        const device = await repo.findDevice(tx, id)
        if (!device) throw new AppError('NOT_FOUND', 'No device with this id')
        if (device.patientId === patientId) return
        if (device.patientId !== null)
          throw new AppError(
            'DEVICE_BOUND_ELSEWHERE',
            'The device is bound to another patient; unbind it first',
          )
        const now = clock()
        await repo.insertBinding(tx, { id: randomUUID(), deviceId: id, patientId, boundBy }, now)
        await recordEvent(tx, { type: 'device.bound', patientId, resourceId: id }, now)
      })
      return get(id)
    },

    /**
     * A patient unpairs a device from their own record (ADR-0027): ends the binding only while it is
     * this patient's, under the device's lock, so a device handed on in between is never unbound by
     * its former patient. False when the device is not bound to this patient (the caller answers 404).
     */
    async unpair(id: string, patientId: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        await repo.lockDevice(tx, id)
        if ((await repo.findDevice(tx, id))?.patientId !== patientId) return false
        const now = clock()
        if (!(await repo.endBinding(tx, id, now))) return false
        await recordEvent(tx, { type: 'device.unbound', patientId, resourceId: id }, now)
        return true
      })
    },

    /** Ends the current binding, if any; the history keeps it. */
    async unbind(id: string): Promise<void> {
      await db.transaction(async (tx) => {
        await repo.lockDevice(tx, id)
        const boundTo = (await repo.findDevice(tx, id))?.patientId ?? null
        const now = clock()
        if ((await repo.endBinding(tx, id, now)) && boundTo !== null)
          await recordEvent(tx, { type: 'device.unbound', patientId: boundTo, resourceId: id }, now)
      })
    },
  }
}

export type DeviceService = ReturnType<typeof createDeviceService>
