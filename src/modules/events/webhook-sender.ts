// The outgoing HTTP client for webhooks and FHIR rest-hook notifications (ADR-0020): one POST,
// the SSRF guard on the connected address (destination-address.ts), no redirects followed (a 3xx
// is a failure), a deadline on the whole exchange, and the response body drained but never kept
// beyond a short excerpt for the operator (a receiver's answer is not trusted content).

import http from 'node:http'
import https from 'node:https'
import {
  DestinationRefused,
  destinationUrlProblem,
  guardedLookup,
  type DestinationRules,
} from './destination-address.ts'

export interface SendResult {
  /** HTTP status, or undefined when no answer came (refused, unreachable, timed out). */
  readonly status: number | undefined
  readonly error?: string
}

export interface WebhookSenderOptions extends DestinationRules {
  readonly timeoutMs: number
  /** Extra trusted CA (a test receiver's self-signed certificate); never in production. */
  readonly ca?: string | Buffer | undefined
  readonly userAgent?: string
}

export type SendWebhook = (url: string, headers: Record<string, string>, body: string) => Promise<SendResult>

export function createWebhookSender(options: WebhookSenderOptions): SendWebhook {
  const lookup = guardedLookup(options)
  return (url, headers, body) =>
    new Promise<SendResult>((resolve) => {
      const problem = destinationUrlProblem(url, options)
      if (problem) return resolve({ status: undefined, error: `destination refused: ${problem}` })
      const target = new URL(url)
      const client = target.protocol === 'https:' ? https : http
      let settled = false
      const finish = (result: SendResult) => {
        if (settled) return
        settled = true
        clearTimeout(deadline)
        resolve(result)
      }
      const req = client.request(
        target,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': options.userAgent ?? 'Vigil-Webhooks',
            ...headers,
          },
          lookup: lookup as unknown as http.RequestOptions['lookup'],
          // A fresh connection per delivery: pooled sockets would skip the address check of a re-pointed name.
          agent: false,
          ...(target.protocol === 'https:' && options.ca ? { ca: options.ca } : {}),
        },
        (res) => {
          // Drain (bounded): the status is the answer; the body is not kept.
          let seen = 0
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length
            if (seen > 64 * 1024) res.destroy()
          })
          res.on('end', () => finish({ status: res.statusCode }))
          res.on('error', () => finish({ status: res.statusCode }))
          res.on('close', () => finish({ status: res.statusCode }))
        },
      )
      const deadline = setTimeout(() => {
        req.destroy(new Error('timed out'))
        finish({ status: undefined, error: `no answer within ${options.timeoutMs} ms` })
      }, options.timeoutMs)
      req.on('error', (err) =>
        finish({
          status: undefined,
          error:
            err instanceof DestinationRefused
              ? `destination refused: ${err.message}`
              : `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}`.slice(0, 300),
        }),
      )
      req.end(body)
    })
}
