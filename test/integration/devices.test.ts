// The device registry (/api/v2/devices; issue 5) on a real port: an administrator registers a
// device, which gets its own confidential client and obtains a token by client credentials at the
// token endpoint; organisations' administrators manage only their own devices; a device is bound
// to one patient at a time (history kept); a patient pairs an unbound device to their own record.
import assert from 'node:assert/strict'
import { randomUUID, type webcrypto } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createTestApp, openIsolatedDatabase } from '../support/app.ts'
import { countingDatabase } from '../support/counting-db.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { buildWorld, userToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('device registry', () => {
  let s: OAuthTestServer
  let w: World
  let admin: string
  let orgAdminA: string
  let orgAdminB: string
  let patient: string

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${s.issuer}/api/v2${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const text = await res.text()
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: (text ? JSON.parse(text) : undefined) as Json,
    }
  }
  const register = (token: string, extra: Record<string, unknown> = {}) =>
    api('POST', '/devices', token, {
      manufacturer: 'Acme Medical',
      model: 'PulseOx 3',
      serial: `PO-${randomUUID()}`,
      type: 'pulse-oximeter',
      firmwareVersion: '1.0.0',
      ...extra,
    })

  before(async () => {
    s = await startOAuthTestServer()
    w = await buildWorld(s.app)
    admin = await userToken(s.app, s.issuer, w, w.users.admin)
    orgAdminA = await userToken(s.app, s.issuer, w, w.users.orgAdminA)
    orgAdminB = await userToken(s.app, s.issuer, w, w.users.orgAdminB)
    patient = await userToken(s.app, s.issuer, w, w.users.patient)
  })
  after(() => s.close())

  test('[SRS-DATA-008] the OpenAPI example registers a device; its client gets a token by client credentials and, once bound, writes readings', async () => {
    const doc = (await (await fetch(`${s.issuer}/openapi.json`)).json()) as Json
    const media = doc.paths['/api/v2/devices'].post.requestBody.content['application/json']
    const example = (media.example ?? Object.values(media.examples as Json)[0].value) as Json
    const res = await api('POST', '/devices', admin, { ...example, serial: `${example.serial}-${w.suffix}` })
    assert.equal(res.status, 201, res.text)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    const { device, clientId, clientSecret } = res.json
    assert.equal(device.patientId, null)
    assert.equal(typeof clientSecret, 'string')
    // The secret is shown once: the device view never carries it.
    assert.ok(!(await api('GET', `/devices/${device.id}`, admin)).text.includes(clientSecret))

    const tokens = await client.clientCredentialsGrant(
      await s.discover(clientId, client.ClientSecretBasic(clientSecret)),
      { scope: 'device-data:write', resource: `${s.issuer}/api` },
    )
    const reading = {
      readings: [
        {
          code: '2339-0',
          value: 101,
          unit: 'mg/dL',
          effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
        },
      ],
    }
    const post = () =>
      fetch(`${s.issuer}/api/v2/device-data`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify(reading),
      })
    assert.equal((await post()).status, 409, 'unbound: refused')
    const bound = await api('PUT', `/devices/${device.id}/binding`, admin, { patientId: w.patients.patient })
    assert.equal(bound.status, 200, bound.text)
    assert.equal(bound.json.patientId, w.patients.patient)
    const written = await post()
    assert.equal(written.status, 200, await written.text())
  })

  test("[SRS-DATA-008] an organisation's administrator manages its own devices only; others see 404 and do not list them", async () => {
    const mine = await register(orgAdminA, { organisationId: w.orgA })
    assert.equal(mine.status, 201, mine.text)
    const id = mine.json.device.id as string
    assert.equal((await register(orgAdminA, { organisationId: w.orgB })).status, 404)
    assert.equal((await register(orgAdminA)).status, 400, 'an organisation is required')
    assert.equal((await api('GET', `/devices/${id}`, orgAdminB)).status, 404)
    assert.equal((await api('PATCH', `/devices/${id}`, orgAdminB, { firmwareVersion: '9.9.9' })).status, 404)
    const listedA = ((await api('GET', '/devices', orgAdminA)).json.devices as Json[]).map((d) => d.id)
    const listedB = ((await api('GET', '/devices', orgAdminB)).json.devices as Json[]).map((d) => d.id)
    assert.ok(listedA.includes(id))
    assert.ok(!listedB.includes(id))
    assert.ok(listedA.every((d) => d !== undefined))
    const updated = await api('PATCH', `/devices/${id}`, orgAdminA, {
      firmwareVersion: '1.1.0',
      dailyQuota: 500,
    })
    assert.equal(updated.status, 200, updated.text)
    assert.equal(updated.json.firmwareVersion, '1.1.0')
    assert.equal(updated.json.dailyQuota, 500)
    assert.equal((await api('GET', '/devices', patient)).status, 403, 'a patient does not manage devices')
    const dup = await api('POST', '/devices', admin, {
      manufacturer: mine.json.device.manufacturer,
      model: mine.json.device.model,
      serial: mine.json.device.serial,
      type: 'pulse-oximeter',
    })
    assert.equal(dup.status, 409)
    assert.equal(dup.json.code, 'DEVICE_ALREADY_REGISTERED')
  })

  test('[SRS-DATA-008] a registration that cannot stand leaves nothing behind: an unknown organisation is 404 even for an administrator, and a key that is not a usable public key is 400 naming it; a real key registers a private_key_jwt device that gets a token', async () => {
    // The refused registrations' serials: none of them may be listed afterwards (the suite's other
    // files register devices in the same database meanwhile, so a count would not do).
    const serials: string[] = []
    const attempt = (extra: Record<string, unknown>) => {
      const serial = `PO-refused-${randomUUID()}`
      serials.push(serial)
      return register(admin, { serial, ...extra })
    }
    const unknownOrg = await attempt({ organisationId: randomUUID() })
    assert.equal(unknownOrg.status, 404, unknownOrg.text)
    assert.match(unknownOrg.headers.get('content-type') ?? '', /^application\/problem\+json/)

    const { publicKey, privateKey } = (await crypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: 'P-256' },
      true,
      ['sign', 'verify'],
    )) as { publicKey: webcrypto.CryptoKey; privateKey: webcrypto.CryptoKey }
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey)
    const jwk = { kty, crv, x, y }
    const refused: Array<[string, Record<string, unknown>]> = [
      ['a date where the modulus belongs', { kty: 'RSA', n: '0000-01-01T00:00:00Z', e: 'AQAB' }],
      ['an RSA key without its exponent', { kty: 'RSA', n: jwk.x }],
      ['an unknown key type', { kty: '_', x: jwk.x }],
      ['an EC point that is not on the curve', { ...jwk, y: jwk.x }],
      ['a symmetric key type', { kty: 'oct' }],
    ]
    for (const [what, key] of refused) {
      const res = await attempt({ jwks: { keys: [jwk, key] } })
      assert.equal(res.status, 400, `${what}: ${res.text}`)
      assert.deepEqual(
        (res.json.errors as Json[]).map((e) => e.pointer),
        ['/body/jwks/keys/1'],
        what,
      )
    }
    const listed = ((await api('GET', '/devices', admin)).json.devices as Json[]).map((d) => d.serial)
    assert.equal(serials.length, refused.length + 1, 'every refused registration is checked')
    assert.ok(
      listed.length > 0 && listed.every((serial) => typeof serial === 'string'),
      "the list names each device's serial",
    )
    assert.deepEqual(
      serials.filter((serial) => listed.includes(serial)),
      [],
      'no device was stored',
    )

    const res = await register(admin, { jwks: { keys: [{ ...jwk, kid: 'device-key-1', alg: 'ES256' }] } })
    assert.equal(res.status, 201, res.text)
    assert.equal(res.json.clientSecret, undefined, 'a device with keys gets no secret')
    const config = await s.discover(
      res.json.clientId as string,
      client.PrivateKeyJwt({ key: privateKey, kid: 'device-key-1' }),
    )
    const tokens = await client.clientCredentialsGrant(config, {
      scope: 'device-data:write',
      resource: `${s.issuer}/api`,
    })
    assert.equal(typeof tokens.access_token, 'string')
  })

  test('[SRS-DATA-009] a device is bound to one patient at a time; unbinding keeps the history', async () => {
    const id = (await register(admin, { organisationId: w.orgA })).json.device.id as string
    assert.equal(
      (await api('PUT', `/devices/${id}/binding`, admin, { patientId: w.patients.patient })).status,
      200,
    )
    assert.equal(
      (await api('PUT', `/devices/${id}/binding`, admin, { patientId: w.patients.patient })).status,
      200,
      'the same patient again is a no-op',
    )
    const elsewhere = await api('PUT', `/devices/${id}/binding`, admin, {
      patientId: w.patients.otherPatient,
    })
    assert.equal(elsewhere.status, 409)
    assert.equal(elsewhere.json.code, 'DEVICE_BOUND_ELSEWHERE', 'the administrator learns to unbind first')
    assert.equal(
      (await api('PUT', `/devices/${id}/binding`, admin, { patientId: randomUUID() })).status,
      404,
      'an unknown patient',
    )
    assert.equal((await api('DELETE', `/devices/${id}/binding`, admin)).status, 204)
    const moved = await api('PUT', `/devices/${id}/binding`, orgAdminA, {
      patientId: w.patients.otherPatient,
    })
    assert.equal(moved.status, 200, moved.text)
    assert.equal(moved.json.patientId, w.patients.otherPatient)
    const history = (await api('GET', `/devices/${id}/bindings`, admin)).json.bindings as Json[]
    assert.deepEqual(
      history.map((b) => b.patientId),
      [w.patients.otherPatient, w.patients.patient],
    )
    assert.equal(history[0]?.unboundAt, null)
    assert.ok(history[1]?.unboundAt)
    assert.equal((await api('GET', `/devices/${id}/bindings`, orgAdminB)).status, 404)
  })

  test('[SRS-DATA-009] a patient pairs an unbound device to their own record with its one-time pairing code; the label alone claims nothing, and nothing is revealed', async () => {
    const reg = await register(admin, { organisationId: w.orgA })
    assert.match(
      reg.json.pairingCode,
      /^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$/,
      'a pairing code is issued with the device, shown once',
    )
    const { manufacturer, model, serial, id } = reg.json.device as Json
    const other = await userToken(s.app, s.issuer, w, w.users.otherPatient)
    // Someone who read the label but has not the code: the same 404 as a device that does not exist.
    assert.equal(
      (
        await api('POST', '/devices/pairing', other, {
          manufacturer,
          model,
          serial,
          pairingCode: 'AAAA-BBBB-CCCC',
        })
      ).status,
      404,
    )
    assert.equal(
      (
        await api('POST', '/devices/pairing', other, {
          manufacturer,
          model,
          serial: `${serial}-nope`,
          pairingCode: reg.json.pairingCode,
        })
      ).status,
      404,
    )
    const { rows } = await s.db.query<{ pairing_code_hash: string }>(
      'SELECT pairing_code_hash FROM devices WHERE id = $1',
      [id],
    )
    assert.ok(
      rows[0]?.pairing_code_hash &&
        !rows[0].pairing_code_hash.includes(reg.json.pairingCode.replaceAll('-', '')),
      'only a keyed hash of the code is stored',
    )

    // Typed by a person: lower case and no dashes are forgiven.
    const typed = String(reg.json.pairingCode).toLowerCase().replaceAll('-', '')
    const paired = await api('POST', '/devices/pairing', patient, {
      manufacturer,
      model,
      serial,
      pairingCode: typed,
    })
    assert.equal(paired.status, 200, paired.text)
    assert.equal(paired.json.patientId, w.patients.patient)
    // The code is spent: nobody can use it again, and the bound device is not revealed.
    assert.equal(
      (
        await api('POST', '/devices/pairing', other, {
          manufacturer,
          model,
          serial,
          pairingCode: reg.json.pairingCode,
        })
      ).status,
      404,
    )
    const clinician = await userToken(s.app, s.issuer, w, w.users.clinicianTeam)
    assert.equal(
      (
        await api('POST', '/devices/pairing', clinician, {
          manufacturer,
          model,
          serial,
          pairingCode: reg.json.pairingCode,
        })
      ).status,
      403,
    )
    assert.equal((await api('GET', `/devices/${id}`, admin)).json.patientId, w.patients.patient)

    // Handing the device on: unbind, a new code from its administrator, and the next patient pairs.
    assert.equal((await api('DELETE', `/devices/${id}/binding`, admin)).status, 204)
    const orgAdminB = await userToken(s.app, s.issuer, w, w.users.orgAdminB)
    assert.equal(
      (await api('POST', `/devices/${id}/pairing-code`, orgAdminB)).status,
      404,
      "another organisation's administrator",
    )
    const reissued = await api('POST', `/devices/${id}/pairing-code`, admin)
    assert.equal(reissued.status, 200)
    assert.notEqual(reissued.json.pairingCode, reg.json.pairingCode)
    assert.equal(
      (
        await api('POST', '/devices/pairing', other, {
          manufacturer,
          model,
          serial,
          pairingCode: reissued.json.pairingCode,
        })
      ).status,
      200,
    )
  })

  test("[SRS-DATA-008] a disabled device's token is refused at once", async () => {
    const reg = await register(admin, { organisationId: w.orgA })
    const { device, clientId, clientSecret } = reg.json
    await api('PUT', `/devices/${device.id}/binding`, admin, { patientId: w.patients.patient })
    const tokens = await client.clientCredentialsGrant(
      await s.discover(clientId, client.ClientSecretBasic(clientSecret)),
      { scope: 'device-data:write', resource: `${s.issuer}/api` },
    )
    assert.equal((await api('PATCH', `/devices/${device.id}`, admin, { status: 'disabled' })).status, 200)
    const res = await fetch(`${s.issuer}/api/v2/device-data`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        readings: [{ code: '8867-4', value: 60, unit: '/min', effectiveDateTime: new Date().toISOString() }],
      }),
    })
    assert.equal(res.status, 401)
  })
  test("[SRS-API-540] a patient unpairs their own device: 204, the binding ends (history kept), a device.unbound event and an audit entry are written, and the device's next post is refused", async () => {
    const reg = await register(admin, { organisationId: w.orgA })
    const { device, clientId, clientSecret, pairingCode } = reg.json
    const paired = await api('POST', '/devices/pairing', patient, {
      manufacturer: device.manufacturer,
      model: device.model,
      serial: device.serial,
      pairingCode,
    })
    assert.equal(paired.status, 200, paired.text)
    const tokens = await client.clientCredentialsGrant(
      await s.discover(clientId, client.ClientSecretBasic(clientSecret)),
      { scope: 'device-data:write', resource: `${s.issuer}/api` },
    )
    const post = () =>
      fetch(`${s.issuer}/api/v2/device-data`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          readings: [
            {
              id: randomUUID(),
              code: '8867-4',
              value: 61,
              unit: '/min',
              effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
            },
          ],
        }),
      })
    assert.equal((await post()).status, 200, 'paired: the device writes')

    // Another patient, a clinician of the care team and the administrator cannot unpair it here.
    const other = await userToken(s.app, s.issuer, w, w.users.otherPatient)
    assert.equal(
      (await api('DELETE', `/me/devices/${device.id}`, other)).status,
      404,
      "another patient's device is concealed",
    )
    const clinician = await userToken(s.app, s.issuer, w, w.users.clinicianTeam)
    assert.equal((await api('DELETE', `/me/devices/${device.id}`, clinician)).status, 403)
    assert.equal((await api('DELETE', `/me/devices/${device.id}`, admin)).status, 403)
    assert.equal((await api('DELETE', `/me/devices/${randomUUID()}`, patient)).status, 404)
    assert.equal((await api('DELETE', '/me/devices/not-a-uuid', patient)).status, 400)
    const outboxBefore = Number(
      (
        await s.db.query<{ n: number }>(
          "SELECT count(*) AS n FROM outbox WHERE topic = 'device.unbound' AND payload::text LIKE $1",
          [`%${device.id}%`],
        )
      ).rows[0]?.n,
    )

    const unpaired = await api('DELETE', `/me/devices/${device.id}`, patient)
    assert.equal(unpaired.status, 204, unpaired.text)
    assert.equal((await api('GET', `/devices/${device.id}`, admin)).json.patientId, null)
    const history = (await api('GET', `/devices/${device.id}/bindings`, admin)).json.bindings as Json[]
    assert.equal(history.length, 1)
    assert.ok(history[0]?.unboundAt, 'the history keeps the ended binding')
    const events = await s.db.query<{ topic: string; patient_id: string }>(
      "SELECT topic, patient_id FROM outbox WHERE topic = 'device.unbound' AND payload::text LIKE $1",
      [`%${device.id}%`],
    )
    assert.equal(events.rows.length, outboxBefore + 1, 'one device.unbound event, as for the admin unbind')
    assert.equal(events.rows.at(-1)?.patient_id, w.patients.patient)
    // The entry of a write that is not health data is written once the answer is sent: wait for it.
    let entries = { rows: [] as Array<{ outcome: string; patient_id: string; decision_rule: string }> }
    for (let i = 0; i < 50 && entries.rows.length === 0; i++) {
      entries = await s.db.query(
        "SELECT outcome, patient_id, decision_rule FROM audit_entries WHERE action = 'devices.unpair' AND actor_id = $1 AND status = 204",
        [w.users.patient.id],
      )
      if (entries.rows.length === 0) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(
      entries.rows.some(
        (e) =>
          e.patient_id === w.patients.patient &&
          e.outcome === 'success' &&
          e.decision_rule === 'patient.own-record',
      ),
      JSON.stringify(entries.rows),
    )

    const refused = await post()
    assert.ok(
      refused.status >= 400 && refused.status < 500,
      `the unpaired device's next post is refused (got ${refused.status})`,
    )
    assert.equal((await api('DELETE', `/me/devices/${device.id}`, patient)).status, 404, 'already unpaired')
  })
})

describe('registering a device writes it whole', () => {
  test('[SRS-DATA-014] a device, its OAuth client (with the secret shown once) and its pairing code are written in one transaction, so a failure leaves none of them to refuse the retry', async () => {
    const { db: raw, drop } = await openIsolatedDatabase()
    const counted = countingDatabase(raw)
    const t = await createTestApp({ deps: { db: counted.db } })
    try {
      const w = await buildWorld(t.app)
      const admin = await userToken(t.app, t.config.publicUrl, w, w.users.admin)
      const res = await counted.log.within(() =>
        t.app.inject({
          method: 'POST',
          url: '/api/v2/devices',
          headers: { authorization: `Bearer ${admin}` },
          payload: {
            manufacturer: 'Acme Medical',
            model: 'PulseOx 3',
            serial: `PO-${randomUUID()}`,
            type: 'pulse-oximeter',
          },
        }),
      )
      assert.equal(res.statusCode, 201, res.body)
      const writes = counted.log.statements.filter((sql) => /^(?:\[tx\] )?(?:INSERT|UPDATE)\b/.test(sql))
      const written = (pattern: RegExp) => writes.find((sql) => pattern.test(sql))
      for (const [what, pattern] of [
        ['the client', /INSERT INTO oauth_clients/],
        ['the device', /INSERT INTO devices/],
        ['the pairing code', /UPDATE devices SET pairing_code_hash/],
      ] as const) {
        assert.match(
          written(pattern) ?? `${what}: not written`,
          /^\[tx\] /,
          `${what} is written in the transaction`,
        )
      }
    } finally {
      await t.close()
      await drop()
    }
  })
})
