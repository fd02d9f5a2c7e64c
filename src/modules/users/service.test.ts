// Account use cases on the database under test: creation and roles, password login with
// throttling, password change and reset, email verification.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { TEST_KEYRING, testConfig } from '../../../test/support/config.ts'
import { openTestDatabase } from '../../../test/support/app.ts'
import { createKeyring } from '../../platform/crypto/index.ts'
import type { Database } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { createPasswordHasher, type PasswordHasher } from './password-hasher.ts'
import { createSecondFactorService, sealerFromKeyring } from './second-factor.ts'
import { createUserService, type UserService } from './service.ts'
import { totpCode } from './totp.ts'

const T0 = new Date('2031-07-08T09:00:00Z')
const MIN = 60_000
const PASSWORD = 'lantern orchard seventeen'
const uniqueEmail = (name: string): string => `${name}.${randomBytes(6).toString('hex')}@x.test`
const randomIp = (): string =>
  `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::1`

/** The real hasher, counting which path each login took. */
function countingHasher(): PasswordHasher & { calls: { verify: number; dummy: number } } {
  const real = createPasswordHasher()
  const calls = { verify: 0, dummy: 0 }
  return {
    ...real,
    calls,
    verify: (h, p) => {
      calls.verify++
      return real.verify(h, p)
    },
    dummyVerify: (p) => {
      calls.dummy++
      return real.dummyVerify(p)
    },
  }
}

const isAppError = (code: string) => (err: unknown) => err instanceof AppError && err.code === code

describe('user service', () => {
  let db: Database
  let now: Date
  let hasher: ReturnType<typeof countingHasher>
  let users: UserService
  before(async () => {
    db = await openTestDatabase(testConfig())
    hasher = countingHasher()
    users = createUserService({ db, hasher, clock: () => now })
    now = T0
  })
  after(() => db.close())

  test('[SRS-AUTH-001] global and organisation roles; a role outside its scope is refused', async () => {
    const org = await users.createOrganisation(`Clinic ${randomBytes(4).toString('hex')}`)
    await assert.rejects(users.createOrganisation(org.name), isAppError('ORGANISATION_NAME_TAKEN'))
    assert.deepEqual(await users.findOrganisationByName(org.name), org)
    const user = await users.createUser({
      email: uniqueEmail('staff'),
      password: PASSWORD,
      displayName: ' Dr Staff ',
      roles: [
        { role: 'auditor', organisationId: null },
        { role: 'clinician', organisationId: org.id },
        { role: 'org-admin', organisationId: org.id },
      ],
    })
    assert.equal(user.displayName, 'Dr Staff')
    assert.equal(user.status, 'active')
    assert.equal(user.emailVerifiedAt, null)
    assert.deepEqual(
      new Set(user.roles.map((r) => `${r.role}@${r.organisationId}`)),
      new Set([`auditor@null`, `clinician@${org.id}`, `org-admin@${org.id}`]),
    )
    assert.equal(
      await users.addRole(user.id, { role: 'clinician', organisationId: org.id }),
      false,
      'held already',
    )
    assert.equal(await users.addRole(user.id, { role: 'admin', organisationId: null }), true)
    assert.equal(await users.addRole(user.id, { role: 'admin', organisationId: null }), false)
    await assert.rejects(
      users.addRole(user.id, { role: 'admin', organisationId: org.id }),
      isAppError('VALIDATION_FAILED'),
    )
    await assert.rejects(
      users.addRole(user.id, { role: 'clinician', organisationId: null }),
      isAppError('VALIDATION_FAILED'),
    )
    await assert.rejects(
      users.addRole(user.id, { role: 'patient', organisationId: '00000000-0000-4000-8000-000000000000' }),
      isAppError('VALIDATION_FAILED'),
    )
    // The database holds the same rule.
    await assert.rejects(
      db.query("INSERT INTO user_roles (user_id, role) VALUES ($1, 'clinician')", [user.id]),
    )
    assert.equal((await users.findById(user.id))?.roles.length, 4)
    assert.equal(await users.findById('not-a-uuid'), undefined)
  })

  test('[SRS-AUTH-001] emails are unique regardless of case, width and surrounding spaces', async () => {
    const local = `case.${randomBytes(6).toString('hex')}`
    const created = await users.createUser({ email: `  ${local.toUpperCase()}@X.TEST `, password: PASSWORD })
    assert.equal(created.email, `${local.toUpperCase()}@X.TEST`, 'kept as typed, trimmed')
    await assert.rejects(
      users.createUser({ email: `${local}@x.test`, password: PASSWORD }),
      isAppError('EMAIL_TAKEN'),
    )
    const fullWidthAt = `${local}＠x.test` // U+FF20 would fold to @ under NFKC: the email policy (ADR-0015) refuses it outright
    await assert.rejects(
      users.createUser({ email: fullWidthAt, password: PASSWORD }),
      isAppError('VALIDATION_FAILED'),
    )
    assert.equal((await users.findByEmail(`${local}@X.test`))?.id, created.id)
    await assert.rejects(
      users.createUser({ email: 'not an email', password: PASSWORD }),
      isAppError('VALIDATION_FAILED'),
    )
  })

  test('[SRS-AUTH-003] a refused password names the reasons, never the password', async () => {
    const email = uniqueEmail('policy')
    const err = await users.createUser({ email, password: 'password1' }).catch((e: unknown) => e)
    assert.ok(err instanceof AppError && err.code === 'VALIDATION_FAILED')
    assert.deepEqual(err.errors, [{ pointer: '/password', detail: 'common' }])
    assert.ok(!JSON.stringify({ message: err.message, errors: err.errors }).includes('password1'))
    assert.equal(await users.findByEmail(email), undefined, 'nothing was created')
  })

  test('[SRS-AUTH-002] the stored hash is argon2id with the OWASP parameters; a weaker one is upgraded at login', async () => {
    const user = await users.createUser({ email: uniqueEmail('hash'), password: PASSWORD })
    const stored = async (): Promise<string> =>
      (await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [user.id]))
        .rows[0]?.password_hash as string
    assert.match(await stored(), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    const weak = await createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }).hash(PASSWORD)
    await db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.id, weak])
    assert.equal((await users.authenticate({ email: user.email, password: PASSWORD })).ok, true)
    assert.match(await stored(), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  })

  test('[SRS-AUTH-006] an unknown email and a wrong password give the same answer, and both spend one argon2 verification', async () => {
    const user = await users.createUser({ email: uniqueEmail('login'), password: PASSWORD })
    const before = { ...hasher.calls }
    const wrong = await users.authenticate({
      email: user.email,
      password: 'not the password',
      ip: randomIp(),
    })
    const unknown = await users.authenticate({
      email: uniqueEmail('nobody'),
      password: 'not the password',
      ip: randomIp(),
    })
    assert.deepEqual(hasher.calls, { verify: before.verify + 1, dummy: before.dummy + 1 })
    const shape = (r: typeof wrong) => ({
      ...r,
      events: r.events.map((e) => ({ type: e.type, key: e.key.replace(/^(account|ip):.*$/, '$1:…') })),
    })
    assert.deepEqual(shape(wrong), shape(unknown))
    assert.deepEqual(shape(wrong), {
      ok: false,
      reason: 'invalid',
      events: [
        { type: 'login.failed', key: 'ip:…' },
        { type: 'login.failed', key: 'account:…' },
      ],
    })
    // And after five failures both are locked alike: a lock does not reveal an account either.
    const nobody = uniqueEmail('nobody')
    for (let i = 0; i < 4; i++) {
      await users.authenticate({ email: user.email, password: 'not the password', ip: randomIp() })
      await users.authenticate({ email: nobody, password: 'not the password', ip: randomIp() })
    }
    await users.authenticate({ email: nobody, password: 'not the password', ip: randomIp() })
    const lockedKnown = await users.authenticate({ email: user.email, password: PASSWORD, ip: randomIp() })
    const lockedUnknown = await users.authenticate({ email: nobody, password: PASSWORD, ip: randomIp() })
    assert.equal(
      !lockedKnown.ok && lockedKnown.reason,
      'locked',
      'even the right password is refused while locked',
    )
    assert.equal(!lockedUnknown.ok && lockedUnknown.reason, 'locked')
    now = new Date(now.getTime() + MIN)
    assert.equal(
      (await users.authenticate({ email: user.email, password: PASSWORD, ip: randomIp() })).ok,
      true,
      'a minute later',
    )
    now = T0
  })

  test('[SRS-CRYPTO-031] a patient account never stores a display name: the name is PHI and lives only in the sealed patient record', async () => {
    const registered = await users.register({
      email: uniqueEmail('named-patient'),
      password: PASSWORD,
      displayName: 'Ada Plaintext',
    })
    assert.equal(registered.displayName, null)
    const { rows } = await db.query<{ display_name: string | null }>(
      'SELECT display_name FROM users WHERE id = $1',
      [registered.id],
    )
    assert.equal(rows[0]?.display_name, null)
  })

  test('[SRS-AUTH-004] login tells whether a second factor is needed or must first be enrolled', async () => {
    const org = await users.createOrganisation(`Ward ${randomBytes(4).toString('hex')}`)
    const patient = await users.register({ email: uniqueEmail('patient'), password: PASSWORD })
    assert.deepEqual(patient.roles, [{ role: 'patient', organisationId: null }])
    const clinician = await users.createUser({
      email: uniqueEmail('clinician'),
      password: PASSWORD,
      roles: [{ role: 'clinician', organisationId: org.id }],
    })
    assert.equal(users.secondFactorRequired(patient), false)
    assert.equal(users.secondFactorRequired(clinician), true)

    const p = await users.authenticate({ email: patient.email, password: PASSWORD })
    assert.deepEqual(p.ok && [p.needsSecondFactor, p.mustEnrolSecondFactor], [false, false])
    const c = await users.authenticate({ email: clinician.email, password: PASSWORD })
    assert.deepEqual(c.ok && [c.needsSecondFactor, c.mustEnrolSecondFactor, c.events.map((e) => e.type)], [
      false,
      true,
      ['login.succeeded'],
    ])

    const factors = createSecondFactorService({
      db,
      sealer: sealerFromKeyring(createKeyring(TEST_KEYRING)),
      clock: () => now,
    })
    const { secret } = await factors.startTotpEnrolment({ userId: clinician.id, email: clinician.email })
    const pending = await users.authenticate({ email: clinician.email, password: PASSWORD })
    assert.deepEqual(
      pending.ok && [pending.needsSecondFactor, pending.mustEnrolSecondFactor],
      [false, true],
      'a pending enrolment is not enough',
    )
    assert.ok((await factors.confirmTotpEnrolment(clinician.id, totpCode(secret, now))).ok)
    const enrolled = await users.authenticate({ email: clinician.email, password: PASSWORD })
    assert.deepEqual(enrolled.ok && [enrolled.needsSecondFactor, enrolled.mustEnrolSecondFactor], [
      true,
      false,
    ])
  })

  test('[SRS-AUTH-005] a disabled account, or one without a password, is refused like a wrong password', async () => {
    const disabled = await users.createUser({ email: uniqueEmail('disabled'), password: PASSWORD })
    await users.setStatus(disabled.id, 'disabled')
    const r = await users.authenticate({ email: disabled.email, password: PASSWORD })
    assert.equal(!r.ok && r.reason, 'invalid')
    const invited = await users.createUser({ email: uniqueEmail('invited') })
    const before = hasher.calls.dummy
    const i = await users.authenticate({ email: invited.email, password: PASSWORD })
    assert.equal(!i.ok && i.reason, 'invalid')
    assert.equal(hasher.calls.dummy, before + 1)
  })

  test('[SRS-AUTH-003] changing the password checks the current one (throttled) and the policy', async () => {
    const user = await users.createUser({ email: uniqueEmail('change'), password: PASSWORD })
    await assert.rejects(
      users.changePassword({
        userId: user.id,
        currentPassword: 'wrong one',
        newPassword: 'a brand new passphrase',
      }),
      isAppError('FORBIDDEN'),
    )
    await assert.rejects(
      users.changePassword({ userId: user.id, currentPassword: PASSWORD, newPassword: 'qwertyuiop' }),
      isAppError('VALIDATION_FAILED'),
    )
    now = new Date(T0.getTime() + 5 * MIN)
    await users.changePassword({
      userId: user.id,
      currentPassword: PASSWORD,
      newPassword: 'a brand new passphrase',
    })
    assert.deepEqual((await users.findById(user.id))?.passwordChangedAt, now)
    assert.equal((await users.authenticate({ email: user.email, password: PASSWORD })).ok, false)
    assert.equal(
      (await users.authenticate({ email: user.email, password: 'a brand new passphrase' })).ok,
      true,
    )
    for (let i = 0; i < 5; i++)
      await users
        .changePassword({ userId: user.id, currentPassword: 'guess', newPassword: 'x' })
        .catch(() => {})
    await assert.rejects(
      users.changePassword({
        userId: user.id,
        currentPassword: 'a brand new passphrase',
        newPassword: 'another new passphrase',
      }),
      (err) => {
        return err instanceof AppError && err.code === 'RATE_LIMITED' && err.headers['retry-after'] === '60'
      },
    )
    now = T0
  })

  test('[SRS-AUTH-006] a reset token is stored as its SHA-256, expires within 30 minutes and works once', async () => {
    const user = await users.createUser({ email: uniqueEmail('reset'), password: PASSWORD })
    assert.equal(await users.createPasswordResetToken(uniqueEmail('nobody')), undefined)
    const issued = await users.createPasswordResetToken(user.email.toUpperCase())
    assert.ok(issued)
    assert.ok(issued.token.length >= 43)
    assert.deepEqual(issued.expiresAt, new Date(T0.getTime() + 30 * MIN))
    const { rows } = await db.query<{ token_hash: string }>(
      'SELECT token_hash FROM password_reset_tokens WHERE user_id = $1',
      [user.id],
    )
    assert.deepEqual(
      rows.map((r) => r.token_hash),
      [createHash('sha256').update(issued.token).digest('hex')],
      'only the hash is stored',
    )

    await assert.rejects(
      users.consumePasswordResetToken(issued.token, 'password123'),
      isAppError('VALIDATION_FAILED'),
    )
    const reset = await users.consumePasswordResetToken(issued.token, 'a fresh reset passphrase')
    assert.equal(reset.id, user.id)
    assert.deepEqual(reset.emailVerifiedAt, T0, 'the link proved control of the mailbox')
    await assert.rejects(
      users.consumePasswordResetToken(issued.token, 'yet another passphrase'),
      isAppError('LINK_NOT_USABLE'),
      'single use',
    )
    assert.equal(
      (await users.authenticate({ email: user.email, password: 'a fresh reset passphrase' })).ok,
      true,
    )

    const late = await users.createPasswordResetToken(user.email)
    assert.ok(late)
    now = new Date(T0.getTime() + 30 * MIN)
    await assert.rejects(
      users.consumePasswordResetToken(late.token, 'too late passphrase'),
      isAppError('LINK_NOT_USABLE'),
      'expired at 30 minutes',
    )
    now = T0
    await assert.rejects(
      users.consumePasswordResetToken('made-up-token', 'whatever passphrase'),
      isAppError('LINK_NOT_USABLE'),
    )
  })

  test('[SRS-AUTH-006] peeking at a reset token names its account without using it; a used, expired or unknown token names none', async () => {
    const user = await users.createUser({ email: uniqueEmail('peek'), password: PASSWORD })
    const issued = await users.createPasswordResetToken(user.email)
    assert.ok(issued)
    assert.equal((await users.peekPasswordResetToken(issued.token))?.id, user.id)
    assert.equal(
      (await users.peekPasswordResetToken(issued.token))?.id,
      user.id,
      'a peek does not use the token',
    )
    await users.consumePasswordResetToken(issued.token, 'a peeked reset passphrase')
    assert.equal(await users.peekPasswordResetToken(issued.token), undefined, 'used')
    const late = await users.createPasswordResetToken(user.email)
    assert.ok(late)
    now = new Date(T0.getTime() + 30 * MIN)
    assert.equal(await users.peekPasswordResetToken(late.token), undefined, 'expired')
    now = T0
    assert.equal(await users.peekPasswordResetToken('made-up-token'), undefined, 'unknown')
  })

  test('[SRS-AUTH-006] using one reset token voids the others; concurrent uses of one token: exactly one succeeds', async () => {
    const user = await users.createUser({ email: uniqueEmail('reset2'), password: PASSWORD })
    const a = await users.createPasswordResetToken(user.email)
    const b = await users.createPasswordResetToken(user.email)
    assert.ok(a && b)
    const results = await Promise.allSettled([
      users.consumePasswordResetToken(a.token, 'first racer passphrase'),
      users.consumePasswordResetToken(a.token, 'second racer passphrase'),
    ])
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    await assert.rejects(
      users.consumePasswordResetToken(b.token, 'third passphrase here'),
      isAppError('LINK_NOT_USABLE'),
    )
  })

  test('[SRS-AUTH-001] email verification: a mailed token verifies the address once', async () => {
    const user = await users.register({ email: uniqueEmail('verify'), password: PASSWORD })
    const issued = await users.createEmailVerificationToken(user.id)
    assert.deepEqual(issued.expiresAt, new Date(T0.getTime() + 24 * 60 * MIN))
    now = new Date(T0.getTime() + 10 * MIN)
    const verified = await users.consumeEmailVerificationToken(issued.token)
    assert.deepEqual(verified.emailVerifiedAt, now)
    await assert.rejects(users.consumeEmailVerificationToken(issued.token), isAppError('LINK_NOT_USABLE'))
    now = T0
  })
})
