// The input boundary (issue 11, findings 5 and 6; ADR-0015): each class of hostile or nonsense
// input the black-box attack found, sent to the real app as the principal who would reach the
// code behind it. Before the boundary these answered 500 (with the raw input in a log line) or
// were accepted and stored; now each is a 400/415 in the route's error shape, nothing is stored,
// and the refused value appears in no log line.

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { csrfOf } from '../support/identity.ts'
import { sealReading } from '../../src/modules/device-data/index.ts'
import { createPasswordHasher, createUserService } from '../../src/modules/users/index.ts'
import { AppError } from '../../src/platform/http/errors.ts'
import { buildWorld, userToken, type World } from '../support/world.ts'

const FHIR_SCOPES = 'openid fhirUser user/*.rs user/*.cud patient/*.rs'

describe('the input boundary', () => {
  let t: TestApp
  let w: World
  const tokens: Record<string, string> = {}

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
    const pu = t.config.publicUrl
    tokens.auditor = await userToken(t.app, pu, w, w.users.auditor)
    tokens.auditorFhir = await userToken(t.app, pu, w, w.users.auditor, FHIR_SCOPES, { resource: 'fhir' })
    tokens.clinician = await userToken(t.app, pu, w, w.users.clinicianTeam)
    tokens.clinicianFhir = await userToken(t.app, pu, w, w.users.clinicianTeam, FHIR_SCOPES, {
      resource: 'fhir',
    })
    tokens.orgAdmin = await userToken(t.app, pu, w, w.users.orgAdminA)
    tokens.orgAdminFhir = await userToken(t.app, pu, w, w.users.orgAdminA, FHIR_SCOPES, { resource: 'fhir' })
  })
  after(() => t?.close())

  const get = (url: string, token: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}`, ...headers } })
  const post = (
    url: string,
    token: string,
    payload: string | Buffer,
    contentType: string,
    headers: Record<string, string> = {},
  ) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType, ...headers },
      payload,
    })

  /** A refusal in the route's error shape: problem+json on the API, OperationOutcome under /fhir/R4. */
  function assertRefused(
    res: { statusCode: number; headers: Record<string, unknown>; body: string },
    status: number,
    what: string,
  ): void {
    assert.equal(res.statusCode, status, `${what}: ${res.statusCode} ${res.body.slice(0, 200)}`)
    const type = String(res.headers['content-type'])
    if (type.startsWith('application/fhir+json'))
      assert.equal(JSON.parse(res.body).resourceType, 'OperationOutcome', what)
    else assert.ok(type.startsWith('application/problem+json'), `${what}: ${type}`)
  }

  const report = (extra: Record<string, unknown>) =>
    JSON.stringify({
      resourceType: 'DiagnosticReport',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] },
      subject: { reference: `Patient/${w.patients.patient}` },
      effectiveDateTime: '2026-11-01T09:00:00+01:00',
      result: [{ reference: `Observation/${w.readings.patient}` }],
      ...extra,
    })

  test('[SRS-HTTP-200] NUL and unpaired surrogates in a query, a path, a header or a body answer 400, never 500, on the API and under /fhir/R4', async () => {
    const patient = w.patients.patient
    assertRefused(
      await get(`/api/v2/audit/entries?patient=${patient}&action=a%00b`, tokens.auditor as string),
      400,
      'NUL in an audit query',
    )
    assertRefused(
      await get(`/api/v2/audit/entries?action=%ED%A0%80`, tokens.auditor as string),
      400,
      'a lone surrogate (CESU) in a query',
    )
    assertRefused(
      await get(`/fhir/R4/Patient?name=a%00b`, tokens.clinicianFhir as string),
      400,
      'NUL in a FHIR search',
    )
    assertRefused(
      await get(`/api/v2/patients/${patient}%00`, tokens.clinician as string),
      400,
      'NUL in a path',
    )
    assertRefused(
      await get(`/api/v2/patients/caf%C3`, tokens.clinician as string),
      400,
      'a truncated UTF-8 escape in a path',
    )
    const condition = await post(
      '/fhir/R4/Patient',
      tokens.orgAdminFhir as string,
      JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Nul' }] }),
      'application/fhir+json',
      { 'if-none-exist': 'identifier=urn:vigil:mrn|a%00b' },
    )
    assertRefused(condition, 400, 'NUL in If-None-Exist')
    const users = `/api/v2/organisations/${w.orgA}/users`
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        '{"email":"nul.body@world.test","role":"clinician","displayName":"a\\u0000b"}',
        'application/json',
      ),
      400,
      'NUL in a JSON string',
    )
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        '{"email":"lone.surrogate@world.test","role":"clinician","displayName":"\\ud800x"}',
        'application/json',
      ),
      400,
      'a lone surrogate in a JSON string',
    )
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        '{"email":"key@world.test","role":"clinician","\\udc00":"x"}',
        'application/json',
      ),
      400,
      'a lone surrogate in a member name',
    )
    const { rows } = await t.db.query(
      "SELECT 1 FROM users WHERE email IN ('nul.body@world.test', 'lone.surrogate@world.test', 'key@world.test')",
    )
    assert.equal(rows.length, 0, 'no account was created from a refused body')
  })

  test('[SRS-HTTP-201] bodies: invalid UTF-8 is 400, never stored as U+FFFD; a form, text or another charset on a JSON route is 415', async () => {
    const users = `/api/v2/organisations/${w.orgA}/users`
    const invalid = Buffer.concat([
      Buffer.from('{"email":"bad.utf8@world.test","role":"clinician","displayName":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ])
    assertRefused(
      await post(users, tokens.orgAdmin as string, invalid, 'application/json'),
      400,
      'invalid UTF-8',
    )
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        'email=form%40world.test&role=clinician',
        'application/x-www-form-urlencoded',
      ),
      415,
      'a form post on a JSON route',
    )
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        '{"email":"text@world.test","role":"clinician"}',
        'text/plain',
      ),
      415,
      'text/plain on a JSON route',
    )
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        JSON.stringify({ email: 'utf16@world.test', role: 'clinician' }),
        'application/json; charset=utf-16',
      ),
      415,
      'charset=utf-16',
    )
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        JSON.stringify({ email: 'latin1@world.test', role: 'clinician' }),
        'application/json; charset=iso-8859-1',
      ),
      415,
      'charset=iso-8859-1',
    )
    assertRefused(
      await post(
        '/fhir/R4/DiagnosticReport',
        tokens.clinicianFhir as string,
        'resourceType=DiagnosticReport',
        'application/x-www-form-urlencoded',
      ),
      415,
      'a form post to FHIR',
    )
    // JSON with an explicit UTF-8 charset stays welcome.
    const ok = await post(
      users,
      tokens.orgAdmin as string,
      JSON.stringify({ email: `utf8.${w.suffix}@world.test`, role: 'clinician' }),
      'application/json; charset=UTF-8',
    )
    assert.equal(ok.statusCode, 201, ok.body)
    const { rows } = await t.db.query(
      "SELECT 1 FROM users WHERE email LIKE ANY(ARRAY['bad.utf8@%', 'form@%', 'text@%', 'utf16@%', 'latin1@%'])",
    )
    assert.equal(rows.length, 0)
    // The sign-in pages still take the browser's form posts.
    const page = await t.app.inject({
      method: 'POST',
      url: '/account/password-reset',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'email=someone%40world.test&csrf=x',
    })
    assert.equal(page.statusCode, 403, 'the form is parsed and its CSRF token checked (not a 415)')
  })

  test('[SRS-HTTP-202] impossible and out-of-range dates answer 400 in every date input: audit search, device data, FHIR searches and FHIR AuditEvent', async () => {
    const patient = w.patients.patient
    for (const value of [
      '9999-12-31T23:59:60Z',
      '0000-01-01T00:00:00Z',
      '2021-02-30T00:00:00Z',
      '2020-13-45T00:00:00Z',
      '10000-01-01T00:00:00Z',
      '0001-01-01T00:30:00+01:00',
    ]) {
      assertRefused(
        await get(`/api/v2/audit/entries?from=${encodeURIComponent(value)}`, tokens.auditor as string),
        400,
        `audit from=${value}`,
      )
      assertRefused(
        await get(
          `/api/v2/device-data?patient=${patient}&from=${encodeURIComponent(value)}`,
          tokens.clinician as string,
        ),
        400,
        `device-data from=${value}`,
      )
      assertRefused(
        await get(`/fhir/R4/AuditEvent?date=ge${encodeURIComponent(value)}`, tokens.auditorFhir as string),
        400,
        `AuditEvent date=ge${value}`,
      )
    }
    for (const value of [
      '2021-02-30',
      '2020-13-45',
      '2021-02-29',
      'ge9999-12-31T23:59:60Z',
      '0000-01-01',
      'ge2021-02-29T10:00:00Z',
      '2021-04-31',
    ]) {
      assertRefused(
        await get(
          `/fhir/R4/Observation?patient=${patient}&date=${encodeURIComponent(value)}`,
          tokens.clinicianFhir as string,
        ),
        400,
        `Observation date=${value}`,
      )
      assertRefused(
        await get(`/fhir/R4/Patient?birthdate=${encodeURIComponent(value)}`, tokens.clinicianFhir as string),
        400,
        `Patient birthdate=${value}`,
      )
    }
    // A leap day of a leap year and the last instant of 9999 are fine.
    assert.equal(
      (await get(`/fhir/R4/Observation?patient=${patient}&date=ge2024-02-29`, tokens.clinicianFhir as string))
        .statusCode,
      200,
    )
    assert.equal(
      (await get(`/fhir/R4/Observation?patient=${patient}&date=le9999-12-31`, tokens.clinicianFhir as string))
        .statusCode,
      200,
    )
  })

  test('[SRS-FHIR-201] a FHIR date prefix with a year below 100 means that year: ge0099-01-01 finds a reading of the year 1500, which ge1999 would not', async () => {
    // A reading measured in 1500 (inserted directly: the ingestion API refuses readings over ten years old).
    const id = randomUUID()
    const patient = w.patients.patient
    await t.db.query(
      `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
       VALUES ($1, $2, NULL, '2339-0', 'vital-signs', '1500-06-01T00:00:00Z', 0, now(), $3, $4, $3, 'v2')`,
      [
        id,
        patient,
        `old-${id}`,
        await sealReading(t.app.vigil.modules.cipher, patient, id, { value: 99, unit: 'mg/dL' }),
      ],
    )
    const ids = async (q: string) => {
      const res = await get(`/fhir/R4/Observation?patient=${patient}&${q}`, tokens.clinicianFhir as string)
      assert.equal(res.statusCode, 200, res.body)
      return (
        JSON.parse(res.body) as { entry: Array<{ resource: { id: string }; search: { mode: string } }> }
      ).entry
        .filter((e) => e.search.mode === 'match')
        .map((e) => e.resource.id)
    }
    assert.deepEqual(
      await ids('date=ge0099-01-01&date=le1600-01-01'),
      [id],
      'read as 1999, this range would be empty',
    )
    assert.deepEqual(await ids('date=lt0099-01-01'), [])
    assert.ok((await ids('date=ge0099-01-01')).includes(id))
  })

  test('[SRS-FHIR-200] FHIR resources: impossible dates, a null element and leap seconds answer 400 OperationOutcome and nothing is stored', async () => {
    const reports = async () =>
      Number(
        (
          (
            await t.db.query<{ n: string | number }>(
              'SELECT count(*) AS n FROM diagnostic_reports WHERE patient_id = $1',
              [w.patients.patient],
            )
          ).rows[0] as { n: string | number }
        ).n,
      )
    const before = await reports()
    const dr = (extra: Record<string, unknown>) =>
      post(
        '/fhir/R4/DiagnosticReport',
        tokens.clinicianFhir as string,
        report(extra),
        'application/fhir+json',
      )
    assertRefused(await dr({ code: null }), 400, 'DiagnosticReport.code: null')
    assertRefused(
      await dr({ effectiveDateTime: '2021-02-29T10:00:00+01:00' }),
      400,
      'a report time on 29 February 2021',
    )
    assertRefused(
      await dr({ effectiveDateTime: '2016-12-31T23:59:60Z' }),
      400,
      'a report time on a leap second',
    )
    assertRefused(await dr({ effectiveDateTime: '0000-01-01T00:00:00Z' }), 400, 'a report time in year 0')
    assertRefused(await dr({ issued: '2021-02-30T10:00:00Z' }), 400, 'an impossible issued instant')
    assert.equal(await reports(), before, 'no report was stored')
    const patient = (birthDate: string) =>
      post(
        '/fhir/R4/Patient',
        tokens.orgAdminFhir as string,
        JSON.stringify({
          resourceType: 'Patient',
          managingOrganization: { reference: `Organization/${w.orgA}` },
          name: [{ family: `Leap${w.suffix}` }],
          birthDate,
        }),
        'application/fhir+json',
      )
    assertRefused(await patient('2021-02-29'), 400, 'birthDate 2021-02-29')
    assertRefused(await patient('2021-04-31'), 400, 'birthDate 2021-04-31')
    const ok = await patient('2020-02-29')
    assert.equal(ok.statusCode, 201, ok.body)
  })

  test('[SRS-HTTP-204] size and depth: an extension nested 10,000 deep, a 1 MB string and 1e309 answer 400, not a stack overflow or a stored megabyte', async () => {
    const deep =
      '{"url":"http://example.org/x","extension":['.repeat(10_000) +
      '{"url":"http://example.org/x","valueString":"a"}' +
      ']}'.repeat(10_000)
    const deepReport = report({}).replace(
      '"resourceType":"DiagnosticReport"',
      `"resourceType":"DiagnosticReport","extension":[${deep}]`,
    )
    assertRefused(
      await post(
        '/fhir/R4/DiagnosticReport',
        tokens.clinicianFhir as string,
        deepReport,
        'application/fhir+json',
      ),
      400,
      'an extension nested 10,000 deep',
    )
    assertRefused(
      await post(
        '/fhir/R4/DiagnosticReport',
        tokens.clinicianFhir as string,
        report({ conclusion: 'x'.repeat(1_000_000) }),
        'application/fhir+json',
      ),
      400,
      'a 1 MB conclusion',
    )
    const users = `/api/v2/organisations/${w.orgA}/users`
    assertRefused(
      await post(
        users,
        tokens.orgAdmin as string,
        `{"email":"deep@world.test","role":"clinician","displayName":${'['.repeat(5000)}${']'.repeat(5000)}}`,
        'application/json',
      ),
      400,
      'a JSON array 5,000 deep',
    )
    assertRefused(
      await post(
        `/api/v2/device-data`,
        tokens.clinician as string,
        '{"readings":[{"code":"2339-0","value":1e309,"unit":"mg/dL","effectiveDateTime":"2026-11-01T09:00:00Z"}]}',
        'application/json',
      ),
      400,
      '1e309',
    )
  })

  test('[SRS-HTTP-203] paging cursors are authenticated: a forged, altered or foreign cursor is 400 on every paged list', async () => {
    const patient = w.patients.patient
    const forge = (s: string) => Buffer.from(s).toString('base64url')
    const forged = [
      forge(JSON.stringify({ d: 'n', k: ['0000-01-01T00:00:00Z', '00000000-0000-0000-0000-000000000000'] })),
      forge(JSON.stringify({ d: 'n', k: ['2020-01-01T00:00:00Z', '00000000-0000-0000-0000-000000000000'] })),
      forge('0000-01-01T00:00:00.000Z|00000000-0000-0000-0000-000000000000'),
      forge('2020-01-01T00:00:00.000Z|00000000-0000-0000-0000-000000000000'),
    ]
    for (const cursor of forged) {
      assertRefused(
        await get(
          `/fhir/R4/Observation?patient=${patient}&_cursor=${cursor}`,
          tokens.clinicianFhir as string,
        ),
        400,
        'a forged FHIR cursor',
      )
      assertRefused(
        await get(`/api/v2/audit/entries?cursor=${cursor}`, tokens.auditor as string),
        400,
        'a forged audit cursor',
      )
      assertRefused(
        await get(`/fhir/R4/AuditEvent?_cursor=${cursor}`, tokens.auditorFhir as string),
        400,
        'a forged AuditEvent cursor',
      )
      assertRefused(
        await get(`/api/v2/device-data?patient=${patient}&cursor=${cursor}`, tokens.clinician as string),
        400,
        'a forged device-data cursor',
      )
      assertRefused(
        await get(`/api/v2/security-events?cursor=${cursor}`, tokens.auditor as string),
        400,
        'a forged security-event cursor',
      )
    }
    // A real cursor works; the same cursor with one character changed, or used on another list, does not.
    const first = await get('/api/v2/audit/entries?limit=1', tokens.auditor as string)
    const next = (JSON.parse(first.body) as { next: string | null }).next
    assert.ok(next, 'the trail has more than one entry')
    assert.equal(
      (await get(`/api/v2/audit/entries?limit=1&cursor=${next}`, tokens.auditor as string)).statusCode,
      200,
    )
    const flipped = next.slice(0, 5) + (next[5] === 'A' ? 'B' : 'A') + next.slice(6)
    assertRefused(
      await get(`/api/v2/audit/entries?limit=1&cursor=${flipped}`, tokens.auditor as string),
      400,
      'an altered cursor',
    )
    assertRefused(
      await get(`/api/v2/security-events?cursor=${next}`, tokens.auditor as string),
      400,
      "another list's cursor",
    )
  })

  test('[SRS-AUTH-200] e-mail addresses: Cyrillic look-alikes, zero-width and full-width characters are refused with a clear 400 at invitation and password-reset request', async () => {
    const users = `/api/v2/organisations/${w.orgA}/users`
    for (const email of [
      '\u0430dmin@demo.test',
      'ad\u200bmin@demo.test',
      '\uff41dmin@demo.test',
      'admin@d\u0435mo.test',
      'admin\u202e@demo.test',
      'admin@xn--d-0.test',
    ]) {
      const res = await post(
        users,
        tokens.orgAdmin as string,
        JSON.stringify({ email, role: 'clinician' }),
        'application/json',
      )
      assertRefused(res, 400, `invitation of ${JSON.stringify(email)}`)
      const problem = JSON.parse(res.body) as { errors?: Array<{ pointer: string; detail: string }> }
      assert.equal(problem.errors?.[0]?.pointer, '/email')
      assert.ok(!res.body.includes(email), 'the address is not echoed')
    }
    const { rows } = await t.db.query(
      "SELECT 1 FROM users WHERE email_normalized LIKE '%demo.test' AND email_normalized <> 'admin@demo.test' AND email !~ '^[ -~]+$'",
    )
    assert.equal(rows.length, 0, 'no look-alike account exists')
    // An internationalised domain in its A-label form is an ordinary address.
    const idn = await post(
      users,
      tokens.orgAdmin as string,
      JSON.stringify({ email: `idn.${w.suffix}@xn--bcher-kva.example`, role: 'clinician' }),
      'application/json',
    )
    assert.equal(idn.statusCode, 201, idn.body)

    // Self-registration and every other account creation pass through the same service.
    const accounts = createUserService({ db: t.db, hasher: createPasswordHasher(), clock: () => new Date() })
    for (const email of ['\u0430dmin@demo.test', 'ad\u200bmin@demo.test']) {
      const err = await accounts
        .register({ email, password: 'a long and unusual passphrase 7' })
        .catch((e: unknown) => e)
      assert.ok(
        err instanceof AppError && err.code === 'VALIDATION_FAILED' && err.errors?.[0]?.pointer === '/email',
        `register(${JSON.stringify(email)})`,
      )
    }

    const form = await t.app.inject({ method: 'GET', url: '/account/password-reset' })
    const cookie = ([] as string[])
      .concat(form.headers['set-cookie'] ?? [])
      .map((c) => c.split(';')[0])
      .join('; ')
    const reset = await t.app.inject({
      method: 'POST',
      url: '/account/password-reset',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      payload: new URLSearchParams({ email: '\u0430dmin@demo.test', csrf: csrfOf(form.body) }).toString(),
    })
    assert.equal(reset.statusCode, 400, reset.body.slice(0, 300))
    assert.match(reset.body, /plain ASCII/)
  })

  test('[SRS-OBS-200] no refused input reaches a log line, and no refusal is logged as an error', async () => {
    const marker = `HOSTILE${w.suffix}`
    const before = t.logs.lines.length
    await get(`/api/v2/audit/entries?action=${marker}%00`, tokens.auditor as string)
    await get(`/api/v2/patients/${marker}%00`, tokens.clinician as string)
    await get(`/fhir/R4/Patient/${marker}%ED%A0%80`, tokens.clinicianFhir as string)
    await post(
      `/api/v2/organisations/${w.orgA}/users`,
      tokens.orgAdmin as string,
      `{"email":"${marker}@world.test","role":"clinician","displayName":"${marker}\\u0000"}`,
      'application/json',
    )
    await post(
      '/fhir/R4/DiagnosticReport',
      tokens.clinicianFhir as string,
      report({ conclusion: `${marker}\ud800`, effectiveDateTime: '0000-01-01T00:00:00Z' }),
      'application/fhir+json',
    )
    await get(`/api/v2/audit/entries?from=0000-01-01T00:00:00Z&action=${marker}`, tokens.auditor as string)
    const lines = t.logs.lines.slice(before)
    assert.ok(lines.length > 0)
    assert.deepEqual(
      lines.filter((l) => l.includes(marker)),
      [],
      'the marker of a refused input appears in no log line',
    )
    assert.deepEqual(
      lines.filter((l) => /"level":(50|60)/.test(l)),
      [],
      'nothing was logged as an error',
    )
  })
})
