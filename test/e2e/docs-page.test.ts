// /docs in a real browser: Debian's Chromium (driven by playwright-core) opens the page served
// on a real loopback port, the Scalar reference renders the generated OpenAPI document, and the
// page reaches no host but ours — no fonts, telemetry, AI agent, registry or request proxy, and
// no CSP violation. A "Test Request" sent from the page goes straight to our own origin.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { chromium, type Browser, type ConsoleMessage, type Request } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS } from '../support/browser.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

const SCREENSHOT = '/tmp/docs.png'
const SCREENSHOT_CLIENT = '/tmp/docs-test-request.png'
const WAIT_MS = 30_000
// Operations from the generated document: proof that the reference rendered the API itself.
const FIRST_TAG_SUMMARY = 'The v1 API root: version status and documentation links'
const LIVENESS_SUMMARY = 'Liveness: the process is up and serving HTTP'
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** The host a request went to over the network; data:, blob: and about: stay inside the page. */
function networkHost(url: string): string | undefined {
  const u = new URL(url)
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return undefined
  return u.hostname
}

/** Runs an attempt until it yields a truthy value, at most `times` times; the last value otherwise. */
async function retry<T>(times: number, attempt: () => Promise<T>): Promise<T> {
  let value = await attempt()
  for (let i = 1; i < times && !value; i++) value = await attempt()
  return value
}

test(
  '[SRS-DOC-003] /docs renders in Chromium with no request to a non-loopback host',
  { timeout: 120_000 },
  async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium not found at ${CHROMIUM}: this test needs Debian's chromium package (apt-get install -y chromium; .ci/run installs it)`,
    )

    let t: OAuthTestServer | undefined
    let browser: Browser | undefined
    try {
      t = await startOAuthTestServer()
      const origin = t.issuer

      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: WAIT_MS })
      const context = await browser.newContext({
        viewport: { width: 1280, height: 800 },
        serviceWorkers: 'block',
      })
      context.setDefaultTimeout(WAIT_MS)

      // Every request, seen from the context (all pages, workers) and from the page; and every way a
      // page says something went wrong: failed loads, console messages, uncaught exceptions.
      const requests = new Set<string>()
      const failed: string[] = []
      const consoleMessages: { type: string; text: string }[] = []
      const pageErrors: string[] = []
      context.on('request', (r: Request) => requests.add(r.url()))
      context.on('requestfailed', (r: Request) =>
        failed.push(`${r.url()} (${r.failure()?.errorText ?? 'failed'})`),
      )
      context.on('console', (m: ConsoleMessage) => consoleMessages.push({ type: m.type(), text: m.text() }))
      const page = await context.newPage()
      page.on('request', (r: Request) => requests.add(r.url()))
      page.on('pageerror', (e: Error) => pageErrors.push(e.message))

      const response = await page.goto(`${origin}/docs`, { waitUntil: 'load' })
      assert.equal(response?.status(), 200)
      assert.match(response.headers()['content-security-policy'] ?? '', /default-src 'none'/)

      // Rendered: the document's title, then an operation of the first (open) tag.
      await page.getByRole('heading', { name: 'Vigil API' }).first().waitFor({ state: 'visible' })
      await page.getByText(FIRST_TAG_SUMMARY).filter({ visible: true }).first().waitFor({ state: 'visible' })
      await page.screenshot({ path: SCREENSHOT })
      // The "Operations" tag starts closed; opening it from the sidebar renders the health routes.
      const sidebar = page.getByRole('navigation', { name: /sidebar/i })
      const operationsTag = sidebar.getByRole('button', { name: /^Operations\b/ })
      const liveness = page.getByRole('heading', { name: LIVENESS_SUMMARY }).first()
      const tagOpen = await retry(5, async () => {
        if ((await operationsTag.getAttribute('aria-expanded')) !== 'true') await operationsTag.click()
        return liveness.waitFor({ state: 'visible', timeout: 5_000 }).then(
          () => true,
          () => false,
        )
      })
      assert.ok(tagOpen, `"${LIVENESS_SUMMARY}" rendered once the Operations tag is open`)

      // The API client in the page sends "Test Request" to our own origin, not through a proxy.
      // Scalar mounts the client lazily and may still be scrolling to the tag, so an early click can
      // go unheard: each step is retried, a bounded number of times, until its effect shows.
      const target = `${origin}/health/live`
      const sendButton = page.getByRole('button', { name: `Send get request to ${target}` })
      const clientOpen = await retry(5, async () => {
        if (await sendButton.isVisible()) return true
        await page.getByRole('button', { name: 'Test Request (get /health/live)' }).click()
        return sendButton.waitFor({ state: 'visible', timeout: 5_000 }).then(
          () => true,
          () => false,
        )
      })
      assert.ok(clientOpen, 'the API client opened for GET /health/live')
      const apiRequest = await retry(5, async () => {
        const sent = page.waitForRequest((r) => r.url() === target, { timeout: 5_000 }).catch(() => undefined)
        await sendButton.click()
        return sent
      })
      assert.ok(apiRequest, `"Send" requested ${target}`)
      assert.equal((await apiRequest.response())?.status(), 200)
      await page.getByText('200 OK').filter({ visible: true }).first().waitFor({ state: 'visible' }) // shown in the client's response pane
      await page.screenshot({ path: SCREENSHOT_CLIENT })

      // Late requests (lazy chunks, fonts, beacons) happen before the count.
      await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => undefined)
      await page.waitForTimeout(1_000)

      const all = [...requests]
      assert.ok(all.includes(`${origin}/docs`), 'the navigation itself was recorded')
      assert.ok(all.includes(`${origin}/docs/scalar.js`), 'the script came from our origin')
      assert.ok(all.includes(`${origin}/openapi.json`), 'the document came from our origin')
      const outside = all.filter((url) => {
        const host = networkHost(url)
        return host !== undefined && !LOOPBACK_HOSTS.has(host)
      })
      assert.deepEqual(outside, [], `requests to a non-loopback host:\n${outside.join('\n')}`)
      const body = await page.locator('body').innerText()
      assert.ok(body.includes(LIVENESS_SUMMARY), 'the liveness operation is in the rendered page')
      assert.ok(!/ask ai/i.test(body), 'the AI agent ("Ask AI") is off')
      assert.deepEqual(failed, [], 'no request failed (a request blocked by the CSP shows up here)')
      const violations = consoleMessages.filter((m) => /content security policy|refused to/i.test(m.text))
      assert.deepEqual(violations, [], 'no CSP violation')
      assert.deepEqual(
        consoleMessages.filter((m) => m.type === 'error'),
        [],
        'no console error',
      )
      assert.deepEqual(pageErrors, [], 'no uncaught exception in the page')
    } finally {
      await browser?.close()
      await t?.close()
    }
  },
)
