#!/usr/bin/env node
// Container health check (the Dockerfile's HEALTHCHECK): GET /health/ready on this container's
// own port; exit 0 on 200, 1 otherwise (not ready, refused, timed out). Plain Node, no curl in
// the slim image. Speaks HTTPS when TLS_CERT_FILE is set; the certificate is not checked here,
// since the check dials 127.0.0.1, not the name on the certificate.
import http from 'node:http'
import https from 'node:https'

const tls = Boolean(process.env.TLS_CERT_FILE)
const port = Number(process.env.PORT || 8080)
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 4000)

const request = (tls ? https : http).get(
  {
    host: '127.0.0.1',
    port,
    path: '/health/ready',
    timeout: timeoutMs,
    rejectUnauthorized: false,
    headers: { accept: 'application/json' },
  },
  (res) => {
    res.resume()
    process.exit(res.statusCode === 200 ? 0 : 1)
  },
)
request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)))
request.on('error', (err) => {
  process.stderr.write(`healthcheck: ${err.message}\n`)
  process.exit(1)
})
