// Native HTTPS: TLS 1.2 and 1.3 only, and only forward-secret AEAD cipher suites, set explicitly
// rather than inherited from OpenSSL's defaults (which still allow CBC suites under TLS 1.2).

import { readFileSync } from 'node:fs'
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import type { TlsConfig } from '../../config/index.ts'

/** TLS 1.2: ECDHE key exchange (forward secrecy) with GCM or ChaCha20-Poly1305 (AEAD) only. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
]

/** TLS 1.3 suites are all AEAD and forward-secret; listed so the set is explicit. */
export const TLS13_CIPHERSUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']

export function tlsServerOptions(tls: TlsConfig): HttpsServerOptions {
  return {
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
    ecdhCurve: 'X25519:P-256:P-384',
  }
}
