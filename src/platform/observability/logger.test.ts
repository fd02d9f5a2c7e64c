import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { createLogger, REDACTED } from './logger.ts'

function capture() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { lines, logger: createLogger({ level: 'info', destination }) }
}

test('[SRS-OBS-001] logger: secret-bearing keys are redacted at the top level and nested two levels down', () => {
  const { lines, logger } = capture()
  logger.info(
    {
      password: 'p1',
      user: { token: 't1', name: 'kept' },
      deep: { client: { client_secret: 's1', refresh_token: 'r1' } },
      headers: { authorization: 'Bearer b1' },
    },
    'x',
  )
  const entry = JSON.parse(lines[0] ?? '{}')
  assert.equal(entry.password, REDACTED)
  assert.equal(entry.user.token, REDACTED)
  assert.equal(entry.user.name, 'kept')
  assert.equal(entry.deep.client.client_secret, REDACTED)
  assert.equal(entry.deep.client.refresh_token, REDACTED)
  assert.equal(entry.headers, REDACTED)
  for (const secret of ['p1', 't1', 's1', 'r1', 'b1']) assert.ok(!lines[0]?.includes(`"${secret}"`), secret)
})

test('[SRS-OBS-001] logger: errors keep message, code and stack, and drop driver fields that echo data values', () => {
  const { lines, logger } = capture()
  const err = Object.assign(new Error('duplicate key'), {
    code: '23505',
    detail: 'Key (email)=(jane@example.com) already exists.',
    parameters: ['jane@example.com'],
  })
  logger.error({ err }, 'failed')
  const entry = JSON.parse(lines[0] ?? '{}')
  assert.equal(entry.err.message, 'duplicate key')
  assert.equal(entry.err.code, '23505')
  assert.match(entry.err.stack, /Error: duplicate key/)
  assert.ok(!lines[0]?.includes('jane@example.com'))
})
