import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { createWebhookSender } from './webhook-sender.ts'

/** A local HTTP server for one test; `handle` answers (or not). */
async function serve(
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = []
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`)
    req.resume()
    handle(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

// Local receivers need the development rule (allowPrivate); production's refusal of them is SRS-EVT-359's other tests.
const local = { allowPrivate: true }

test('[SRS-EVT-359] the webhook client follows no redirect: a 3xx is the answer (a failed delivery), and the redirect target is never contacted', async () => {
  const target = await serve((_req, res) => res.writeHead(204).end())
  const redirecting = await serve((_req, res) =>
    res.writeHead(307, { location: `${target.url}/elsewhere` }).end(),
  )
  try {
    const send = createWebhookSender({ ...local, timeoutMs: 5000 })
    for (const status of [301, 302, 303, 307, 308]) {
      const other = await serve((_req, res) =>
        res.writeHead(status, { location: `${target.url}/moved` }).end(),
      )
      try {
        const result = await send(`${other.url}/hook`, {}, '{}')
        assert.equal(result.status, status)
      } finally {
        await other.close()
      }
    }
    const result = await send(`${redirecting.url}/hook`, { 'webhook-id': 'msg_1' }, '{"a":1}')
    assert.equal(result.status, 307)
    assert.deepEqual(redirecting.hits, ['POST /hook'])
    assert.deepEqual(target.hits, [], 'the Location was not followed')
  } finally {
    await target.close()
    await redirecting.close()
  }
})

test('[SRS-EVT-359] the webhook client gives up after EVENTS_WEBHOOK_TIMEOUT_MS when the receiver does not answer, and when it answers too slowly', async () => {
  const silent = await serve(() => {
    // never answers
  })
  const slow = await serve((_req, res) => {
    res.writeHead(200)
    res.write('{')
    // the body never ends
  })
  try {
    const send = createWebhookSender({ ...local, timeoutMs: 300 })
    for (const receiver of [silent, slow]) {
      const started = Date.now()
      const result = await send(`${receiver.url}/hook`, {}, '{}')
      assert.equal(result.status, undefined, 'no answer: a failed attempt (retried)')
      assert.match(result.error ?? '', /no answer within 300 ms/)
      // The deadline, not the receiver, ended the exchange (generous bound: a loaded machine).
      assert.ok(Date.now() - started < 10_000, `returned after ${Date.now() - started} ms`)
    }
  } finally {
    await silent.close()
    await slow.close()
  }
})
