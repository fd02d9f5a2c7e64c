// Destinations as production judges them (issue 16, "Bad input"; ADR-0020): with
// EVENTS_ALLOW_PRIVATE_DESTINATIONS=false — the production setting, which production refuses to
// change — a webhook URL or a FHIR rest-hook endpoint that is not https, or names a private,
// loopback or link-local address (literally or through the name it resolves to), is refused with
// problem+json (OperationOutcome on /fhir) naming the field, and nothing is stored.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

// A name is judged by what it resolves to before anything is stored (a name resolving to a
// private address is refused the same way: destination-address.test.ts, with `vm` of /etc/hosts —
// single-label, so refused here before resolution); `.invalid` never resolves (RFC 6761).
const REFUSED: Array<[string, RegExp]> = [
  ['http://hooks.example.com/vigil', /https/],
  ['https://127.0.0.1/vigil', /private/],
  ['https://[::1]/vigil', /private/],
  ['https://10.0.0.5/vigil', /private/],
  ['https://169.254.169.254/latest/meta-data', /private/],
  ['https://[fe80::1]/vigil', /private/],
  ['https://[::ffff:127.0.0.1]/vigil', /private/],
  ['https://localhost/vigil', /public host/],
  ['https://vm/vigil', /public host/],
  ['https://no-such-host.invalid/vigil', /does not resolve/],
]

describe('event destinations in production', () => {
  let t: TestApp
  let w: World
  let isolated: Awaited<ReturnType<typeof openIsolatedDatabase>>
  const count = async (kind: 'webhook' | 'fhir') =>
    Number(
      (
        await t.db.query<{ n: number | string }>(
          'SELECT count(*) AS n FROM event_subscriptions WHERE kind = $1',
          [kind],
        )
      ).rows[0]?.n,
    )

  before(async () => {
    isolated = await openIsolatedDatabase()
    t = await createTestApp({
      env: { EVENTS_RELAY: 'false', EVENTS_ALLOW_PRIVATE_DESTINATIONS: 'false' },
      deps: { db: isolated.db },
    })
    w = await buildWorld(t.app)
  })
  after(async () => {
    await t?.close()
    await isolated?.drop()
  })

  test('[SRS-EVT-562] a webhook URL that is not https or names a private, loopback or link-local address, or a host that does not resolve, is refused, naming /body/url; nothing is stored', async () => {
    const admin = await userToken(t.app, t.config.publicUrl, w, w.users.orgAdminA, 'admin:users')
    const before = await count('webhook')
    for (const [url, why] of REFUSED) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v2/subscriptions',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        payload: { url, eventTypes: ['device-data.accepted'] },
      })
      assert.equal(res.statusCode, 400, `${url} → ${res.body}`)
      assert.match(String(res.headers['content-type']), /application\/problem\+json/)
      const body = res.json() as Json
      const error = (body.errors as Json[] | undefined)?.find((e) => e.pointer === '/body/url')
      assert.ok(error, `${url}: /body/url named in ${res.body}`)
      assert.match(String(error.detail), why, url)
    }
    assert.equal(await count('webhook'), before)
  })

  test('[SRS-EVT-562] a FHIR rest-hook endpoint that is not https or names a private, loopback or link-local address, or a host that does not resolve, is refused with an OperationOutcome naming Subscription.channel.endpoint; nothing is stored', async () => {
    const token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.consoleClientId,
      accountId: w.users.clinicianTeam.id,
      scope: 'user/Subscription.write user/Subscription.read user/Observation.rs',
      resource: 'fhir',
    })
    const before = await count('fhir')
    for (const [endpoint, why] of REFUSED) {
      const body = {
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'destinations',
        criteria: 'https://vigil.dev/fhir/SubscriptionTopic/new-observation',
        _criteria: {
          extension: [
            {
              url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria',
              valueString: `Observation?patient=Patient/${w.patients.patient}`,
            },
          ],
        },
        channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' },
      }
      const res = await t.app.inject({
        method: 'POST',
        url: '/fhir/R4/Subscription',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
        payload: JSON.stringify(body),
      })
      assert.equal(res.statusCode, 400, `${endpoint} → ${res.body}`)
      const outcome = res.json() as Json
      assert.equal(outcome.resourceType, 'OperationOutcome')
      assert.ok(
        JSON.stringify(outcome.issue).includes('Subscription.channel.endpoint'),
        `${endpoint}: ${res.body}`,
      )
      assert.match(JSON.stringify(outcome.issue), why, endpoint)
    }
    assert.equal(await count('fhir'), before)
  })
})
