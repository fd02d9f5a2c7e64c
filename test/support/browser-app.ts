// A web app's side of a browser flow: a real listener on a loopback port that answers every
// request with a page of its own ("Back in the app") and remembers what it received, as the app
// would see it (the browser's own /favicon.ico requests left out); and the world such a test runs in.
import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ClientMetadata } from 'oidc-provider'
import * as client from 'openid-client'
import type { Browser } from 'playwright-core'
import { launchChromium } from './browser.ts'
import { createTestUser } from './identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from './oauth.ts'

/** What an app's redirect URI received: the method, the path and the body, as the app saw them. */
export interface Arrival {
  readonly method: string
  readonly url: string
  readonly body: string
}

export interface AppListener {
  readonly server: Server
  readonly origin: string
  readonly arrivals: Arrival[]
}

export async function startAppListener(): Promise<AppListener> {
  const arrivals: Arrival[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      if (req.url !== '/favicon.ico') arrivals.push({ method: req.method ?? '', url: req.url ?? '', body })
      res.setHeader('content-type', 'text/html')
      res.end('<!doctype html><title>App</title><h1>Back in the app</h1>')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals }
}

/**
 * A browser flow's world: the OAuth server, an app (its listener) with a public client registered
 * for it by `metadata`, a stranger's listener (an origin the app did not register), a patient who
 * signs in, the app's openid-client configuration and Chromium.
 */
export interface BrowserAppWorld {
  readonly s: OAuthTestServer
  readonly browser: Browser
  readonly app: AppListener
  readonly stranger: AppListener
  readonly patient: Awaited<ReturnType<typeof createTestUser>>
  readonly config: client.Configuration
  close(): Promise<void>
}

export async function startBrowserAppWorld(
  clientId: string,
  metadata: (appOrigin: string) => Omit<ClientMetadata, 'client_id'>,
): Promise<BrowserAppWorld> {
  const s = await startOAuthTestServer()
  const app = await startAppListener()
  const stranger = await startAppListener()
  await s.clients.upsert({
    clientId,
    metadata: { client_id: clientId, token_endpoint_auth_method: 'none', ...metadata(app.origin) },
  })
  const org = (
    await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
      `Browser app clinic ${randomUUID()}`,
    ])
  ).rows[0]?.id as string
  const patient = await createTestUser(s.db, {
    email: `browser-app-patient-${randomUUID()}@demo.test`,
    roles: [{ role: 'patient', organisationId: org }],
  })
  const config = await s.discover(clientId, client.None())
  const browser = await launchChromium()
  return {
    s,
    browser,
    app,
    stranger,
    patient,
    config,
    async close() {
      await browser.close()
      app.server.close()
      stranger.server.close()
      await s.close()
    },
  }
}
