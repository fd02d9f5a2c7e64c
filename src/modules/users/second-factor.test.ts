// TOTP (RFC 6238) and recovery codes on the database under test, with a controlled clock and the
// real keyring sealing the secrets.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { TEST_KEYRING, testConfig } from '../../../test/support/config.ts'
import { openTestDatabase } from '../../../test/support/app.ts'
import { createKeyring } from '../../platform/crypto/index.ts'
import type { Database } from '../../platform/db/index.ts'
import { createUserRepository } from './repository.ts'
import { hashRecoveryCode } from './recovery-codes.ts'
import { createSecondFactorService, sealerFromKeyring, type SecondFactorService } from './second-factor.ts'
import { generateTotpSecret, totpCode } from './totp.ts'

const T0 = new Date('2031-03-04T10:00:05Z') // 5 s into a 30 s step
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000)

describe('second factor: TOTP and recovery codes', () => {
  let db: Database
  let now: Date
  let factors: SecondFactorService
  before(async () => {
    db = await openTestDatabase(testConfig())
    factors = createSecondFactorService({
      db,
      sealer: sealerFromKeyring(createKeyring(TEST_KEYRING)),
      clock: () => now,
    })
  })
  after(() => db.close())

  async function newUser(): Promise<{ id: string; email: string }> {
    const email = `totp.${randomBytes(6).toString('hex')}@x.test`
    const user = await createUserRepository(db).create({
      email,
      passwordHash: null,
      displayName: null,
      roles: [],
      emailVerifiedAt: null,
      now: T0,
    })
    assert.ok(user)
    return { id: user.id, email }
  }

  async function enrolled(): Promise<{ id: string; secret: string; recoveryCodes: readonly string[] }> {
    now = T0
    const user = await newUser()
    const { secret } = await factors.startTotpEnrolment({ userId: user.id, email: user.email })
    const confirmed = await factors.confirmTotpEnrolment(user.id, totpCode(secret, at(-60)), at(-60))
    assert.ok(confirmed.ok)
    return { id: user.id, secret, recoveryCodes: confirmed.recoveryCodes }
  }

  test('[SRS-AUTH-004] enrolment: an otpauth URI (issuer Vigil, SHA1, 6 digits, 30 s), an SVG QR code, a sealed secret, confirmation by a first code', async () => {
    now = T0
    const user = await newUser()
    const enrolment = await factors.startTotpEnrolment({ userId: user.id, email: user.email })
    assert.match(enrolment.secret, /^[A-Z2-7]{32}$/, '160-bit base32 secret')
    const uri = new URL(enrolment.provisioningUri)
    assert.equal(uri.protocol, 'otpauth:')
    assert.equal(uri.searchParams.get('issuer'), 'Vigil')
    assert.equal(uri.searchParams.get('secret'), enrolment.secret)
    assert.equal(uri.searchParams.get('algorithm'), 'SHA1')
    assert.equal(uri.searchParams.get('digits'), '6')
    assert.equal(uri.searchParams.get('period'), '30')
    assert.match(decodeURIComponent(uri.pathname), new RegExp(`Vigil:${user.email.replace('.', '\\.')}$`))
    assert.match(enrolment.qrCodeDataUrl, /^data:image\/svg\+xml;base64,/)
    assert.match(
      Buffer.from(enrolment.qrCodeDataUrl.split(',')[1] as string, 'base64').toString('utf8'),
      /<svg[\s\S]*<\/svg>/,
    )

    const { rows } = await db.query<{ secret_sealed: string }>(
      'SELECT secret_sealed FROM totp_credentials WHERE user_id = $1',
      [user.id],
    )
    assert.ok(rows[0] && !rows[0].secret_sealed.includes(enrolment.secret), 'the secret is stored sealed')
    assert.match(rows[0].secret_sealed, /^v1\./)

    assert.equal((await factors.status(user.id)).totp, 'pending')
    assert.equal(
      (await factors.verify(user.id, totpCode(enrolment.secret, now))).ok,
      false,
      'a pending factor does not log in',
    )
    const wrong = await factors.confirmTotpEnrolment(user.id, '000000')
    assert.equal(wrong.ok, false)
    const confirmed = await factors.confirmTotpEnrolment(user.id, totpCode(enrolment.secret, now))
    assert.ok(confirmed.ok)
    assert.equal(confirmed.recoveryCodes.length, 10)
    for (const code of confirmed.recoveryCodes) assert.match(code, /^[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}$/)
    assert.deepEqual(await factors.status(user.id), {
      totp: 'enrolled',
      lockedUntil: null,
      recoveryCodesLeft: 10,
    })
    await assert.rejects(factors.startTotpEnrolment({ userId: user.id, email: user.email }), {
      code: 'SECOND_FACTOR_ALREADY_ENROLLED',
    })
  })

  test('[SRS-AUTH-004] the sealed secret is bound to its user: moved to another account it does not open', async () => {
    const victim = await enrolled()
    const other = await newUser()
    await factors.startTotpEnrolment({ userId: other.id, email: other.email })
    await db.query(
      'UPDATE totp_credentials SET secret_sealed = (SELECT secret_sealed FROM totp_credentials WHERE user_id = $1) WHERE user_id = $2',
      [victim.id, other.id],
    )
    await assert.rejects(factors.confirmTotpEnrolment(other.id, totpCode(victim.secret, now)), {
      code: 'KEYRING_AUTH_FAILED',
    })
  })

  test('[SRS-AUTH-004] a code is accepted once: replaying it, or an older step, is refused; the next step passes', async () => {
    const user = await enrolled()
    const code = totpCode(user.secret, at(0))
    assert.equal((await factors.verify(user.id, code, at(0))).ok, true)
    const replay = await factors.verify(user.id, code, at(10))
    assert.equal(replay.ok, false)
    assert.equal(!replay.ok && replay.reason, 'replayed')
    const older = await factors.verify(user.id, totpCode(user.secret, at(-30)), at(10))
    assert.equal(!older.ok && older.reason, 'replayed', 'a step before the last used one')
    assert.equal((await factors.verify(user.id, totpCode(user.secret, at(30)), at(30))).ok, true)
  })

  test('[SRS-AUTH-004] one step of drift either side is accepted, two are not', async () => {
    const user = await enrolled()
    assert.equal(
      (await factors.verify(user.id, totpCode(user.secret, at(-30)), at(0))).ok,
      true,
      'previous step',
    )
    assert.equal((await factors.verify(user.id, totpCode(user.secret, at(30)), at(0))).ok, true, 'next step')
    const far = await factors.verify(user.id, totpCode(user.secret, at(120)), at(0))
    assert.equal(!far.ok && far.reason, 'invalid')
    assert.equal((await factors.verify(user.id, 'abcdef', at(60))).ok, false, 'not six digits')
  })

  test('[SRS-AUTH-004] five wrong codes lock the factor: the sixth attempt is refused even when right; 15 minutes later the right code passes', async () => {
    const user = await enrolled()
    const wrong = (totp: string): string => String((Number(totp) + 1) % 1_000_000).padStart(6, '0')
    for (let i = 1; i <= 4; i++) {
      const r = await factors.verify(user.id, wrong(totpCode(user.secret, at(i))), at(i))
      assert.deepEqual(r.ok === false && [r.reason, r.lockedUntil, r.events.map((e) => e.type)], [
        'invalid',
        undefined,
        ['second_factor.failed'],
      ])
    }
    const fifth = await factors.verify(user.id, wrong(totpCode(user.secret, at(5))), at(5))
    assert.equal(fifth.ok, false)
    assert.deepEqual(
      fifth.events.map((e) => e.type),
      ['second_factor.failed', 'second_factor.locked'],
    )
    assert.deepEqual(!fifth.ok && fifth.lockedUntil, at(5 + 15 * 60))

    const sixth = await factors.verify(user.id, totpCode(user.secret, at(6)), at(6))
    assert.equal(!sixth.ok && sixth.reason, 'locked', 'the right code is refused while locked')
    assert.deepEqual(
      sixth.events.map((e) => e.type),
      ['second_factor.blocked'],
    )
    const justBefore = at(5 + 15 * 60 - 1)
    assert.equal((await factors.verify(user.id, totpCode(user.secret, justBefore), justBefore)).ok, false)
    assert.equal(
      (await factors.useRecoveryCode(user.id, user.recoveryCodes[0] as string, justBefore)).ok,
      false,
      'recovery codes are locked too',
    )
    const lockedStatus = await factors.status(user.id, justBefore)
    assert.deepEqual(lockedStatus.lockedUntil, at(5 + 15 * 60))

    const later = at(5 + 15 * 60)
    const unlocked = await factors.verify(user.id, totpCode(user.secret, later), later)
    assert.equal(unlocked.ok, true)
    const { rows } = await db.query<{ failed_count: number; locked_until: Date | null }>(
      'SELECT failed_count, locked_until FROM totp_credentials WHERE user_id = $1',
      [user.id],
    )
    assert.deepEqual(rows[0], { failed_count: 0, locked_until: null }, 'success resets the count')
  })

  test('[SRS-AUTH-004] a success resets the failure count, so failures spread between successes never lock', async () => {
    const user = await enrolled()
    for (let round = 0; round < 3; round++) {
      const t = at(round * 60)
      for (let i = 0; i < 4; i++) await factors.verify(user.id, '000001', t)
      assert.equal((await factors.verify(user.id, totpCode(user.secret, t), t)).ok, true)
    }
  })

  test('[SRS-AUTH-004] two concurrent verifications of one code: exactly one succeeds', async () => {
    const user = await enrolled()
    const code = totpCode(user.secret, at(0))
    const results = await Promise.all(Array.from({ length: 4 }, () => factors.verify(user.id, code, at(0))))
    assert.equal(results.filter((r) => r.ok).length, 1)
    assert.ok(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'replayed'))
  })

  test('[SRS-AUTH-004] recovery codes are stored as SHA-256 hashes and each works once', async () => {
    const user = await enrolled()
    const { rows } = await db.query<{ code_hash: string; used_at: Date | null }>(
      'SELECT code_hash, used_at FROM recovery_codes WHERE user_id = $1',
      [user.id],
    )
    assert.equal(rows.length, 10)
    const hashes = new Set(rows.map((r) => r.code_hash))
    for (const code of user.recoveryCodes) {
      assert.ok(hashes.has(hashRecoveryCode(user.id, code)))
      assert.equal(
        hashRecoveryCode(user.id, code),
        createHash('sha256')
          .update(`${user.id}:${code.replace('-', '')}`)
          .digest('hex'),
      )
      assert.ok(!rows.some((r) => r.code_hash.includes(code.replace('-', ''))))
    }
    const first = user.recoveryCodes[0] as string
    assert.equal(
      (await factors.useRecoveryCode(user.id, first.toLowerCase().replace('-', ' '), at(0))).ok,
      true,
      'case and separators do not matter',
    )
    const again = await factors.useRecoveryCode(user.id, first, at(1))
    assert.equal(!again.ok && again.reason, 'invalid')
    assert.equal((await factors.status(user.id, at(1))).recoveryCodesLeft, 9)

    const concurrent = user.recoveryCodes[1] as string
    const results = await Promise.all([
      factors.useRecoveryCode(user.id, concurrent, at(2)),
      factors.useRecoveryCode(user.id, concurrent, at(2)),
    ])
    assert.equal(results.filter((r) => r.ok).length, 1, 'one use even when raced')

    const fresh = await factors.regenerateRecoveryCodes(user.id, at(3))
    assert.equal(
      (await factors.useRecoveryCode(user.id, user.recoveryCodes[2] as string, at(4))).ok,
      false,
      'old codes die with regeneration',
    )
    assert.equal((await factors.useRecoveryCode(user.id, fresh[0] as string, at(4))).ok, true)
  })

  test('[SRS-AUTH-004] a known secret can be enrolled (demo seed) and removal clears the factor', async () => {
    now = T0
    const user = await newUser()
    const secret = generateTotpSecret()
    const enrolment = await factors.startTotpEnrolment({ userId: user.id, email: user.email, secret })
    assert.equal(enrolment.secret, secret)
    assert.ok((await factors.confirmTotpEnrolment(user.id, totpCode(secret, now))).ok)
    assert.equal(await factors.isEnrolled(user.id), true)
    await factors.removeTotp(user.id)
    assert.deepEqual(await factors.status(user.id), { totp: 'none', lockedUntil: null, recoveryCodesLeft: 0 })
    const r = await factors.verify(user.id, totpCode(secret, at(30)), at(30))
    assert.equal(!r.ok && r.reason, 'not_enrolled')
  })
})
