// Login timing carries no usable signal (ADR-0014): every answer — a wrong password, an unknown
// address, an attempt refused during a delay — costs exactly one argon2 verification, like a
// right password does. Counted on the real hasher, not timed.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { testConfig } from '../../../test/support/config.ts'
import { openTestDatabase } from '../../../test/support/app.ts'
import type { Database } from '../../platform/db/index.ts'
import { createPasswordHasher, type PasswordHasher } from './password-hasher.ts'
import { createUserService, type UserService } from './service.ts'

describe('login timing', () => {
  let db: Database
  let users: UserService
  let verifications = 0
  before(async () => {
    db = await openTestDatabase(testConfig(), { poolMax: 2 })
    const real = createPasswordHasher()
    const hasher: PasswordHasher = {
      ...real,
      verify: async (hash, password) => {
        verifications++
        return real.verify(hash, password)
      },
      dummyVerify: async (password) => {
        verifications++
        return real.dummyVerify(password)
      },
    }
    users = createUserService({ db, hasher, clock: () => new Date() })
  })
  after(() => db.close())

  const costOf = async (attempt: () => Promise<unknown>) => {
    const before_ = verifications
    await attempt()
    return verifications - before_
  }

  test('[SRS-AUTH-151] a right password, a wrong one, an unknown address and a delayed attempt each cost one argon2 verification', async () => {
    const email = `timing-${randomUUID()}@demo.test`
    const password = 'lantern orchard seventeen quietly'
    await users.createUser({ email, password, roles: [{ role: 'patient', organisationId: null }] })
    const ip = '192.0.2.10'
    assert.equal(await costOf(() => users.authenticate({ email, password, ip })), 1, 'right password')
    assert.equal(
      await costOf(() => users.authenticate({ email: `nobody-${randomUUID()}@demo.test`, password, ip })),
      1,
      'unknown address',
    )
    for (let i = 0; i < 5; i++)
      assert.equal(
        await costOf(() => users.authenticate({ email, password: `wrong ${i}`, ip })),
        1,
        'wrong password',
      )
    let delayed
    const cost = await costOf(async () => {
      delayed = await users.authenticate({ email, password, ip })
    })
    assert.deepEqual(
      (delayed as unknown as { ok: boolean; reason: string } | undefined)?.reason,
      'locked',
      'the account is delayed',
    )
    assert.equal(cost, 1, 'a delayed attempt costs the same verification')
  })
})
