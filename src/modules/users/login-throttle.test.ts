// Failed-login throttling per account and per IP, on the database under test with a controlled clock.
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { testConfig } from '../../../test/support/config.ts'
import { openTestDatabase } from '../../../test/support/app.ts'
import type { Database } from '../../platform/db/index.ts'
import {
  accountKey,
  createLoginThrottle,
  deviceKey,
  ipKey,
  unknownAccountKey,
  type LoginAttempt,
  type LoginThrottle,
} from './login-throttle.ts'

const T0 = new Date('2031-05-06T08:00:00Z')
const MIN = 60_000

// Random keys: the database may be shared with other runs.
const randomIp = (): string =>
  `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::${randomBytes(2).toString('hex')}`
const attempt = (ip: string | undefined = randomIp()): LoginAttempt => ({
  accountKey: accountKey(randomUUID()),
  ip,
})

describe('login throttle', () => {
  let db: Database
  let now: Date
  let throttle: LoginThrottle
  const advance = (ms: number): void => {
    now = new Date(now.getTime() + ms)
  }
  before(async () => {
    db = await openTestDatabase(testConfig())
    throttle = createLoginThrottle({ db, clock: () => now })
  })
  after(() => db.close())

  /** A failure from a fresh IP each time, so only the account counter matters. */
  const failFromAnywhere = (a: LoginAttempt) => throttle.recordFailure({ ...a, ip: randomIp() })

  test('[SRS-AUTH-005] five failures in 15 minutes lock the account for 1 minute; each failure is an event and so is the lock', async () => {
    now = T0
    const a = attempt()
    for (let i = 1; i <= 4; i++) {
      const r = await throttle.recordFailure(a)
      assert.equal(r.lockedUntil, undefined)
      assert.deepEqual(
        r.events.map((e) => [e.type, e.key]),
        [
          ['login.failed', ipKey(a.ip as string)],
          ['login.failed', a.accountKey],
        ],
      )
      advance(2 * MIN)
    }
    const fifth = await throttle.recordFailure(a)
    assert.deepEqual(fifth.lockedUntil, new Date(now.getTime() + 1 * MIN))
    assert.deepEqual(fifth.events.at(-1), {
      type: 'login.locked',
      key: a.accountKey,
      failures: 5,
      lockedUntil: new Date(now.getTime() + MIN),
      at: now,
    })

    const blocked = await throttle.check({ ...a, ip: randomIp() })
    assert.equal(blocked.allowed, false)
    assert.deepEqual(!blocked.allowed && blocked.events.map((e) => [e.type, e.key]), [
      ['login.blocked', a.accountKey],
    ])
    advance(MIN)
    assert.deepEqual(await throttle.check(a), { allowed: true })
  })

  test('[SRS-AUTH-005] back-off doubles on each further failure (1, 2, 4, 8 minutes) and is capped at 15 minutes', async () => {
    now = T0
    const a = attempt()
    for (let i = 0; i < 4; i++) await failFromAnywhere(a)
    const locks: number[] = []
    for (let i = 0; i < 7; i++) {
      const r = await failFromAnywhere(a)
      assert.ok(r.lockedUntil)
      locks.push((r.lockedUntil.getTime() - now.getTime()) / MIN)
      assert.equal((await throttle.check(a)).allowed, false)
      now = r.lockedUntil // the attacker comes back the moment the lock runs out
      assert.equal((await throttle.check(a)).allowed, true)
    }
    assert.deepEqual(locks, [1, 2, 4, 8, 15, 15, 15])
  })

  test('[SRS-AUTH-005] attempts refused during a lock do not extend it, so a stranger cannot keep the owner out', async () => {
    now = T0
    const a = attempt()
    for (let i = 0; i < 5; i++) await failFromAnywhere(a)
    for (let i = 0; i < 50; i++) {
      advance(1000)
      assert.equal((await throttle.check({ ...a, ip: randomIp() })).allowed, false)
    }
    now = new Date(T0.getTime() + MIN)
    assert.equal((await throttle.check(a)).allowed, true, 'the lock ended on time')
  })

  test('[SRS-AUTH-005] failures spread beyond the 15-minute window do not lock, and a quiet window restarts the back-off', async () => {
    now = T0
    const a = attempt()
    for (let i = 0; i < 8; i++) {
      assert.equal((await failFromAnywhere(a)).lockedUntil, undefined, `failure ${i + 1}`)
      advance(4 * MIN) // 4 failures per 16 minutes
    }
    const b = attempt()
    for (let i = 0; i < 6; i++) await failFromAnywhere(b) // locked for 2 minutes
    advance(2 * MIN + 15 * MIN) // lock over, then a quiet window
    assert.equal((await failFromAnywhere(b)).lockedUntil, undefined, 'the count started again')
  })

  test('[SRS-AUTH-005] a successful login resets the account counter and is reported', async () => {
    now = T0
    const a = attempt()
    for (let i = 0; i < 4; i++) await failFromAnywhere(a)
    const ok = await throttle.recordSuccess(a)
    assert.deepEqual(ok.events, [{ type: 'login.succeeded', key: a.accountKey, at: now }])
    for (let i = 0; i < 4; i++) assert.equal((await failFromAnywhere(a)).lockedUntil, undefined)
  })

  test('[SRS-AUTH-150] twenty failures from one address (a NAT) no longer hold it back; fifty delay it 1 minute, doubling, capped at 15, without delaying the accounts it tried', async () => {
    now = T0
    const ip = randomIp()
    const victims = Array.from({ length: 60 }, () => attempt(ip))
    for (let i = 0; i < 20; i++) await throttle.recordFailure(victims[i] as LoginAttempt)
    assert.equal(
      (await throttle.check(victims[0] as LoginAttempt)).allowed,
      true,
      'twenty mistakes behind one address delay nobody',
    )
    let last
    for (let i = 20; i < 50; i++) last = await throttle.recordFailure(victims[i] as LoginAttempt)
    assert.ok(last?.events.some((e) => e.type === 'login.locked' && e.key === ipKey(ip)))
    const refused = await throttle.check(victims[0] as LoginAttempt)
    assert.deepEqual(
      !refused.allowed && refused.events.map((e) => e.key),
      [ipKey(ip)],
      'the address is delayed, the accounts are not',
    )
    assert.deepEqual(!refused.allowed && refused.lockedUntil, new Date(now.getTime() + MIN))
    for (const victim of victims.slice(0, 10))
      assert.equal(
        (await throttle.check({ ...victim, ip: randomIp() })).allowed,
        true,
        'the owners sign in from elsewhere',
      )
    const delays: number[] = []
    for (let i = 50; i < 56; i++) {
      now = (last?.lockedUntil as Date) ?? now
      last = await throttle.recordFailure(victims[i] as LoginAttempt)
      delays.push(((last.lockedUntil as Date).getTime() - now.getTime()) / MIN)
    }
    assert.deepEqual(delays, [2, 4, 8, 15, 15, 15])
  })

  test("[SRS-AUTH-150] a browser with a device cookie for the account is not held back by a stranger's failures, on the account or the address", async () => {
    now = T0
    const ip = randomIp()
    const a = attempt(ip)
    for (let i = 0; i < 60; i++)
      await throttle.recordFailure({
        ...attempt(ip),
        accountKey: i < 10 ? a.accountKey : accountKey(randomUUID()),
      })
    assert.equal(
      (await throttle.check(a)).allowed,
      false,
      'the account and the address are delayed for strangers',
    )
    assert.equal(
      (await throttle.check({ ...a, ip: randomIp() })).allowed,
      false,
      'the account is delayed from anywhere',
    )
    const owner: LoginAttempt = { ...a, trustedDevice: `dev-${randomUUID()}` }
    assert.deepEqual(await throttle.check(owner), { allowed: true }, "the owner's browser is let through")
    await throttle.recordSuccess(owner)
    assert.equal(
      (await throttle.check({ ...a, ip: randomIp() })).allowed,
      false,
      'the owner signing in gives strangers no fresh attempts',
    )
    // The device's own failures are counted on it alone, with the same back-off.
    for (let i = 0; i < 4; i++) assert.equal((await throttle.recordFailure(owner)).lockedUntil, undefined)
    const fifth = await throttle.recordFailure(owner)
    assert.deepEqual(
      fifth.events.map((e) => [e.type, e.key]),
      [
        ['login.failed', deviceKey(owner.trustedDevice as string)],
        ['login.locked', deviceKey(owner.trustedDevice as string)],
      ],
    )
    assert.equal((await throttle.check(owner)).allowed, false)
    assert.equal(
      (await throttle.check({ ...owner, trustedDevice: `dev-${randomUUID()}` })).allowed,
      true,
      "another of the owner's browsers is not",
    )
  })

  test('[SRS-AUTH-005] an attacker hammering one account from one IP locks it for at most 15 minutes at a time', async () => {
    now = T0
    const a = attempt()
    let longest = 0
    for (let i = 0; i < 200; i++) {
      const check = await throttle.check(a)
      if (check.allowed) {
        const r = await throttle.recordFailure(a)
        const accountLock = r.events.find((e) => e.type === 'login.locked' && e.key === a.accountKey)
        if (accountLock?.type === 'login.locked')
          longest = Math.max(longest, accountLock.lockedUntil.getTime() - now.getTime())
      }
      advance(15_000)
    }
    assert.ok(longest <= 15 * MIN, `longest account lock ${longest / MIN} min`)
  })

  test('[SRS-AUTH-005] concurrent failures on one key are all counted (atomic upserts)', async () => {
    now = T0
    const a = attempt(undefined)
    await Promise.all(Array.from({ length: 12 }, () => throttle.recordFailure(a)))
    const { rows } = await db.query<{ failures: number }>(
      'SELECT failures FROM login_throttle WHERE key = $1',
      [a.accountKey],
    )
    assert.equal(rows[0]?.failures, 12)
  })

  test('[SRS-AUTH-005] keys: unknown emails are hashed like accounts, IPv4-mapped addresses fold, an IPv6 /64 is one key', () => {
    assert.match(unknownAccountKey(' Nobody@X.test '), /^account:unknown:[0-9a-f]{64}$/)
    assert.equal(unknownAccountKey('Nobody@X.test'), unknownAccountKey('nobody@x.test'))
    assert.equal(ipKey('::ffff:192.0.2.7'), 'ip:192.0.2.7')
    assert.equal(ipKey('192.0.2.7'), 'ip:192.0.2.7')
    assert.equal(ipKey('2001:db8:1:2:3:4:5:6'), 'ip:2001:0db8:0001:0002::/64')
    assert.equal(ipKey('2001:DB8:1:2::9'), ipKey('2001:db8:1:2:ffff::1'))
    assert.notEqual(ipKey('2001:db8:1:2::1'), ipKey('2001:db8:1:3::1'))
  })

  test('[SRS-AUTH-005] idle counters are purged; a counter still within a window of its last lock is kept', async () => {
    now = T0
    const idle = attempt(undefined)
    const locked = attempt(undefined)
    await throttle.recordFailure(idle)
    for (let i = 0; i < 9; i++) await throttle.recordFailure(locked) // locked 15 minutes
    advance(16 * MIN)
    await throttle.recordFailure(locked) // and again
    advance(16 * MIN)
    await throttle.purge()
    const { rows } = await db.query<{ key: string }>(
      'SELECT key FROM login_throttle WHERE key = $1 OR key = $2',
      [idle.accountKey, locked.accountKey],
    )
    assert.deepEqual(
      rows.map((r) => r.key),
      [locked.accountKey],
    )
  })
})
