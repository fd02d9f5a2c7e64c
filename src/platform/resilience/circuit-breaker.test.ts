import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CircuitBreaker, CircuitOpenError } from './circuit-breaker.ts'

test('[SRS-OPS-252] circuit breaker: opens after consecutive failures, lets one trial through after the cool-down, closes on its success', () => {
  let now = 0
  const changes: string[] = []
  const breaker = new CircuitBreaker('database', {
    failureThreshold: 3,
    cooldownMs: 500,
    now: () => now,
    onStateChange: (s, p) => changes.push(`${p}->${s}`),
  })
  breaker.failure()
  breaker.success() // an answer resets the count
  breaker.failure()
  breaker.failure()
  assert.equal(breaker.state, 'closed')
  breaker.failure()
  assert.equal(breaker.state, 'open')
  assert.equal(breaker.allow(), false)
  assert.throws(() => breaker.enter(), CircuitOpenError)
  now = 499
  assert.equal(breaker.allow(), false, 'still cooling down')
  now = 500
  assert.equal(breaker.allow(), true, 'one trial')
  assert.equal(breaker.state, 'half-open')
  assert.equal(breaker.allow(), false, 'only one trial at a time')
  breaker.failure()
  assert.equal(breaker.state, 'open', 'a failed trial opens the circuit again')
  now = 1000
  assert.equal(breaker.allow(), true)
  breaker.success()
  assert.equal(breaker.state, 'closed')
  assert.equal(breaker.allow(), true)
  assert.deepEqual(changes, [
    'closed->open',
    'open->half-open',
    'half-open->open',
    'open->half-open',
    'half-open->closed',
  ])
})

test('[SRS-OPS-252] circuit breaker: a trial that ends without news about the dependency frees the slot for the next', () => {
  let now = 0
  const breaker = new CircuitBreaker('redis', { failureThreshold: 1, cooldownMs: 10, now: () => now })
  breaker.failure()
  now = 10
  assert.equal(breaker.allow(), true)
  breaker.release()
  assert.equal(breaker.allow(), true)
})
