// Anomaly detection over the audit trail: rules raise security events exactly once per burst,
// stored, logged, visible to admins and auditors, acknowledged by admins, sent to a webhook.
// Acceptance (issue 7): five failed logins in a minute raise exactly one security event visible to admins.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { evaluateRules } from '../../src/audit/anomalies.ts'
import type { AuditEntryInput } from '../../src/audit/index.ts'
import {
  anomalyMonitorFor,
  createAnomalyMonitor,
  thresholdsFromConfig,
} from '../../src/modules/auditor/index.ts'
import type { Queryable } from '../../src/platform/db/index.ts'
import { createTestApp, openIsolatedDatabase } from '../support/app.ts'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followUntilOutside,
  nativeAppMetadata,
  xsrfOf,
} from '../support/identity.ts'
import { registerSecretClient, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { buildWorld, userToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('anomaly detection and security events', () => {
  let s: OAuthTestServer
  let world: World
  let oidc: client.Configuration
  let adminToken: string
  let auditorToken: string
  const appId = `anomaly-app-${randomUUID()}`

  const api = async (method: string, path: string, token: string) => {
    const res = await fetch(`${s.issuer}/api/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    })
    return { status: res.status, body: (await res.json()) as Json }
  }
  const eventsOf = async (kind: string, subject: string, token = adminToken) => {
    const res = await api(
      'GET',
      `/security-events?kind=${kind}&subject=${encodeURIComponent(subject)}`,
      token,
    )
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body.events as Json[]
  }
  const record = (input: Partial<AuditEntryInput> & Pick<AuditEntryInput, 'action'>) =>
    s.app.vigil.modules.audit.record({
      actorKind: 'anonymous',
      outcome: 'success',
      requestId: `anomaly-${randomUUID()}`,
      ...input,
    })
  /** A user's successful read of `resource` that carried a patient: what "many patients" counts. */
  const patientRead = (actorId: string, patientId: string | undefined, resource = 'patients') =>
    record({
      actorKind: 'user',
      actorId,
      action: `${resource}.read`,
      resourceType: resource,
      patientId,
      status: 200,
    })
  const monitor = () => anomalyMonitorFor(s.app.vigil.modules)

  /** One password attempt through the sign-in pages, as a browser makes it. */
  async function failedLogin(email: string) {
    const jar = new CookieJar()
    const url = client.buildAuthorizationUrl(oidc, {
      redirect_uri: 'http://127.0.0.1:40000/callback',
      scope: 'openid',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
      state: 's',
    })
    const first = await followUntilOutside(s.issuer, url.href, jar)
    const action = new URL(/action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '', s.issuer).toString()
    const res = await fetch(action, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        email,
        password: 'definitely not the password',
        csrf: csrfOf(first.page ?? ''),
      }),
    })
    await res.arrayBuffer()
    return res.status
  }

  /** Entries are written after each response: wait (bounded) until `n` match. */
  async function waitForEntries(sql: string, params: unknown[], n: number) {
    for (let i = 0; i < 200; i++) {
      const { rows } = await s.db.query<{ n: number | string }>(
        `SELECT count(*) AS n FROM audit_entries WHERE ${sql}`,
        params,
      )
      if (Number(rows[0]?.n) >= n) return
      await sleep(25)
    }
    throw new Error(`fewer than ${n} entries for ${sql}`)
  }

  before(async () => {
    s = await startOAuthTestServer({
      // TRUST_PROXY: a test's attempts come from an address of its own (X-Forwarded-For), so the
      // per-address rule counts them alone even when the suite's files share one trail.
      env: { ANOMALY_INTERVAL_SECONDS: '0', ANOMALY_PATIENTS_THRESHOLD: '5', TRUST_PROXY: '127.0.0.1,::1' },
    })
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
    oidc = await s.discover(appId, client.None())
    world = await buildWorld(s.app)
    adminToken = await userToken(s.app, s.config.publicUrl, world, world.users.admin)
    auditorToken = await userToken(s.app, s.config.publicUrl, world, world.users.auditor)
  })
  after(() => s.close())

  test('[SRS-AUDIT-009] acceptance: five failed logins in a minute raise exactly one security event visible to admins', async () => {
    const victim = await createTestUser(s.db, {
      email: `victim-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: world.orgA }],
    })
    for (let i = 0; i < 5; i++) assert.equal(await failedLogin(victim.email), 401)
    await waitForEntries(
      "action = 'login.failed' AND resource_type = 'account' AND resource_id = $1",
      [victim.id],
      5,
    )

    const first = await monitor().run()
    assert.equal(first.raised.filter((e) => e.kind === 'failed-logins' && e.subject === victim.id).length, 1)
    const events = await eventsOf('failed-logins', victim.id)
    assert.equal(events.length, 1)
    const [event] = events as [Json]
    assert.equal(event.details.count, 5)
    assert.equal(event.acknowledgedAt, null)
    assert.ok(!JSON.stringify(event).includes(victim.email), 'identifiers only: no email')
    // logged at warn, identifiers only
    const logged = s.logs.entries().filter((l) => (l.securityEvent as Json | undefined)?.id === event.id)
    assert.equal(logged.length, 1)
    assert.equal(logged[0]?.level, 40)
    assert.ok(!s.logs.text.includes(victim.email))

    // again, directly and on demand through the API: nothing new
    const again = await monitor().run()
    assert.equal(again.raised.filter((e) => e.subject === victim.id).length, 0)
    const scan = await api('POST', '/security-events/scan', adminToken)
    assert.equal(scan.status, 200, JSON.stringify(scan.body))
    assert.equal((await eventsOf('failed-logins', victim.id)).length, 1)
  })

  test('[SRS-AUDIT-015] two detectors running at once (two instances) raise a burst once', async () => {
    const account = randomUUID()
    for (let i = 0; i < 6; i++)
      await record({
        action: 'login.failed',
        resourceType: 'account',
        resourceId: account,
        outcome: 'denied',
        ip: '192.0.2.50',
      })
    const [a, b] = await Promise.all([monitor().run(), monitor().run()])
    const raised = [...a.raised, ...b.raised].filter((e) => e.subject === account)
    assert.equal(raised.length, 1)
    assert.equal((await eventsOf('failed-logins', account)).length, 1)
  })

  test('[SRS-AUDIT-010] twenty failed attempts from one address in a minute raise one failed-logins-ip event', async () => {
    // An address no other test uses: with DATABASE_URL every test file shares one trail, and a
    // random one of 250 documentation addresses met another file's failed sign-in (CI, 2026-12-06).
    const ip = `2001:db8:a1:${randomUUID().slice(0, 4)}::${randomUUID().slice(0, 4)}`
    // each attempt names another (unknown) account, so only the address rule fires
    for (let i = 0; i < 19; i++) {
      const requestId = `ip-burst-${randomUUID()}`
      await record({
        action: 'login.failed',
        resourceType: 'ip-address',
        resourceId: ip,
        outcome: 'denied',
        ip,
        requestId,
      })
      await record({
        action: 'login.failed',
        resourceType: 'account',
        resourceId: `unknown:${randomUUID()}`,
        outcome: 'denied',
        ip,
        requestId,
      })
    }
    await monitor().run()
    assert.equal((await eventsOf('failed-logins-ip', ip)).length, 0, '19 attempts (38 entries) are not 20')
    await record({
      action: 'login.failed',
      resourceType: 'account',
      resourceId: `unknown:${randomUUID()}`,
      outcome: 'denied',
      ip,
    })
    await monitor().run()
    const events = await eventsOf('failed-logins-ip', ip)
    assert.equal(events.length, 1)
    assert.equal(events[0]?.details.count, 20)
  })

  test('[SRS-AUDIT-010] wrong client secrets and user codes that match nothing count as failed attempts from their address (real requests); other OAuth refusals do not', async () => {
    const ip = `2001:db8:a2:${randomUUID().slice(0, 4)}::${randomUUID().slice(0, 4)}`
    // Each attempt names another address first, as a caller behind the proxy may: the proxy
    // appends the address it saw, and that one alone is the caller's (TRUST_PROXY).
    const spoofed = () => `198.51.100.${1 + Math.floor(Math.random() * 254)}`
    const from = () => ({ 'x-forwarded-for': `${spoofed()}, ${ip}` })
    const svc = `anomaly-svc-${randomUUID()}`
    const secret = 'a-long-random-client-secret-0123456789abcdef'
    await registerSecretClient(s, svc, secret, 'account:read')
    const token = async (password: string, scope: string) => {
      const res = await fetch(`${s.issuer}/oauth/token`, {
        method: 'POST',
        headers: {
          ...from(),
          authorization: `Basic ${Buffer.from(`${svc}:${password}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
      })
      await res.arrayBuffer()
      return res.status
    }
    const userCode = async (typed: string) => {
      const jar = new CookieJar()
      const form = await fetch(`${s.issuer}/oauth/device`, { headers: from() })
      jar.store(form)
      const xsrf = xsrfOf(await form.text())
      const res = await fetch(`${s.issuer}/oauth/device`, {
        method: 'POST',
        headers: { ...from(), cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf, user_code: typed }).toString(),
      })
      await res.arrayBuffer()
      return res.status
    }
    const entriesFrom = "ip = $1 AND action LIKE 'oauth.%'"

    // Refusals from the address that are not a wrong credential: a scope the client may not have,
    // an empty user code. They are audited, and counted by no rule.
    assert.equal(await token(secret, 'device-data:write'), 400)
    assert.equal(await userCode(''), 400)
    // 19 wrong credentials: ten client secrets, nine user codes.
    for (let i = 0; i < 10; i++) assert.equal(await token(`${secret}-${i}`, 'account:read'), 401)
    for (let i = 0; i < 9; i++) assert.equal(await userCode('BCDF-GHJK'), 400)
    await waitForEntries(entriesFrom, [ip], 21)
    await monitor().run()
    assert.equal((await eventsOf('failed-logins-ip', ip)).length, 0, '19 wrong credentials are not 20')

    assert.equal(await userCode('KLMN-PQRS'), 400)
    await waitForEntries(entriesFrom, [ip], 22)
    await monitor().run()
    const events = await eventsOf('failed-logins-ip', ip)
    assert.equal(events.length, 1)
    assert.equal(events[0]?.details.count, 20)
  })

  test('[SRS-AUDIT-011] one user touching many distinct patients in the window raises many-patients; many reads of one patient do not', async () => {
    const snoop = randomUUID()
    const diligent = randomUUID()
    for (let i = 0; i < 6; i++) await patientRead(snoop, randomUUID())
    for (let i = 0; i < 10; i++) await patientRead(diligent, world.patients.patient, 'device-data')
    await monitor().run()
    const events = await eventsOf('many-patients', snoop)
    assert.equal(events.length, 1)
    assert.equal(events[0]?.details.distinctPatients, 5)
    assert.equal(
      thresholdsFromConfig(s.app.vigil.modules).distinctPatients.count,
      5,
      'ANOMALY_PATIENTS_THRESHOLD',
    )
    assert.equal((await eventsOf('many-patients', diligent)).length, 0)
  })

  test('[SRS-AUDIT-019] a detector run asks one query at a time and reads only the subjects that could cross', async () => {
    const snoop = randomUUID()
    const quiet = randomUUID()
    const patients = Array.from({ length: 6 }, () => randomUUID())
    for (const patientId of patients) await patientRead(snoop, patientId)
    // Forty reads of four patients: many entries, never five distinct patients.
    for (let i = 0; i < 40; i++) await patientRead(quiet, patients[i % 4])
    let inFlight = 0
    let most = 0
    const rowsOf = new Map<string, number>()
    const ruleQueries: { sql: string; params: readonly unknown[] }[] = []
    const watched: Queryable = {
      async query<R>(sql: string, params?: readonly unknown[]) {
        if (/\bAS grp\b/.test(sql)) ruleQueries.push({ sql, params: params ?? [] })
        most = Math.max(most, ++inFlight)
        try {
          const result = await s.db.query<R>(sql, params)
          for (const row of result.rows as { grp?: string }[])
            if (row.grp) rowsOf.set(row.grp, (rowsOf.get(row.grp) ?? 0) + 1)
          return result
        } finally {
          inFlight--
        }
      },
      exec: (sql) => s.db.exec(sql),
    }
    const found = await evaluateRules(
      watched,
      new Date(Date.now() - 60_000),
      thresholdsFromConfig(s.app.vigil.modules),
    )
    assert.equal(most, 1, 'the rules ran one after another')
    assert.ok(found.some((c) => c.kind === 'many-patients' && c.subject === snoop))
    assert.equal(rowsOf.get(snoop), 6, 'every entry of a subject that reaches the threshold')
    assert.equal(rowsOf.get(quiet), undefined, 'none of a subject that cannot')
    assert.ok(!found.some((c) => c.subject === quiet))
    // Each counting rule is one pass over its rows: no join, whose plan would rest on statistics
    // (a nested loop recounting every group for every row ran for more than 30 s on a young table).
    assert.equal(ruleQueries.length, 5)
    const nodesOf = (plan: Json): string[] => [
      plan['Node Type'] as string,
      ...((plan.Plans as Json[] | undefined) ?? []).flatMap(nodesOf),
    ]
    for (const { sql, params } of ruleQueries) {
      const { rows } = await s.db.query<{ 'QUERY PLAN': Json[] | string }>(
        `EXPLAIN (FORMAT JSON) ${sql}`,
        params,
      )
      const plan = rows[0]?.['QUERY PLAN']
      const nodes = nodesOf(
        (typeof plan === 'string' ? (JSON.parse(plan) as Json[]) : (plan ?? []))[0]?.Plan as Json,
      )
      assert.ok(nodes.includes('Seq Scan') || nodes.some((n) => n.includes('Index')), nodes.join(', '))
      assert.deepEqual(
        nodes.filter((n) => /Join|Nested Loop/.test(n)),
        [],
        `${sql.slice(0, 80)}: ${nodes.join(', ')}`,
      )
    }
  })

  test('[SRS-AUDIT-012] a login from an address never seen for the account raises new-login-ip; the first login ever does not', async () => {
    const user = randomUUID()
    const newcomer = randomUUID()
    const login = (actorId: string, ip: string) =>
      record({
        actorKind: 'user',
        actorId,
        action: 'login.succeeded',
        resourceType: 'account',
        resourceId: actorId,
        ip,
      })
    await login(user, '192.0.2.10')
    await login(user, '192.0.2.10')
    await login(newcomer, '192.0.2.30')
    await monitor().run()
    assert.equal((await eventsOf('new-login-ip', user)).length, 0, 'known address')
    await login(user, '203.0.113.77')
    await login(user, '203.0.113.77')
    await monitor().run()
    const events = await eventsOf('new-login-ip', user)
    assert.equal(events.length, 1, 'once, for the first login from the new address')
    assert.equal(events[0]?.details.ip, '203.0.113.77')
    assert.equal((await eventsOf('new-login-ip', newcomer)).length, 0, 'no earlier login to compare with')
  })

  test('[SRS-AUDIT-013] break-glass use raises one event per user, patient and episode; opening a session too', async () => {
    const clinician = world.users.clinicianBreakGlass.id
    for (let i = 0; i < 3; i++) {
      await record({
        actorKind: 'user',
        actorId: clinician,
        action: 'device-data.read',
        resourceType: 'device-data',
        patientId: world.patients.patient,
        breakGlass: true,
        decisionRule: 'clinician.break-glass',
        status: 200,
      })
    }
    // a real break-glass session opened through the API (by a clinician of the patient's organisation, ADR-0012)
    const opener = world.users.clinicianTeam
    const token = await userToken(s.app, s.config.publicUrl, world, opener)
    const opened = await fetch(`${s.issuer}/api/v2/patients/${world.patients.otherPatient}/break-glass`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'Patient admitted unconscious; the care team cannot be reached' }),
    })
    assert.equal(opened.status, 201, await opened.text())
    await waitForEntries(
      "actor_id = $1 AND action = 'break-glass.open' AND outcome = 'success'",
      [opener.id],
      1,
    )
    await monitor().run()
    const events = await eventsOf('break-glass', clinician)
    assert.equal(events.length, 1)
    assert.equal(events[0]?.details.patientId, world.patients.patient)
    const openedEvents = await eventsOf('break-glass', opener.id)
    assert.equal(openedEvents.length, 1)
    assert.equal(openedEvents[0]?.details.patientId, world.patients.otherPatient)
  })

  test('[SRS-AUDIT-014] a burst of twenty 403s from one actor raises forbidden-burst (real requests)', async () => {
    const snooper = world.users.clinicianOutside
    const token = await userToken(s.app, s.config.publicUrl, world, snooper)
    for (let i = 0; i < 20; i++) assert.equal((await api('GET', '/audit/entries', token)).status, 403)
    await waitForEntries('actor_id = $1 AND status = 403', [snooper.id], 20)
    await monitor().run()
    const events = await eventsOf('forbidden-burst', snooper.id)
    assert.equal(events.length, 1)
    assert.equal(events[0]?.details.count, 20)
  })

  test('[SRS-AUDIT-017] security events: admins and auditors read them, only admins acknowledge; others are refused', async () => {
    const account = randomUUID()
    for (let i = 0; i < 5; i++)
      await record({
        action: 'login.failed',
        resourceType: 'account',
        resourceId: account,
        outcome: 'denied',
      })
    await monitor().run()
    const [event] = (await eventsOf('failed-logins', account, auditorToken)) as [Json]
    assert.ok(event)
    assert.equal((await api('GET', `/security-events/${event.id}`, auditorToken)).status, 200)
    const clinician = await userToken(s.app, s.config.publicUrl, world, world.users.clinicianTeam)
    assert.equal((await api('GET', '/security-events', clinician)).status, 403)
    assert.equal((await api('POST', `/security-events/${event.id}/acknowledge`, auditorToken)).status, 403)
    assert.equal((await api('POST', '/security-events/scan', auditorToken)).status, 403)

    const ack = await api('POST', `/security-events/${event.id}/acknowledge`, adminToken)
    assert.equal(ack.status, 200, JSON.stringify(ack.body))
    assert.equal(ack.body.acknowledgedBy, world.users.admin.id)
    const again = await api('POST', `/security-events/${event.id}/acknowledge`, adminToken)
    assert.equal(again.body.acknowledgedAt, ack.body.acknowledgedAt, 'the first acknowledgement stays')
    const open = await api('GET', `/security-events?subject=${account}&acknowledged=false`, adminToken)
    assert.deepEqual(open.body.events, [])
    assert.equal((await api('POST', `/security-events/${randomUUID()}/acknowledge`, adminToken)).status, 404)

    // pagination: every event once
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: { status: number; body: Json } = await api(
        'GET',
        `/security-events?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        adminToken,
      )
      assert.equal(page.status, 200)
      seen.push(...page.body.events.map((e: Json) => e.id))
      cursor = page.body.next
    } while (cursor)
    const { rows } = await s.db.query<{ n: number | string }>('SELECT count(*) AS n FROM security_events')
    assert.equal(seen.length, Number(rows[0]?.n))
    assert.equal(new Set(seen).size, seen.length)
  })

  test('[SRS-AUDIT-016] webhook: each new event is POSTed as JSON; a failed delivery is retried on the next run', async () => {
    const received: Json[] = []
    let answer = 500
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString('utf8')))
      req.on('end', () => {
        received.push({
          contentType: req.headers['content-type'],
          body: JSON.parse(body) as Json,
          answered: answer,
        })
        res.writeHead(answer).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
      const hooked = createAnomalyMonitor({
        db: s.db,
        logger: s.app.vigil.modules.logger,
        clock: () => new Date(),
        thresholds: thresholdsFromConfig(s.app.vigil.modules),
        webhookUrl: url,
        source: s.config.publicUrl,
      })
      const account = randomUUID()
      for (let i = 0; i < 5; i++)
        await record({
          action: 'login.failed',
          resourceType: 'account',
          resourceId: account,
          outcome: 'denied',
        })

      const failed = await hooked.run()
      const event = failed.raised.find((e) => e.subject === account)
      assert.ok(event)
      assert.ok(failed.deliveryFailures >= 1)
      assert.ok(received.some((r) => r.body.event.id === event.id && r.answered === 500))
      const stored = async () =>
        (
          await s.db.query<{ delivered_at: Date | null }>(
            'SELECT delivered_at FROM security_events WHERE id = $1',
            [event.id],
          )
        ).rows[0]?.delivered_at
      assert.equal(await stored(), null, 'not delivered yet')

      answer = 200
      const retried = await hooked.run()
      assert.equal(retried.raised.length, 0)
      assert.ok(retried.delivered >= 1)
      const ok = received.filter((r) => r.body.event.id === event.id && r.answered === 200)
      assert.equal(ok.length, 1)
      assert.equal(ok[0]?.contentType, 'application/json')
      assert.equal(ok[0]?.body.source, s.config.publicUrl)
      assert.equal(ok[0]?.body.event.kind, 'failed-logins')
      assert.equal(ok[0]?.body.event.subject, account)
      assert.ok((await stored()) !== null, 'delivered_at stored')
      await hooked.run()
      assert.equal(
        received.filter((r) => r.body.event.id === event.id).length,
        2,
        'not sent again once delivered',
      )
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})

describe('anomaly detection on a timer', () => {
  test('[SRS-AUDIT-018] with ANOMALY_INTERVAL_SECONDS=1 the server raises the event by itself, and stops with the server', async () => {
    // A database of its own: on the suite's shared PostgreSQL database the scan would read every
    // other test's audit entries, and another app could hold the once-per-period claim.
    const { db, drop } = await openIsolatedDatabase()
    const t = await createTestApp({ env: { ANOMALY_INTERVAL_SECONDS: '1' }, deps: { db } })
    try {
      const account = randomUUID()
      for (let i = 0; i < 5; i++) {
        await t.app.vigil.modules.audit.record({
          actorKind: 'anonymous',
          action: 'login.failed',
          resourceType: 'account',
          resourceId: account,
          outcome: 'denied',
          requestId: `timer-${randomUUID()}`,
        })
      }
      const logged = () =>
        t.logs
          .entries()
          .some((l) => (l.securityEvent as Json | undefined)?.subject === account && l.level === 40)
      let n = 0
      // Up to 20 s: the first run is one interval after start-up, and a loaded CI machine is slow.
      // The row commits before the run logs it, so wait for both: the poll can see the row first.
      for (let i = 0; i < 200 && (n === 0 || !logged()); i++) {
        await sleep(100)
        n = Number(
          (
            await t.db.query<{ n: number | string }>(
              "SELECT count(*) AS n FROM security_events WHERE kind = 'failed-logins' AND subject = $1",
              [account],
            )
          ).rows[0]?.n,
        )
      }
      assert.equal(n, 1)
      assert.ok(logged(), 'the raised event is logged as a warning')
    } finally {
      await t.close()
      await drop()
    }
  })
})
