// The care module's administration APIs over the authorization world (test/support/world.ts), with
// real opaque tokens and the real policy decision point: organisations, inviting users, roles,
// disabling accounts, patient records and care teams. An org-admin sees only their organisation:
// another organisation's users, patients and care teams answer 404.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { inviteUser } from '../../src/modules/care/index.ts'
import { createPasswordHasher, createUserService } from '../../src/modules/users/index.ts'
import { createMailer } from '../../src/platform/mail/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { createTestUser, TEST_PASSWORD } from '../support/identity.ts'
import { buildWorld, userToken, type World, type WorldUser } from '../support/world.ts'

describe('care administration: organisations, users, patients, care teams', () => {
  let t: TestApp
  let w: World
  const tokens = new Map<WorldUser, string>()

  const token = async (user: WorldUser): Promise<string> => {
    let value = tokens.get(user)
    if (!value) {
      value = await userToken(t.app, t.config.publicUrl, w, user)
      tokens.set(user, value)
    }
    return value
  }
  const api = async (
    user: WorldUser | string,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
  ) => {
    const bearer = typeof user === 'string' ? user : await token(user)
    const res = await t.app.inject({
      method,
      url: `/api/v2${url}`,
      headers: { authorization: `Bearer ${bearer}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    })
    return { status: res.statusCode, body: res.body ? res.json() : undefined, raw: res.body }
  }

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
  })
  after(() => t.close())

  test('[SRS-AUTHZ-003] an administrator creates organisations; an org-admin sees only their own, another organisation answers 404', async () => {
    const name = `Riverside ${randomUUID()}`
    const created = await api(w.users.admin, 'POST', '/organisations', { name })
    assert.equal(created.status, 201, created.raw)
    assert.equal(created.body?.name, name)
    const taken = await api(w.users.admin, 'POST', '/organisations', { name })
    assert.deepEqual([taken.status, taken.body?.code], [409, 'ORGANISATION_NAME_TAKEN'])
    assert.equal(
      (await api(w.users.orgAdminA, 'POST', '/organisations', { name: `x ${randomUUID()}` })).status,
      403,
    )

    const all = (await api(w.users.admin, 'GET', '/organisations')).body?.organisations.map(
      (o: { id: string }) => o.id,
    )
    assert.ok(all.includes(w.orgA) && all.includes(w.orgB) && all.includes(created.body?.id))
    const own = await api(w.users.orgAdminA, 'GET', '/organisations')
    assert.deepEqual(
      own.body?.organisations.map((o: { id: string }) => o.id),
      [w.orgA],
    )
    assert.equal((await api(w.users.orgAdminA, 'GET', `/organisations/${w.orgA}`)).status, 200)
    assert.equal((await api(w.users.orgAdminA, 'GET', `/organisations/${w.orgB}`)).status, 404)
    assert.equal((await api(w.users.admin, 'GET', `/organisations/${randomUUID()}`)).status, 404)
    assert.equal((await api(w.users.clinicianTeam, 'GET', '/organisations')).status, 403)
  })

  test("[SRS-AUTHZ-004] an org-admin invites a user into their organisation without a password; another organisation's users are out of reach (404)", async () => {
    const email = `invited.${randomUUID()}@world.test`
    const invited = await api(w.users.orgAdminA, 'POST', `/organisations/${w.orgA}/users`, {
      email,
      role: 'clinician',
      displayName: 'Dr Invited',
    })
    assert.equal(invited.status, 201, invited.raw)
    assert.deepEqual(invited.body?.roles, ['clinician'])
    assert.equal(invited.body?.status, 'active')
    assert.equal(typeof invited.body?.invitationMailed, 'boolean')
    assert.ok(!/token|password-reset/i.test(invited.raw), 'no link or token in the response')
    const row = (
      await t.db.query<{ password_hash: string | null }>('SELECT password_hash FROM users WHERE id = $1', [
        invited.body?.id,
      ])
    ).rows[0]
    assert.equal(row?.password_hash, null, 'no password until the invitee chooses one')

    const again = await api(w.users.orgAdminA, 'POST', `/organisations/${w.orgA}/users`, {
      email,
      role: 'clinician',
    })
    assert.deepEqual([again.status, again.body?.code], [409, 'EMAIL_TAKEN'])
    assert.equal(
      (
        await api(w.users.orgAdminA, 'POST', `/organisations/${w.orgA}/users`, {
          email: `a.${randomUUID()}@world.test`,
          role: 'admin',
        })
      ).status,
      400,
      'platform roles are not handed out here',
    )
    assert.equal(
      (
        await api(w.users.orgAdminB, 'POST', `/organisations/${w.orgA}/users`, {
          email: `b.${randomUUID()}@world.test`,
          role: 'clinician',
        })
      ).status,
      404,
    )

    const listed = await api(w.users.orgAdminA, 'GET', `/organisations/${w.orgA}/users`)
    const ids = listed.body?.users.map((u: { id: string }) => u.id)
    assert.ok(ids.includes(invited.body?.id) && ids.includes(w.users.clinicianTeam.id))
    assert.ok(!ids.includes(w.users.clinicianOrgB.id))
    assert.equal((await api(w.users.orgAdminB, 'GET', `/organisations/${w.orgA}/users`)).status, 404)

    // Roles: given and taken within the organisation; another org-admin cannot, nor reach in through their own organisation.
    // A clinician's account is never made an administrator (segregation of duties, ADR-0012).
    const refused = await api(
      w.users.orgAdminA,
      'PUT',
      `/organisations/${w.orgA}/users/${invited.body?.id}/roles/org-admin`,
    )
    assert.equal(refused.status, 403, refused.raw)
    assert.equal(refused.body?.code, 'SEGREGATION_OF_DUTIES')
    const promoted = await api(
      w.users.orgAdminA,
      'PUT',
      `/organisations/${w.orgA}/users/${invited.body?.id}/roles/patient`,
    )
    assert.equal(promoted.status, 200, promoted.raw)
    assert.deepEqual(promoted.body?.roles, ['clinician', 'patient'])
    assert.equal(
      (
        await api(
          w.users.orgAdminB,
          'PUT',
          `/organisations/${w.orgA}/users/${invited.body?.id}/roles/org-admin`,
        )
      ).status,
      404,
    )
    assert.equal(
      (
        await api(
          w.users.orgAdminB,
          'PUT',
          `/organisations/${w.orgB}/users/${invited.body?.id}/roles/clinician`,
        )
      ).status,
      404,
      "cannot pull another organisation's user in",
    )
    assert.equal(
      (
        await api(
          w.users.orgAdminA,
          'DELETE',
          `/organisations/${w.orgA}/users/${invited.body?.id}/roles/patient`,
        )
      ).status,
      204,
    )
    assert.equal(
      (
        await api(
          w.users.orgAdminA,
          'DELETE',
          `/organisations/${w.orgA}/users/${invited.body?.id}/roles/patient`,
        )
      ).status,
      404,
    )
    assert.equal(
      (
        await api(
          w.users.orgAdminB,
          'DELETE',
          `/organisations/${w.orgA}/users/${w.users.clinicianTeam.id}/roles/clinician`,
        )
      ).status,
      404,
    )
  })

  test('[SRS-AUTHZ-004] the invitation mail carries a single-use link to choose a password; the token appears nowhere else', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vigil-invite-'))
    try {
      const mailer = createMailer({ smtpUrl: undefined, from: 'Vigil <no-reply@vigil.test>', devDir: dir })
      const users = createUserService({ db: t.db, hasher: createPasswordHasher(), clock: () => new Date() })
      const email = `mailed.${randomUUID()}@world.test`
      const invitation = await inviteUser(
        { users, mailer, publicUrl: t.config.publicUrl, logger: t.app.log as never },
        { email, role: 'clinician', organisation: { id: w.orgA, name: 'Clinic A' }, requestId: 'req-invite' },
      )
      assert.equal(invitation.mailed, true)
      const files = await readdir(dir)
      assert.equal(files.length, 1)
      const mail = (await readFile(path.join(dir, files[0] as string), 'utf8')).replace(/=\r\n/g, '')
      const link = new RegExp(
        `${t.config.publicUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/account/password-reset/([A-Za-z0-9_-]{16,128})`,
      ).exec(mail)
      assert.ok(link, 'the mail holds the set-password link')
      const page = await t.app.inject({ method: 'GET', url: `/account/password-reset/${link[1]}` })
      assert.equal(page.statusCode, 200, 'the link opens the choose-a-password page')
      assert.equal((await users.peekPasswordResetToken(link[1] as string))?.id, invitation.user.id)
      assert.ok(!t.logs.text.includes(link[1] as string), 'the token reaches no log line')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test("[SRS-AUTHZ-005] a disabled user's token answers 401 on the next request; only who manages the account may disable it", async () => {
    const email = `disable.${randomUUID()}@world.test`
    const invited = await api(w.users.orgAdminA, 'POST', `/organisations/${w.orgA}/users`, {
      email,
      role: 'clinician',
    })
    const user = { id: invited.body?.id as string, email }
    await t.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [w.patients.patient, user.id, w.orgA],
    )
    const bearer = await userToken(t.app, t.config.publicUrl, w, user)
    assert.equal((await api(bearer, 'GET', `/patients/${w.patients.patient}`)).status, 200)

    assert.equal(
      (await api(w.users.orgAdminB, 'POST', `/users/${user.id}/disable`)).status,
      404,
      "another organisation's admin",
    )
    assert.equal(
      (await api(w.users.orgAdminA, 'POST', `/users/${w.users.admin.id}/disable`)).status,
      404,
      'a platform administrator is beyond an org-admin',
    )
    assert.equal((await api(w.users.orgAdminA, 'POST', `/users/${randomUUID()}/disable`)).status, 404)
    const self = await api(w.users.admin, 'POST', `/users/${w.users.admin.id}/disable`)
    assert.deepEqual([self.status, self.body?.code], [409, 'CANNOT_DISABLE_SELF'], 'not oneself')

    const disabled = await api(w.users.orgAdminA, 'POST', `/users/${user.id}/disable`)
    assert.deepEqual(disabled.body, { id: user.id, status: 'disabled' })
    assert.equal((await api(bearer, 'GET', `/patients/${w.patients.patient}`)).status, 401)

    assert.equal((await api(w.users.admin, 'POST', `/users/${user.id}/enable`)).status, 200)
    assert.equal(
      (await api(bearer, 'GET', `/patients/${w.patients.patient}`)).status,
      401,
      'the grants were revoked: re-enabling does not revive old tokens',
    )
    const fresh = await userToken(t.app, t.config.publicUrl, w, user)
    assert.equal((await api(fresh, 'GET', `/patients/${w.patients.patient}`)).status, 200)
  })

  test('[SRS-AUTHZ-006] an org-admin creates a patient record, sealed at rest; demographics are read only by who may see the patient', async () => {
    const family = `Sealedname${randomUUID().slice(0, 8)}`
    const created = await api(w.users.orgAdminA, 'POST', `/organisations/${w.orgA}/patients`, {
      demographics: { name: { given: ['Ada'], family }, birthDate: '1985-12-10', gender: 'female' },
    })
    assert.equal(created.status, 201, created.raw)
    assert.ok(!created.raw.includes(family), 'administrators manage records; they are not shown PHI')
    const stored = (
      await t.db.query<{ demographics_sealed: string }>(
        'SELECT demographics_sealed FROM patients WHERE id = $1',
        [created.body?.id],
      )
    ).rows[0]
    assert.ok(
      stored &&
        !stored.demographics_sealed.includes(family) &&
        !stored.demographics_sealed.includes('1985-12-10'),
    )
    assert.equal(
      (
        await api(w.users.orgAdminB, 'POST', `/organisations/${w.orgA}/patients`, {
          demographics: { gender: 'male' },
        })
      ).status,
      404,
    )
    const exists = await api(w.users.orgAdminA, 'POST', `/organisations/${w.orgA}/patients`, {
      demographics: {},
      userId: w.users.patient.id,
    })
    assert.deepEqual(
      [exists.status, exists.body?.code],
      [409, 'PATIENT_RECORD_EXISTS'],
      'already has a record',
    )
    const noRole = await api(w.users.orgAdminA, 'POST', `/organisations/${w.orgA}/patients`, {
      demographics: {},
      userId: w.users.clinicianTeam.id,
    })
    assert.deepEqual([noRole.status, noRole.body?.code], [422, 'PATIENT_ROLE_MISSING'])

    const read = await api(w.users.clinicianTeam, 'GET', `/patients/${w.patients.patient}`)
    assert.equal(read.status, 200)
    assert.equal(read.body?.demographics.name.family, `Patient${w.suffix}`)
    assert.equal(
      (await api(w.users.patient, 'GET', `/patients/${w.patients.patient}`)).status,
      200,
      'own record',
    )
    assert.equal((await api(w.users.clinicianOutside, 'GET', `/patients/${w.patients.patient}`)).status, 404)
    assert.equal((await api(w.users.patient, 'GET', `/patients/${w.patients.otherPatient}`)).status, 404)
    assert.equal((await api(w.users.clinicianTeam, 'GET', `/patients/${randomUUID()}`)).status, 404)
    assert.equal(
      (await api(w.users.admin, 'GET', `/patients/${w.patients.patient}`)).status,
      403,
      'administrators do not read PHI',
    )

    const list = await api(w.users.clinicianTeam, 'GET', '/patients')
    assert.equal(list.status, 200)
    assert.deepEqual(
      list.body?.patients.map((p: { id: string }) => p.id),
      [w.patients.patient],
    )
    for (const v of w.canaryValues)
      assert.ok(!list.raw.includes(v) && !read.raw.includes(v), 'the canary never appears')
    assert.deepEqual((await api(w.users.clinicianOutside, 'GET', '/patients')).body?.patients, [])
  })

  test("[SRS-AUTHZ-007] an org-admin puts a clinician of the patient's organisation in the care team; access follows on the next request", async () => {
    const url = `/patients/${w.patients.otherPatient}/care-team/${w.users.clinicianOutside.id}`
    assert.equal(
      (await api(w.users.clinicianOutside, 'GET', `/patients/${w.patients.otherPatient}`)).status,
      404,
    )
    assert.equal((await api(w.users.orgAdminB, 'PUT', url)).status, 404, "another organisation's admin")
    assert.equal(
      (await api(w.users.clinicianTeam, 'PUT', url)).status,
      403,
      'clinicians do not manage care teams',
    )
    assert.equal(
      (
        await api(
          w.users.orgAdminA,
          'PUT',
          `/patients/${w.patients.otherPatient}/care-team/${w.users.clinicianOrgB.id}`,
        )
      ).status,
      422,
      'a clinician of another organisation',
    )
    assert.equal(
      (
        await api(
          w.users.orgAdminA,
          'PUT',
          `/patients/${randomUUID()}/care-team/${w.users.clinicianOutside.id}`,
        )
      ).status,
      404,
    )

    const added = await api(w.users.orgAdminA, 'PUT', url)
    assert.equal(added.status, 201, added.raw)
    assert.equal((await api(w.users.admin, 'PUT', url)).status, 200, 'idempotent')
    assert.equal(
      (await api(w.users.clinicianOutside, 'GET', `/patients/${w.patients.otherPatient}`)).status,
      200,
    )
    const team = await api(w.users.orgAdminA, 'GET', `/patients/${w.patients.otherPatient}/care-team`)
    assert.deepEqual(
      team.body?.members.map((m: { userId: string }) => m.userId),
      [w.users.clinicianOutside.id],
    )
    assert.equal(
      (await api(w.users.orgAdminB, 'GET', `/patients/${w.patients.otherPatient}/care-team`)).status,
      404,
    )

    assert.equal((await api(w.users.orgAdminA, 'DELETE', url)).status, 204)
    assert.equal(
      (await api(w.users.clinicianOutside, 'GET', `/patients/${w.patients.otherPatient}`)).status,
      404,
      'removal takes effect on the next request',
    )
    assert.equal((await api(w.users.orgAdminA, 'DELETE', url)).status, 404)
  })
  test("[SRS-API-541] an org-admin resets the second factor of a user of their organisation: TOTP and recovery codes go, their tokens stop, the next sign-in enrols anew, and a security entry is in the trail; another organisation's admin gets 404, one's own 403", async () => {
    const target = await createTestUser(t.db, {
      email: `reset.${randomUUID().slice(0, 8)}@world.test`,
      roles: [{ role: 'clinician', organisationId: w.orgA }],
      totp: true,
    })
    const directory = createAccountDirectory({ db: t.db, keyring: createKeyring(TEST_KEYRING) })
    assert.deepEqual(
      (await directory.checkPassword({
        email: target.email,
        password: TEST_PASSWORD,
        ip: '192.0.2.10',
      })) as object,
      { ok: true, account: (await directory.findAccount(target.id)) as object, secondFactor: 'verify' },
    )
    const targetToken = await userToken(t.app, t.config.publicUrl, w, { id: target.id } as WorldUser)
    assert.equal((await api(targetToken, 'GET', '/me')).status, 200)

    // Another organisation's administrator, a clinician, an auditor: refused, nothing removed.
    assert.equal(
      (await api(w.users.orgAdminB, 'POST', `/users/${target.id}/second-factor/reset`)).status,
      404,
      'across organisations: concealed',
    )
    assert.equal(
      (await api(w.users.clinicianTeam, 'POST', `/users/${target.id}/second-factor/reset`)).status,
      403,
    )
    assert.equal((await api(w.users.auditor, 'POST', `/users/${target.id}/second-factor/reset`)).status, 403)
    assert.equal(
      (await api(w.users.orgAdminA, 'POST', `/users/${randomUUID()}/second-factor/reset`)).status,
      404,
    )
    assert.equal((await api(w.users.orgAdminA, 'POST', '/users/not-a-uuid/second-factor/reset')).status, 400)
    const own = await api(w.users.admin, 'POST', `/users/${w.users.admin.id}/second-factor/reset`)
    assert.equal(own.status, 403, "never one's own")
    assert.match(own.raw, /SEGREGATION_OF_DUTIES|segregation/i)
    assert.equal(
      (await t.db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1', [target.id])).rows.length,
      1,
      'still enrolled after the refusals',
    )

    const reset = await api(w.users.orgAdminA, 'POST', `/users/${target.id}/second-factor/reset`)
    assert.equal(reset.status, 200, reset.raw)
    assert.deepEqual(reset.body, {
      id: target.id,
      totpRemoved: true,
      recoveryCodesRemoved: 10,
      enrolAtNextSignIn: true,
    })
    assert.equal(
      (await t.db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1', [target.id])).rows.length,
      0,
    )
    assert.equal(
      (await t.db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [target.id])).rows.length,
      0,
    )
    assert.equal(
      (await api(targetToken, 'GET', '/me')).status,
      401,
      'the sessions and tokens of the account end',
    )
    const next = await directory.checkPassword({
      email: target.email,
      password: TEST_PASSWORD,
      ip: '192.0.2.10',
    })
    assert.equal(next.ok && next.secondFactor, 'enrol', 'the next sign-in enrols a new authenticator')
    const { rows } = await t.db.query<{ actor_id: string; resource_type: string; outcome: string }>(
      "SELECT actor_id, resource_type, outcome FROM audit_entries WHERE action = 'second_factor.reset' AND resource_id = $1",
      [target.id],
    )
    assert.deepEqual(
      rows,
      [{ actor_id: w.users.orgAdminA.id, resource_type: 'account', outcome: 'success' }],
      'one security entry, written with the change',
    )
    // Last, as it ends the org-admin's tokens: a platform administrator may reset an organisation's administrator.
    assert.equal(
      (await api(w.users.admin, 'POST', `/users/${w.users.orgAdminA.id}/second-factor/reset`)).status,
      200,
    )
  })
})
