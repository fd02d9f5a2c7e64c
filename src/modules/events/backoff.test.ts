import assert from 'node:assert/strict'
import { test } from 'node:test'
import { nextAttemptAt, retryDelayMs, retryPeriodStart } from './backoff.ts'

const policy = { baseMs: 1000, maxDelayMs: 60_000, retryForMs: 86_400_000 }

test('[SRS-EVT-356] back-off: the delay doubles per attempt, capped, and is drawn from the upper half of its bound', () => {
  assert.equal(
    retryDelayMs(policy, 1, () => 1),
    1000,
  )
  assert.equal(
    retryDelayMs(policy, 1, () => 0),
    500,
  )
  assert.equal(
    retryDelayMs(policy, 2, () => 1),
    2000,
  )
  assert.equal(
    retryDelayMs(policy, 4, () => 1),
    8000,
  )
  assert.equal(
    retryDelayMs(policy, 4, () => 0),
    4000,
  )
  assert.equal(
    retryDelayMs(policy, 30, () => 1),
    60_000,
    'capped at the maximum',
  )
  assert.equal(
    retryDelayMs(policy, 1000, () => 0.5),
    45_000,
    'no overflow for very many attempts',
  )
  const spread = new Set(Array.from({ length: 50 }, () => retryDelayMs(policy, 5)))
  assert.ok(spread.size > 10, 'jittered')
})

test('[SRS-EVT-356] back-off: no next attempt once the event is older than the retry period (dead-letter)', () => {
  const created = new Date('2026-01-01T00:00:00Z')
  assert.ok(nextAttemptAt(policy, 3, created, new Date('2026-01-01T23:59:00Z')))
  assert.equal(nextAttemptAt(policy, 3, created, new Date('2026-01-02T00:00:00Z')), undefined)
})

test('[SRS-EVT-356] back-off: the retry period runs from when the delivery was queued or re-driven, not from the event’s creation', () => {
  const created = new Date('2026-01-01T00:00:00Z')
  const fannedOut = new Date('2026-01-03T00:00:00Z') // two days late: the relay was down
  assert.equal(retryPeriodStart({ eventCreatedAt: created, createdAt: fannedOut }), fannedOut)
  assert.ok(
    nextAttemptAt(policy, 1, retryPeriodStart({ eventCreatedAt: created, createdAt: fannedOut }), fannedOut),
  )
  const redriven = new Date('2026-01-05T00:00:00Z') // a re-drive resets eventCreatedAt to its time
  assert.equal(retryPeriodStart({ eventCreatedAt: redriven, createdAt: fannedOut }), redriven)
})
