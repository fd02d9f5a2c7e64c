// Native HTTPS (TLS_CERT_FILE/TLS_KEY_FILE): TLS 1.2 with forward-secret AEAD suites and TLS 1.3
// are accepted; TLS 1.1, CBC suites and non-forward-secret suites are refused. Every refused
// client is also run against a permissive control server, which it reaches: the failure is the
// Vigil server's refusal, not the client's inability.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { TLS13_CIPHERSUITES, tlsServerOptions } from '../../src/platform/http/tls.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { testConfig } from '../support/config.ts'
import { removeDir, tempDir } from './server-process.ts'

type Outcome =
  | { ok: true; protocol: string | null; cipher: string; ephemeral: string | undefined }
  | { ok: false; code: string; message: string }

/** One TLS handshake, bounded; the certificate is verified against our self-signed CA. */
function handshake(port: number, ca: Buffer, options: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, ...options })
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ ok: false, code: 'TIMEOUT', message: 'handshake timed out' })
    }, 10_000)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      const outcome: Outcome = {
        ok: true,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        ephemeral: socket.getEphemeralKeyInfo()
          ? (socket.getEphemeralKeyInfo() as { type?: string }).type
          : undefined,
      }
      socket.end()
      resolve(outcome)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ ok: false, code: err.code ?? 'ERROR', message: err.message })
    })
  })
}

const TLS12_GCM: tls.ConnectionOptions = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
  ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
}
const TLS13: tls.ConnectionOptions = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }
const TLS11: tls.ConnectionOptions = {
  minVersion: 'TLSv1',
  maxVersion: 'TLSv1.1',
  ciphers: 'DEFAULT@SECLEVEL=0',
}
const TLS12_CBC_SUITES = ['ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES128-SHA', 'AES128-SHA']
const TLS12_CBC: tls.ConnectionOptions = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
  ciphers: `${TLS12_CBC_SUITES.join(':')}:@SECLEVEL=0`,
}
// AEAD but RSA key exchange: no forward secrecy.
const TLS12_STATIC_RSA_GCM: tls.ConnectionOptions = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
  ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384:@SECLEVEL=0',
}

describe('native HTTPS', () => {
  let dir: string
  let cert: Buffer
  let testApp: TestApp | undefined
  let control: tls.Server | undefined
  let port = 0
  let controlPort = 0

  before(async () => {
    dir = tempDir('tls')
    const certFile = path.join(dir, 'cert.pem')
    const keyFile = path.join(dir, 'key.pem')
    execFileSync(
      '/usr/bin/openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'pipe', timeout: 30_000 },
    )
    cert = readFileSync(certFile)
    const env = { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile }
    const config = testConfig(env)
    assert.ok(config.tls)
    testApp = await createTestApp({ env, deps: { https: tlsServerOptions(config.tls) } })
    await testApp.app.listen({ port: 0, host: '127.0.0.1' })
    port = (testApp.app.server.address() as AddressInfo).port

    control = tls.createServer(
      { cert, key: readFileSync(keyFile), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
      (socket) => {
        socket.on('error', () => {})
        socket.end()
      },
    )
    control.on('tlsClientError', () => {})
    await new Promise<void>((resolve) => control?.listen(0, '127.0.0.1', resolve))
    controlPort = (control.address() as AddressInfo).port
  })

  after(async () => {
    await testApp?.close()
    if (control) await new Promise<void>((resolve) => control?.close(() => resolve()))
    removeDir(dir)
  })

  test('[SRS-TLS-001][SRS-HTTP-006] TLS 1.2 with ECDHE and AES-GCM succeeds and HTTPS GET /health/live answers 200 with HSTS', async () => {
    const outcome = await handshake(port, cert, TLS12_GCM)
    assert.deepEqual(outcome, {
      ok: true,
      protocol: 'TLSv1.2',
      cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
      ephemeral: 'ECDH',
    })

    const { status, headers, body } = await new Promise<{
      status: number | undefined
      headers: Record<string, unknown>
      body: string
    }>((resolve, reject) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port,
          path: '/health/live',
          ca: cert,
          agent: false,
          ...TLS12_GCM,
          timeout: 10_000,
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (c: string) => (text += c))
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }))
        },
      )
      req.on('timeout', () => req.destroy(new Error('request timed out')))
      req.on('error', reject)
    })
    assert.equal(status, 200)
    assert.deepEqual(JSON.parse(body), { status: 'ok' })
    assert.match(String(headers['strict-transport-security']), /^max-age=\d{8,}; includeSubDomains$/)
  })

  test('[SRS-TLS-001] TLS 1.3 succeeds with an AEAD suite', async () => {
    const outcome = await handshake(port, cert, TLS13)
    assert.equal(outcome.ok, true, JSON.stringify(outcome))
    assert.ok(outcome.ok)
    assert.equal(outcome.protocol, 'TLSv1.3')
    assert.ok(TLS13_CIPHERSUITES.includes(outcome.cipher), outcome.cipher)
  })

  test('[SRS-TLS-001] a TLS 1.1 client is refused (and reaches a permissive control server)', async () => {
    const atControl = await handshake(controlPort, cert, TLS11)
    assert.equal(
      atControl.ok,
      true,
      `the control proves the client can speak TLS 1.1: ${JSON.stringify(atControl)}`,
    )
    assert.ok(atControl.ok)
    assert.equal(atControl.protocol, 'TLSv1.1')

    const outcome = await handshake(port, cert, TLS11)
    assert.equal(outcome.ok, false, JSON.stringify(outcome))
    assert.ok(!outcome.ok)
    assert.match(outcome.code, /^ERR_SSL_/, outcome.message)
  })

  test('[SRS-TLS-001] a TLS 1.2 client offering only CBC suites is refused (and reaches a permissive control server)', async () => {
    const atControl = await handshake(controlPort, cert, TLS12_CBC)
    assert.equal(atControl.ok, true, JSON.stringify(atControl))
    assert.ok(atControl.ok)
    assert.equal(atControl.protocol, 'TLSv1.2')
    assert.ok(TLS12_CBC_SUITES.includes(atControl.cipher), atControl.cipher)

    const outcome = await handshake(port, cert, TLS12_CBC)
    assert.equal(outcome.ok, false, JSON.stringify(outcome))
    assert.ok(!outcome.ok)
    assert.match(outcome.code, /^ERR_SSL_/, outcome.message)
  })

  test('[SRS-TLS-001] a TLS 1.2 client offering only AEAD suites without forward secrecy (static RSA) is refused', async () => {
    const atControl = await handshake(controlPort, cert, TLS12_STATIC_RSA_GCM)
    assert.equal(atControl.ok, true, JSON.stringify(atControl))
    assert.ok(atControl.ok)
    assert.match(atControl.cipher, /^AES(128|256)-GCM-SHA(256|384)$/)

    const outcome = await handshake(port, cert, TLS12_STATIC_RSA_GCM)
    assert.equal(outcome.ok, false, JSON.stringify(outcome))
  })
})
