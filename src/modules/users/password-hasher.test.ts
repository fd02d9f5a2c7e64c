import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { describe, test } from 'node:test'
import { createPasswordHasher, OWASP_ARGON2ID } from './password-hasher.ts'

describe('password hasher', () => {
  const hasher = createPasswordHasher()

  test('[SRS-AUTH-002] hashes are argon2id with the OWASP parameters (m=19456 KiB, t=2, p=1)', async () => {
    assert.deepEqual(OWASP_ARGON2ID, { memoryCost: 19456, timeCost: 2, parallelism: 1 })
    const hash = await hasher.hash('correct horse battery staple')
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    const again = await hasher.hash('correct horse battery staple')
    assert.notEqual(again, hash, 'a fresh salt each time')
    assert.equal(await hasher.verify(hash, 'correct horse battery staple'), true)
    assert.equal(await hasher.verify(hash, 'correct horse battery stapler'), false)
  })

  test('[SRS-AUTH-002] passwords are NFKC-normalised, so the same text typed two ways verifies', async () => {
    const hash = await hasher.hash('caf\u00e9 au lait please')
    assert.equal(await hasher.verify(hash, 'cafe\u0301 au lait please'), true)
  })

  test('[SRS-AUTH-002] needsRehash flags other parameters, other algorithms and garbage; verify never throws', async () => {
    const weak = createPasswordHasher({ memoryCost: 4096, timeCost: 1, parallelism: 1 })
    const weakHash = await weak.hash('some long passphrase')
    assert.equal(hasher.needsRehash(weakHash), true)
    assert.equal(await hasher.verify(weakHash, 'some long passphrase'), true, 'old hashes still verify')
    assert.equal(hasher.needsRehash(await hasher.hash('some long passphrase')), false)
    assert.equal(hasher.needsRehash('$2b$10$abcdefghijklmnopqrstuu1234567890123456789012345678901'), true)
    assert.equal(hasher.needsRehash('not a hash'), true)
    assert.equal(await hasher.verify('not a hash', 'x'), false)
  })

  test('[SRS-AUTH-006] dummyVerify spends about the time of a real verify (unknown accounts are not faster)', async () => {
    const hash = await hasher.hash('a real user password')
    await hasher.dummyVerify('warm-up') // the dummy hash is made once, lazily
    // Interleaved, medians of 9: other work on the machine hits both series alike.
    const real: number[] = []
    const dummy: number[] = []
    for (let i = 0; i < 9; i++) {
      let start = performance.now()
      await hasher.verify(hash, 'a wrong password')
      real.push(performance.now() - start)
      start = performance.now()
      await hasher.dummyVerify('a wrong password')
      dummy.push(performance.now() - start)
    }
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[4] as number
    const ratio = median(dummy) / median(real)
    assert.ok(ratio > 0.4 && ratio < 2.5, `dummy/real verify time ratio ${ratio.toFixed(2)}`)
  })
})
