// A real HTTPS webhook receiver for the event tests (ADR-0020): a self-signed CA and a server
// certificate for 127.0.0.1 made with openssl for the test, every request verified with the
// `standardwebhooks` library as a subscriber would, deduplicated on webhook-id. The test can
// take it "down" (503) or make it answer 410 Gone.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Webhook } from 'standardwebhooks'

export interface Received {
  /** The request path: one per subscription in the tests. */
  readonly path: string
  readonly id: string
  readonly timestamp: string
  readonly signature: string
  readonly body: string
  readonly json: { type: string; timestamp: string; data: Record<string, unknown> } & Record<string, unknown>
  /** Verified with the secret the test registered (undefined when no secret is set). */
  readonly verified: boolean | undefined
}

export interface WebhookReceiver {
  readonly url: string
  readonly caFile: string
  /** Every request that arrived (retries included), in arrival order. */
  readonly requests: Received[]
  /** Accepted (2xx) deliveries, first arrival per path and webhook-id. */
  readonly accepted: Received[]
  mode: 'up' | 'down' | 'gone'
  secret: string | undefined
  /** Path-specific secrets (several subscriptions on one receiver). */
  readonly secrets: Map<string, string>
  waitFor(predicate: (accepted: Received[]) => boolean, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** A CA and a certificate it signs for 127.0.0.1, in a fresh directory. */
export function makeTestCa(): { dir: string; caFile: string; certFile: string; keyFile: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-webhook-ca-'))
  const f = (n: string) => path.join(dir, n)
  const run = (args: string[]) => execFileSync('/usr/bin/openssl', args, { stdio: 'pipe', timeout: 30_000 })
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-sha256',
    '-days',
    '1',
    '-subj',
    '/CN=Vigil test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  ])
  run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  ])
  const ext = f('ext.cnf')
  execFileSync('/bin/sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > '${ext}'`,
  ])
  run([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    f('server.pem'),
  ])
  return { dir, caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') }
}

export async function startWebhookReceiver(ca = makeTestCa()): Promise<WebhookReceiver> {
  const requests: Received[] = []
  const accepted: Received[] = []
  const seen = new Set<string>()
  const secrets = new Map<string, string>()
  const receiver = {
    url: '',
    caFile: ca.caFile,
    requests,
    accepted,
    mode: 'up' as WebhookReceiver['mode'],
    secret: undefined as string | undefined,
    secrets,
  }
  const server = https.createServer(
    { cert: readFileSync(ca.certFile), key: readFileSync(ca.keyFile) },
    (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const headers = {
          'webhook-id': String(req.headers['webhook-id'] ?? ''),
          'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
          'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
        }
        const secret = secrets.get(req.url ?? '/') ?? receiver.secret
        let verified: boolean | undefined
        if (secret) {
          try {
            new Webhook(secret).verify(body, headers)
            verified = true
          } catch {
            verified = false
          }
        }
        let json: Received['json']
        try {
          json = JSON.parse(body) as Received['json']
        } catch {
          json = { type: 'unparsable', timestamp: '', data: {} }
        }
        const r: Received = {
          path: req.url ?? '/',
          id: headers['webhook-id'],
          timestamp: headers['webhook-timestamp'],
          signature: headers['webhook-signature'],
          body,
          json,
          verified,
        }
        requests.push(r)
        if (receiver.mode === 'down') return void res.writeHead(503).end()
        if (receiver.mode === 'gone') return void res.writeHead(410).end()
        if (verified === false) return void res.writeHead(401).end()
        // Deduplicated on webhook-id (Standard Webhooks); unsigned FHIR notifications have none.
        if (r.id === '' || !seen.has(`${r.path} ${r.id}`)) {
          seen.add(`${r.path} ${r.id}`)
          accepted.push(r)
        }
        res.writeHead(204).end()
      })
    },
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  return Object.assign(receiver, {
    async waitFor(predicate: (a: Received[]) => boolean, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs
      while (!predicate(accepted)) {
        if (Date.now() > end)
          throw new Error(
            `webhook receiver: condition not met within ${timeoutMs} ms (${accepted.length} accepted, ${requests.length} requests)`,
          )
        await new Promise((r) => setTimeout(r, 25))
      }
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(ca.dir, { recursive: true, force: true })
    },
  })
}
