import assert from 'node:assert/strict'
import { test } from 'node:test'
import { classifyError } from '../http/error-handler.ts'
import {
  DatabaseUnavailableError,
  findDatabaseUnavailable,
  isConnectionFailure,
  isTimeout,
} from './unavailable.ts'

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })

test('[SRS-OPS-250] database errors that mean "cannot serve now" are told apart from the request\'s own errors', () => {
  for (const e of [
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('the database system is starting up', '57P03'),
    withCode('connection failure', '08006'),
    withCode('sorry, too many clients already', '53300'),
    withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'all failed'),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
    new Error('Query read timeout'),
  ]) {
    assert.equal(isConnectionFailure(e), true, e.message)
  }
  for (const e of [
    withCode('duplicate key value', '23505'),
    withCode('syntax error', '42601'),
    new Error('anything else'),
    'not an error',
  ]) {
    assert.equal(isConnectionFailure(e), false, String(e))
  }
  assert.equal(isTimeout(withCode('canceling statement due to statement timeout', '57014')), true)
  assert.equal(isTimeout(withCode('could not obtain lock', '55P03')), true)
  assert.equal(isTimeout(withCode('duplicate key value', '23505')), false)
})

test('[SRS-OPS-250] an unavailable database is 503 SERVICE_UNAVAILABLE with Retry-After, also when wrapped as a cause', () => {
  const unavailable = new DatabaseUnavailableError('lost', { reason: '57P01' })
  const wrapped = new Error('service failed', { cause: unavailable })
  assert.equal(findDatabaseUnavailable(wrapped), unavailable)
  for (const e of [unavailable, wrapped]) {
    const c = classifyError(e as never)
    assert.equal(c.code, 'SERVICE_UNAVAILABLE')
    assert.equal(c.headers?.['retry-after'], '2')
  }
  assert.equal(classifyError(withCode('duplicate key value', '23505') as never).code, 'INTERNAL')
})
