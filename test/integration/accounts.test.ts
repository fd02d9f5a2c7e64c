// Accounts end to end through the users module's public face, on the real database of the run
// (PGlite in memory, or the PostgreSQL in DATABASE_URL) with every migration applied. The
// database may be shared: emails and addresses are unique per run, and nothing global is cleaned.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createKeyring } from '../../src/platform/crypto/index.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { AppError } from '../../src/platform/http/errors.ts'
import {
  createPasswordHasher,
  createSecondFactorService,
  createUserService,
  sealerFromKeyring,
  totpCode,
  type SecondFactorService,
  type UserService,
} from '../../src/modules/users/index.ts'
import { TEST_KEYRING, testConfig } from '../support/config.ts'
import { openTestDatabase } from '../support/app.ts'

const MIN = 60_000
const PASSWORD = 'violet kettle under the stairs'
const suffix = (): string => randomBytes(5).toString('hex')
const randomIp = (): string =>
  `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::7`
const isAppError = (code: string) => (err: unknown) => err instanceof AppError && err.code === code

describe('accounts (identity issue)', () => {
  let db: Database
  let now: Date
  let users: UserService
  let factors: SecondFactorService
  const clock = (): Date => now
  const advance = (ms: number): void => {
    now = new Date(now.getTime() + ms)
  }

  before(async () => {
    db = await openTestDatabase(testConfig())
    users = createUserService({ db, hasher: createPasswordHasher(), clock })
    factors = createSecondFactorService({ db, sealer: sealerFromKeyring(createKeyring(TEST_KEYRING)), clock })
  })
  after(() => db.close())

  test('[SRS-AUTH-001][SRS-AUTH-002] Alice@X.test and alice@x.test are one account; the password is stored as argon2id with OWASP parameters', async () => {
    now = new Date('2032-01-10T12:00:00Z')
    const s = suffix()
    const alice = await users.register({
      email: `Alice.${s}@X.test`,
      password: PASSWORD,
      displayName: 'Alice',
    })
    await assert.rejects(
      users.register({ email: `alice.${s}@x.test`, password: PASSWORD }),
      isAppError('EMAIL_TAKEN'),
    )
    const { rows } = await db.query<{ email: string; email_normalized: string; password_hash: string }>(
      'SELECT email, email_normalized, password_hash FROM users WHERE id = $1',
      [alice.id],
    )
    assert.deepEqual(rows[0] && [rows[0].email, rows[0].email_normalized], [
      `Alice.${s}@X.test`,
      `alice.${s}@x.test`,
    ])
    assert.match(rows[0]?.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    assert.ok(!(rows[0]?.password_hash ?? '').includes(PASSWORD))
    const login = await users.authenticate({ email: `ALICE.${s}@x.TEST`, password: PASSWORD, ip: randomIp() })
    assert.equal(login.ok && login.user.id, alice.id, 'logs in whatever the case')
  })

  test('[SRS-AUTH-003] registration applies the NIST policy: a listed password and 7 characters refused, a long passphrase without composition accepted', async () => {
    await assert.rejects(
      users.register({ email: `p.${suffix()}@x.test`, password: 'superman' }),
      (err) =>
        isAppError('VALIDATION_FAILED')(err) && JSON.stringify((err as AppError).errors).includes('common'),
    )
    await assert.rejects(users.register({ email: `p.${suffix()}@x.test`, password: 'k7#vQ2m' }), (err) =>
      JSON.stringify((err as AppError).errors).includes('too_short'),
    )
    await users.register({ email: `p.${suffix()}@x.test`, password: 'correct horse battery staple' })
    const passphrase = 'river stones hum softly under the old mill bridge at dusk in may'
    assert.equal([...passphrase].length, 64)
    await users.register({ email: `p.${suffix()}@x.test`, password: passphrase })
  })

  test('[SRS-AUTH-004] a clinician must enrol TOTP at next login, then needs it; codes work once; five wrong codes lock it for 15 minutes', async () => {
    now = new Date('2032-01-11T08:00:10Z')
    const org = await users.createOrganisation(`Clinic ${suffix()}`)
    const clinician = await users.createUser({
      email: `clinician.${suffix()}@x.test`,
      password: PASSWORD,
      roles: [{ role: 'clinician', organisationId: org.id }],
      emailVerified: true,
    })
    const first = await users.authenticate({ email: clinician.email, password: PASSWORD, ip: randomIp() })
    assert.deepEqual(first.ok && { needs: first.needsSecondFactor, mustEnrol: first.mustEnrolSecondFactor }, {
      needs: false,
      mustEnrol: true,
    })

    const enrolment = await factors.startTotpEnrolment({ userId: clinician.id, email: clinician.email })
    assert.match(enrolment.qrCodeDataUrl, /^data:image\/svg\+xml;base64,/)
    const confirmed = await factors.confirmTotpEnrolment(clinician.id, totpCode(enrolment.secret, now))
    assert.ok(confirmed.ok)
    const recovery = confirmed.recoveryCodes

    advance(MIN)
    const second = await users.authenticate({ email: clinician.email, password: PASSWORD, ip: randomIp() })
    assert.deepEqual(
      second.ok && { needs: second.needsSecondFactor, mustEnrol: second.mustEnrolSecondFactor },
      { needs: true, mustEnrol: false },
    )
    const code = totpCode(enrolment.secret, now)
    assert.equal((await factors.verify(clinician.id, code)).ok, true)
    const replay = await factors.verify(clinician.id, code)
    assert.equal(!replay.ok && replay.reason, 'replayed', 'a code is accepted once')

    advance(MIN)
    for (let i = 0; i < 5; i++)
      assert.equal((await factors.verify(clinician.id, i % 2 ? '000000' : '999999')).ok, false)
    const sixth = await factors.verify(clinician.id, totpCode(enrolment.secret, now))
    assert.equal(!sixth.ok && sixth.reason, 'locked', 'the sixth attempt is refused even when right')
    advance(15 * MIN)
    assert.equal(
      (await factors.verify(clinician.id, totpCode(enrolment.secret, now))).ok,
      true,
      'unlocked after 15 minutes',
    )

    assert.equal((await factors.useRecoveryCode(clinician.id, recovery[3] as string)).ok, true)
    assert.equal(
      (await factors.useRecoveryCode(clinician.id, recovery[3] as string)).ok,
      false,
      'a recovery code works once',
    )
  })

  test('[SRS-AUTH-004] two concurrent verifications of one TOTP code: exactly one succeeds', async () => {
    now = new Date('2032-01-12T08:00:00Z')
    const admin = await users.createUser({
      email: `admin.${suffix()}@x.test`,
      password: PASSWORD,
      roles: [{ role: 'admin', organisationId: null }],
    })
    const { secret } = await factors.startTotpEnrolment({ userId: admin.id, email: admin.email })
    assert.ok((await factors.confirmTotpEnrolment(admin.id, totpCode(secret, now))).ok)
    advance(30_000)
    const code = totpCode(secret, now)
    const [a, b] = await Promise.all([factors.verify(admin.id, code), factors.verify(admin.id, code)])
    assert.equal([a, b].filter((r) => r?.ok).length, 1)
  })

  test('[SRS-AUTH-005][SRS-AUTH-150] password guessing: the account is delayed a minute, the attacker address after 50 failures a minute too, the owner is back in after a minute, and every step is an event', async () => {
    now = new Date('2032-01-13T08:00:00Z')
    const victim = await users.register({ email: `victim.${suffix()}@x.test`, password: PASSWORD })
    const attackerIp = randomIp()
    const events: unknown[] = []
    const reasons: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await users.authenticate({
        email: victim.email,
        password: `guess number ${i}`,
        ip: attackerIp,
      })
      events.push(...r.events)
      reasons.push(r.ok ? 'ok' : r.reason)
    }
    assert.deepEqual(reasons, ['invalid', 'invalid', 'invalid', 'invalid', 'locked'])
    const owner = await users.authenticate({ email: victim.email, password: PASSWORD, ip: randomIp() })
    assert.equal(!owner.ok && owner.reason, 'locked', 'the account lock applies from any address')
    assert.deepEqual(!owner.ok && owner.lockedUntil, new Date(now.getTime() + MIN), 'for one minute')
    events.push(...owner.events)

    // The attacker moves on to other accounts from the same address: the address is delayed at 50 failures.
    for (let i = 0; i < 45; i++) {
      const r = await users.authenticate({
        email: `someone.${suffix()}@x.test`,
        password: 'guess',
        ip: attackerIp,
      })
      events.push(...r.events)
    }
    const fromAttacker = await users.authenticate({
      email: `other.${suffix()}@x.test`,
      password: 'guess',
      ip: attackerIp,
    })
    assert.equal(!fromAttacker.ok && fromAttacker.reason, 'locked')
    assert.deepEqual(!fromAttacker.ok && fromAttacker.lockedUntil, new Date(now.getTime() + MIN))

    advance(MIN)
    const back = await users.authenticate({ email: victim.email, password: PASSWORD, ip: randomIp() })
    assert.equal(back.ok, true, 'the owner is back in after a minute')
    assert.equal(
      (await users.authenticate({ email: victim.email, password: PASSWORD, ip: attackerIp })).ok,
      true,
      'a delay, not a lock: the address is let through again',
    )

    const types = new Set(events.map((e) => (e as { type: string }).type))
    assert.deepEqual(types, new Set(['login.failed', 'login.locked', 'login.blocked']))
    for (const e of events) {
      assert.ok(typeof (e as { key: string }).key === 'string' && (e as { at: Date }).at instanceof Date)
      assert.ok(
        !JSON.stringify(e).includes('guess') && !JSON.stringify(e).includes(PASSWORD),
        'no password in an event',
      )
    }
  })

  test('[SRS-AUTH-006] password reset: unknown emails answer alike, the token is single-use and expires within 30 minutes', async () => {
    now = new Date('2032-01-14T08:00:00Z')
    const user = await users.register({ email: `forgot.${suffix()}@x.test`, password: PASSWORD })
    assert.equal(await users.createPasswordResetToken(`ghost.${suffix()}@x.test`), undefined)
    const issued = await users.createPasswordResetToken(user.email)
    assert.ok(issued)
    assert.ok(issued.expiresAt.getTime() - now.getTime() <= 30 * MIN)
    const { rows } = await db.query('SELECT 1 FROM password_reset_tokens WHERE token_hash = $1', [
      issued.token,
    ])
    assert.equal(rows.length, 0, 'the token itself is not stored')
    advance(29 * MIN)
    await users.consumePasswordResetToken(issued.token, 'new lighthouse passphrase')
    await assert.rejects(
      users.consumePasswordResetToken(issued.token, 'newer lighthouse passphrase'),
      isAppError('LINK_NOT_USABLE'),
    )
    const expired = await users.createPasswordResetToken(user.email)
    assert.ok(expired)
    advance(31 * MIN)
    await assert.rejects(
      users.consumePasswordResetToken(expired.token, 'late lighthouse passphrase'),
      isAppError('LINK_NOT_USABLE'),
    )
    assert.equal(
      (await users.authenticate({ email: user.email, password: 'new lighthouse passphrase', ip: randomIp() }))
        .ok,
      true,
    )
  })
})
