import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { createLogger, REDACT_MAX_DEPTH, REDACTED, redactSecrets } from './logger.ts'

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

test('[SRS-OBS-001] logger: secret-bearing keys are redacted at the top level and nested below it', () => {
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

test('[SRS-OBS-001] logger: a secret key is redacted at any depth up to the limit, in arrays, whatever its case or separators', () => {
  const { lines, logger } = capture()
  const deep = { a: { b: { c: { d: { e: { password: 'deep-p', kept: 'k6' } } } } } }
  logger.info(
    {
      deep,
      list: [{ Authorization: 'Bearer list-b' }, [{ 'access-token': 'list-t' }]],
      spellings: {
        accessToken: 's1',
        CLIENT_SECRET: 's2',
        'Set-Cookie': 's3',
        apiKey: 's4',
        Headers: { x: 1 },
      },
      safe: { tokenCount: 3, passwordPolicy: 'min 12', note: 'nothing secret' },
    },
    'x',
  )
  const line = lines[0] ?? ''
  const entry = JSON.parse(line)
  assert.equal(entry.deep.a.b.c.d.e.password, REDACTED)
  assert.equal(entry.deep.a.b.c.d.e.kept, 'k6')
  assert.equal(entry.list[0].Authorization, REDACTED)
  assert.equal(entry.list[1][0]['access-token'], REDACTED)
  assert.deepEqual(entry.spellings, {
    accessToken: REDACTED,
    CLIENT_SECRET: REDACTED,
    'Set-Cookie': REDACTED,
    apiKey: REDACTED,
    Headers: REDACTED,
  })
  // Keys that only contain a secret word are not secrets: the log keeps them.
  assert.deepEqual(entry.safe, { tokenCount: 3, passwordPolicy: 'min 12', note: 'nothing secret' })
  for (const secret of ['deep-p', 'list-b', 'list-t', '"s1"', '"s2"', '"s3"', '"s4"'])
    assert.ok(!line.includes(secret), secret)
  // The caller's object is not changed by being logged.
  assert.equal(deep.a.b.c.d.e.password, 'deep-p')
})

test('[SRS-OBS-001] logger: a subtree deeper than the limit is censored whole, so a cycle or a deep secret cannot reach the line', () => {
  const { lines, logger } = capture()
  let nested: Record<string, unknown> = { password: 'too-deep' }
  for (let i = 0; i < REDACT_MAX_DEPTH + 2; i++) nested = { n: nested }
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  logger.info({ nested, cyclic }, 'x')
  const line = lines[0] ?? ''
  assert.ok(!line.includes('too-deep'))
  const entry = JSON.parse(line)
  assert.equal(entry.cyclic.name, 'loop')
  let node = entry.nested
  let depth = 1
  while (typeof node === 'object') {
    node = node.n
    depth++
  }
  assert.equal(node, REDACTED)
  assert.equal(depth, REDACT_MAX_DEPTH)
})

test('[SRS-OBS-001] logger: a child logger’s bindings are redacted like a log object', () => {
  const { lines, logger } = capture()
  const child = logger.child({ requestId: 'r-1', session: { token: 'bound-t' } })
  child.info('x')
  child.child({ job: 'j-1', Cookie: 'grand-c' }).info('y')
  const entry = JSON.parse(lines[0] ?? '{}')
  assert.equal(entry.requestId, 'r-1')
  assert.equal(entry.session.token, REDACTED)
  const grandchild = JSON.parse(lines[1] ?? '{}')
  assert.deepEqual([grandchild.requestId, grandchild.job, grandchild.Cookie], ['r-1', 'j-1', REDACTED])
  assert.ok(!lines.join('').includes('bound-t') && !lines.join('').includes('grand-c'))
})

test('[SRS-OBS-001] logger: an object with toJSON is redacted by what it writes, not by its own keys', () => {
  const { lines, logger } = capture()
  class Session {
    readonly #token = 'private-t'
    toJSON() {
      return { user: 'u-1', token: this.#token }
    }
  }
  logger.info({ session: new Session(), at: new Date(0), bytes: Buffer.from('ab') }, 'x')
  const entry = JSON.parse(lines[0] ?? '{}')
  assert.deepEqual(entry.session, { user: 'u-1', token: REDACTED })
  assert.equal(entry.at, '1970-01-01T00:00:00.000Z')
  assert.deepEqual(entry.bytes, { type: 'Buffer', data: [97, 98] })
  assert.ok(!lines[0]?.includes('private-t'))
})

test('[SRS-OBS-001][SRS-PERF-598] redactSecrets returns an object with nothing to censor as it is, uncopied', () => {
  const clean = { a: [{ b: 1 }, 'c'], d: new Date(0) }
  assert.equal(redactSecrets(clean), clean)
  const dirty = { a: [{ b: 1 }, { secret: 'x' }], d: { e: 1 } }
  const out = redactSecrets(dirty) as typeof dirty
  assert.notEqual(out, dirty)
  assert.equal(out.d, dirty.d, 'an untouched branch is shared, not copied')
  assert.equal(out.a[0], dirty.a[0])
  assert.deepEqual(out.a[1], { secret: REDACTED })
  assert.equal(dirty.a[1]?.secret, 'x')
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
