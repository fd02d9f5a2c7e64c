// The principal cache's own rules (issue 17; ADR-0029): bounded, least recently used out first,
// never past the token's expiry or its time to live, a look-up overtaken by an invalidation not
// stored, and off (answering nothing) while its invalidation channel is down.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AUTH_WRITES, createPrincipalCache, type CachedPrincipal } from './principal-cache.ts'

const entry = (id: string, extra: Partial<CachedPrincipal> = {}): CachedPrincipal => ({
  principal: { kind: 'device', id, clientId: `client-${id}`, scopes: ['device-data:write'], roles: [] },
  audiences: ['https://api'],
  tokenExpiresAt: Number.MAX_SAFE_INTEGER,
  deviceId: id,
  ...extra,
})

describe('principal cache', () => {
  test('[SRS-PERF-582] bounded: the least recently used entry goes first; entries expire with the token and after the TTL', () => {
    let now = 1_000
    const cache = createPrincipalCache({ max: 2, ttlMs: 60_000, now: () => now })
    cache.set('h1', entry('d1'), cache.generation())
    cache.set('h2', entry('d2'), cache.generation())
    assert.ok(cache.get('h1')) // h1 now most recently used
    cache.set('h3', entry('d3'), cache.generation())
    assert.equal(cache.size, 2)
    assert.equal(cache.get('h2'), undefined)
    assert.ok(cache.get('h1') && cache.get('h3'))
    cache.set('h4', entry('d4', { tokenExpiresAt: now + 10 }), cache.generation())
    now += 10
    assert.equal(cache.get('h4'), undefined, 'never past the token expiry')
    now += 60_000
    assert.equal(cache.get('h1'), undefined, 'never past the TTL')
  })

  test('[SRS-PERF-582] invalidation by token hash, account, device and client; a look-up that began before an invalidation is not stored', () => {
    const cache = createPrincipalCache({ max: 10, ttlMs: 60_000 })
    cache.set('t1', entry('d1'), cache.generation())
    cache.set('t2', entry('d2', { accountId: 'u2' }), cache.generation())
    cache.set('t3', entry('d3'), cache.generation())
    cache.set('t4', entry('d4'), cache.generation())
    cache.invalidate('token', 't1')
    cache.invalidate('account', 'u2')
    cache.invalidate('device', 'd3')
    cache.invalidate('client', 'client-d4')
    assert.equal(cache.size, 0)
    const started = cache.generation()
    cache.invalidate('device', 'unrelated')
    cache.set('t5', entry('d5'), started)
    assert.equal(cache.get('t5'), undefined, 'built from facts read before the invalidation')
  })

  test('[SRS-PERF-593] a change to a patient\u2019s row drops the devices bound to that patient, and no other entry', () => {
    const cache = createPrincipalCache({ max: 10, ttlMs: 60_000 })
    const bound = (id: string, patientId: string) =>
      entry(id, {
        principal: {
          ...entry(id).principal,
          patientId,
          boundPatient: { organisationId: 'org-a', erased: false },
        },
      })
    cache.set('t1', bound('d1', 'p1'), cache.generation())
    cache.set('t2', bound('d2', 'p1'), cache.generation())
    cache.set('t3', bound('d3', 'p2'), cache.generation())
    cache.invalidate('patient', 'p1')
    assert.equal(cache.get('t1'), undefined)
    assert.equal(cache.get('t2'), undefined)
    assert.ok(cache.get('t3'), 'a device bound to another patient stays')
  })

  test('[SRS-PERF-582] off while the invalidation channel is down: nothing kept, nothing answered', () => {
    const cache = createPrincipalCache({ max: 10, ttlMs: 60_000 })
    cache.set('t1', entry('d1'), cache.generation())
    cache.setEnabled(false)
    assert.equal(cache.get('t1'), undefined)
    cache.set('t2', entry('d2'), cache.generation())
    assert.equal(cache.size, 0)
    cache.setEnabled(true)
    assert.equal(cache.get('t1'), undefined, 'what was cached before the outage is gone')
  })

  test('[SRS-PERF-582] the writes that clear it: token revocation, accounts, roles, patients, devices, bindings, clients — not a new token nor a reading', () => {
    for (const sql of [
      'DELETE FROM oidc_payloads WHERE model = $1 AND id = $2',
      'UPDATE oidc_payloads SET consumed_at = now()',
      'UPDATE users SET status = $2',
      'DELETE FROM user_roles WHERE user_id = $1',
      'UPDATE device_bindings SET unbound_at = $2',
      'INSERT INTO device_bindings (id) VALUES ($1)',
      'UPDATE devices SET status = $1',
      'WITH x AS (SELECT 1) UPDATE patients SET user_id = NULL',
      'DELETE FROM oauth_clients WHERE client_id = $1',
    ])
      assert.ok(AUTH_WRITES.test(sql), sql)
    for (const sql of [
      'INSERT INTO oidc_payloads (model, id) VALUES ($1, $2) ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload',
      'INSERT INTO readings (id) VALUES ($1)',
      'SELECT * FROM users',
    ])
      assert.ok(!AUTH_WRITES.test(sql), sql)
  })
})
