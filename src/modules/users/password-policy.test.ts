// NIST SP 800-63B §5.1.1.2: length in code points, a blocklist, no composition rules.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { dictionary } from '@zxcvbn-ts/language-common'
import { checkPasswordPolicy } from './password-policy.ts'

describe('password policy (NIST SP 800-63B §5.1.1.2)', () => {
  test('[SRS-AUTH-003] passwords from the shipped common/breached list are refused, whatever their case', () => {
    assert.deepEqual(checkPasswordPolicy('password1'), ['common'])
    assert.deepEqual(checkPasswordPolicy('PassWord1'), ['common'])
    assert.deepEqual(checkPasswordPolicy('iloveyou'), ['common'])
    // The list really is the package's: sample entries long enough to pass the length rule.
    const long = dictionary['passwords-common'].filter((p) => [...p].length >= 8 && new Set(p).size > 1)
    assert.ok(long.length > 10_000, 'the shipped list is the large one')
    for (const entry of [long[0], long[Math.floor(long.length / 2)], long.at(-1)]) {
      assert.deepEqual(
        checkPasswordPolicy(entry as string),
        ['common'],
        'an entry of the shipped list is refused',
      )
    }
  })

  test('[SRS-AUTH-003] 7 characters are refused, 8 accepted; length counts code points after NFKC', () => {
    assert.deepEqual(checkPasswordPolicy('k7#vQ2m'), ['too_short'])
    assert.deepEqual(checkPasswordPolicy('k7#vQ2mz'), [])
    // Four emoji are eight UTF-16 units but four characters.
    assert.deepEqual(checkPasswordPolicy('🐙🦑🐚🦀'), ['too_short'])
    // "ﬃ" (one compatibility ligature) is three letters after NFKC: 3 ligatures + z = 10 characters.
    assert.deepEqual(checkPasswordPolicy('ﬃ'.repeat(3) + 'z'), [], 'ffi×3 + z = 10 code points after NFKC')
    // A decomposed "é" (e + combining accent) composes to one code point: 7 after NFKC.
    assert.deepEqual(checkPasswordPolicy('cafe\u0301xyz'), ['too_short'])
  })

  test('[SRS-AUTH-003] a 64-character passphrase is accepted; up to 128 characters, not beyond', () => {
    const passphrase = 'the quiet heron waits beside a cold river until the mist lifts ok'
    assert.equal([...passphrase.slice(0, 64)].length, 64)
    assert.deepEqual(checkPasswordPolicy(passphrase.slice(0, 64)), [])
    assert.deepEqual(checkPasswordPolicy('x9'.repeat(64)), [], '128 characters')
    assert.deepEqual(checkPasswordPolicy('x9'.repeat(64) + 'q'), ['too_long'])
  })

  test('[SRS-AUTH-003] no composition rules: an all-lower-case passphrase with spaces is accepted', () => {
    assert.deepEqual(checkPasswordPolicy('correct horse battery staple'), [])
    assert.deepEqual(checkPasswordPolicy('abcdxyzwqrst'), [], 'letters only')
  })

  test('[SRS-AUTH-003] the email local part, alone or inside the password, is refused', () => {
    const email = 'Alice.Smith@X.test'
    assert.deepEqual(checkPasswordPolicy('alice.smith', { email }), ['contains_email'])
    assert.deepEqual(checkPasswordPolicy('my alice.smith 2024!', { email }), ['contains_email'])
    assert.deepEqual(checkPasswordPolicy('alice.smith@x.test', { email }), ['contains_email'])
    assert.deepEqual(checkPasswordPolicy('a quite unrelated phrase', { email }), [])
    // A very short local part is refused only as the whole password (containment would refuse too much).
    assert.deepEqual(checkPasswordPolicy('jo balancing act', { email: 'jo@x.test' }), [])
  })

  test('[SRS-AUTH-003] a single repeated character is refused', () => {
    assert.ok(checkPasswordPolicy('zzzzzzzzzzzz').includes('repeated_character'))
    assert.ok(checkPasswordPolicy('🦀🦀🦀🦀🦀🦀🦀🦀').includes('repeated_character'))
  })

  test('[SRS-AUTH-003] the result carries reason codes only, never the password', () => {
    const secret = 'Secret-value-7'
    const reasons = checkPasswordPolicy(secret, { email: 'secret-value-7@x.test' })
    assert.deepEqual(reasons, ['contains_email'])
    assert.ok(!JSON.stringify(reasons).includes(secret))
    assert.doesNotThrow(() => checkPasswordPolicy('', { email: '' }))
    assert.deepEqual(checkPasswordPolicy(''), ['too_short'])
  })
})
