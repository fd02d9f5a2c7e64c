// Reset requests per address and per IP, on the database under test with a controlled clock.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { testConfig } from '../../../test/support/config.ts'
import { openTestDatabase } from '../../../test/support/app.ts'
import type { Database } from '../../platform/db/index.ts'
import { accountKey, createLoginThrottle } from './login-throttle.ts'
import {
  createPasswordResetThrottle,
  DEFAULT_PASSWORD_RESET_THROTTLE_POLICY,
  resetIpKey,
  type PasswordResetThrottle,
} from './password-reset-throttle.ts'

const T0 = new Date('2031-09-10T08:00:00Z')
const MIN = 60_000
// Random keys: the database may be shared with other runs.
const randomIp = (): string =>
  `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::1`
const randomEmail = (): string => `reset.${randomBytes(6).toString('hex')}@x.test`

describe('password reset throttle', () => {
  let db: Database
  let now: Date
  let throttle: PasswordResetThrottle
  before(async () => {
    db = await openTestDatabase(testConfig())
    throttle = createPasswordResetThrottle({ db, clock: () => now })
  })
  after(() => db.close())

  test('[SRS-AUTH-008] an address gets three links an hour, whatever the IP and whatever its case; then none until the hour has passed', async () => {
    now = T0
    const email = randomEmail()
    const { maxFailures, lockSeconds } = DEFAULT_PASSWORD_RESET_THROTTLE_POLICY.address
    for (let i = 0; i < maxFailures; i++)
      assert.equal(
        await throttle.admit({ email: i === 1 ? email.toUpperCase() : email, ip: randomIp() }),
        true,
        `request ${i + 1}`,
      )
    assert.equal(await throttle.admit({ email, ip: randomIp() }), false)
    now = new Date(T0.getTime() + 30 * MIN)
    assert.equal(
      await throttle.admit({ email, ip: randomIp() }),
      false,
      'refused requests do not extend the lock, but it still runs',
    )
    now = new Date(T0.getTime() + lockSeconds * 1000 + MIN)
    assert.equal(await throttle.admit({ email, ip: randomIp() }), true, 'a new window after the lock')
    assert.equal(
      await throttle.admit({ email: randomEmail(), ip: randomIp() }),
      true,
      'other addresses are unaffected',
    )
  })

  test('[SRS-AUTH-008] one IP (an IPv6 /64) gets ten links an hour across addresses; a reset request never counts as a failed login', async () => {
    now = T0
    const prefix = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`
    const { maxFailures } = DEFAULT_PASSWORD_RESET_THROTTLE_POLICY.ip
    for (let i = 0; i < maxFailures; i++)
      assert.equal(
        await throttle.admit({ email: randomEmail(), ip: `${prefix}::${i + 1}` }),
        true,
        `request ${i + 1}`,
      )
    assert.equal(await throttle.admit({ email: randomEmail(), ip: `${prefix}::ff` }), false, 'same /64')
    assert.equal(await throttle.admit({ email: randomEmail(), ip: randomIp() }), true, 'another network')

    const login = createLoginThrottle({ db, clock: () => now })
    assert.deepEqual(
      await login.check({ accountKey: accountKey('someone'), ip: `${prefix}::1` }),
      { allowed: true },
      'the login counter of the IP is untouched',
    )
    const { rows } = await db.query<{ key: string }>('SELECT key FROM login_throttle WHERE key = $1', [
      resetIpKey(`${prefix}::1`),
    ])
    assert.equal(rows.length, 1, 'the reset counter has a key of its own')
  })
})
