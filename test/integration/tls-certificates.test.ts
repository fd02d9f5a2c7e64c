// Issue 11 finding 8: an expired certificate and an RSA-1024 key were served without a word. The
// certificate and key are now checked at start-up (node:crypto X509Certificate / KeyObject) and the
// server refuses to start, naming the reason. Certificates are generated here with the openssl CLI
// (`openssl ca -selfsign` sets exact validity dates, in the past or the future).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { checkTlsMaterial, TlsMaterialError, tlsServerOptions } from '../../src/platform/http/tls.ts'
import { removeDir, run, SERVER_ARGS, childEnv, tempDir } from './server-process.ts'

const OPENSSL = '/usr/bin/openssl'
const CA_CONFIG = `[ ca ]
default_ca = d
[ d ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
[ p ]
commonName = supplied
`

/** openssl's compact UTC time (YYYYMMDDHHMMSSZ). */
const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z')
const days = (n: number) => new Date(Date.now() + n * 86_400_000)

interface Pair {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: Buffer
  readonly key: Buffer
}

describe('TLS certificate and key checked at start-up', () => {
  let dir = ''
  before(() => {
    dir = tempDir('certs')
  })
  after(() => removeDir(dir))

  /** A self-signed certificate for 127.0.0.1 with the given key and validity. */
  function makePair(name: string, keyAlgorithm: string[], notBefore: Date, notAfter: Date): Pair {
    const work = path.join(dir, name)
    execFileSync('/usr/bin/mkdir', ['-p', work])
    writeFileSync(path.join(work, 'ca.cnf'), CA_CONFIG)
    writeFileSync(path.join(work, 'index.txt'), '')
    writeFileSync(path.join(work, 'serial'), '01\n')
    const opts = { cwd: work, stdio: 'pipe' as const, timeout: 30_000 }
    execFileSync(OPENSSL, ['genpkey', ...keyAlgorithm, '-out', 'key.pem'], opts)
    execFileSync(
      OPENSSL,
      [
        'req',
        '-new',
        '-key',
        'key.pem',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-out',
        'req.csr',
      ],
      opts,
    )
    execFileSync(
      OPENSSL,
      [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-selfsign',
        '-keyfile',
        'key.pem',
        '-in',
        'req.csr',
        '-startdate',
        stamp(notBefore),
        '-enddate',
        stamp(notAfter),
        '-notext',
        '-out',
        'cert.pem',
      ],
      opts,
    )
    const certFile = path.join(work, 'cert.pem')
    const keyFile = path.join(work, 'key.pem')
    return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) }
  }

  const RSA2048 = ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
  const refusal = (pair: { cert: Buffer; key: Buffer }): string => {
    try {
      checkTlsMaterial(pair.cert, pair.key)
    } catch (err) {
      assert.ok(err instanceof TlsMaterialError, String(err))
      return err.message
    }
    return 'accepted'
  }

  test('[SRS-TLS-150] a valid RSA-2048 or P-256 certificate with its key is accepted, with no warning', () => {
    for (const [name, alg] of [
      ['rsa2048', RSA2048],
      ['p256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ] as const) {
      const pair = makePair(name, [...alg], days(-1), days(90))
      assert.deepEqual(checkTlsMaterial(pair.cert, pair.key).warnings, [], name)
      assert.ok(tlsServerOptions({ certFile: pair.certFile, keyFile: pair.keyFile }).cert, name)
    }
  })

  test('[SRS-TLS-150] an expired certificate is refused, naming the expiry', () => {
    assert.match(
      refusal(makePair('expired', RSA2048, days(-60), days(-1))),
      /TLS_CERT_FILE: the certificate expired on \d{4}-/,
    )
  })

  test('[SRS-TLS-150] a certificate not valid yet is refused', () => {
    assert.match(
      refusal(makePair('future', RSA2048, days(10), days(100))),
      /TLS_CERT_FILE: the certificate is not valid yet/,
    )
  })

  test('[SRS-TLS-150] an RSA key under 2048 bits is refused', () => {
    assert.match(
      refusal(
        makePair('rsa1024', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], days(-1), days(90)),
      ),
      /RSA key of 1024 bits; at least 2048/,
    )
  })

  test('[SRS-TLS-150] an EC key under 256 bits is refused', () => {
    assert.match(
      refusal(
        makePair('p224', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-224'], days(-1), days(90)),
      ),
      /EC key of 224 bits/,
    )
  })

  test("[SRS-TLS-150] a key that is not the certificate's is refused", () => {
    const a = makePair('mismatch-a', RSA2048, days(-1), days(90))
    const b = makePair('mismatch-b', RSA2048, days(-1), days(90))
    assert.match(refusal({ cert: a.cert, key: b.key }), /TLS_KEY_FILE does not match the certificate/)
  })

  test('[SRS-TLS-150] a certificate expiring within 30 days starts with a warning', () => {
    const pair = makePair('soon', RSA2048, days(-1), days(10))
    const [warning] = checkTlsMaterial(pair.cert, pair.key).warnings
    assert.match(warning ?? '', /expires on .* \(in 9 days\)/)
  })

  test('[SRS-TLS-150] the server process with an expired certificate or an RSA-1024 key exits 78 and says why, before serving', async () => {
    for (const [name, pair, reason] of [
      ['expired', makePair('proc-expired', RSA2048, days(-60), days(-1)), /the certificate expired on/],
      [
        'rsa1024',
        makePair(
          'proc-rsa1024',
          ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
          days(-1),
          days(90),
        ),
        /RSA key of 1024 bits/,
      ],
    ] as const) {
      const dataDir = tempDir(`certs-${name}`)
      try {
        const result = await run(process.execPath, SERVER_ARGS, {
          env: childEnv(dataDir, { TLS_CERT_FILE: pair.certFile, TLS_KEY_FILE: pair.keyFile }),
          timeoutMs: 60_000,
        })
        assert.equal(result.code, 78, `${name}: ${result.stderr}`)
        assert.match(result.stderr, reason, name)
        assert.ok(!result.stdout.includes('vigil is serving'), `${name} never served`)
      } finally {
        removeDir(dataDir)
      }
    }
  })
})
