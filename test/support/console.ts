// Driving the web console in Chromium: sign in through the real sign-in pages (password, then TOTP
// when asked), run axe-core on a page, keep screenshots under test-results/console, and record
// every request the page makes (so a test can prove none left the origin).
import { mkdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { totpCode } from '../../src/modules/users/index.ts'
import { TEST_PASSWORD } from './identity.ts'

const require = createRequire(import.meta.url)
export const SCREENSHOTS = path.resolve('test-results/console')

export interface ConsoleSession {
  readonly context: BrowserContext
  readonly page: Page
  /** Every URL the page requested. */
  readonly requests: string[]
  /** Browser console messages (errors, CSP reports). */
  readonly messages: string[]
}

export async function openConsole(
  browser: Browser,
  issuer: string,
  user: { email: string; totpSecret?: string | undefined },
  options: { width?: number; path?: string; timezoneId?: string } = {},
): Promise<ConsoleSession> {
  const width = options.width ?? 1280
  const context = await browser.newContext({
    viewport: { width, height: width > 600 ? 900 : 844 },
    ...(options.timezoneId ? { timezoneId: options.timezoneId, locale: 'en-US' } : {}),
  })
  const page = await context.newPage()
  const requests: string[] = []
  const messages: string[] = []
  page.on('request', (r) => requests.push(r.url()))
  page.on('console', (m) => messages.push(`${m.type()}: ${m.text()}`))
  await page.goto(`${issuer}${options.path ?? '/console/'}`)
  await page.getByLabel('Email').fill(user.email)
  await page.getByLabel('Password').fill(TEST_PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  if (user.totpSecret) {
    const code = page.getByLabel('Code from your authenticator app')
    await code.waitFor({ timeout: 30_000 })
    await code.fill(totpCode(user.totpSecret, new Date()))
    await page.getByRole('button', { name: 'Verify' }).click()
  }
  await page.waitForSelector('header.top', { timeout: 30_000 })
  return { context, page, requests, messages }
}

let axeSource: string | undefined

/** axe-core's violations of impact serious or critical on the current page (WCAG 2.1 A and AA rules). */
export async function seriousViolations(
  page: Page,
): Promise<Array<{ id: string; impact: string; help: string; nodes: string[] }>> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8')
  // Evaluated through the DevTools protocol, not as a page script: the console's CSP stays as served.
  await page.evaluate(axeSource)
  const result = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })`,
  )) as {
    violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }>
  }
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }))
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const file = path.join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

/** Requests that left the console's origin (anything not on the issuer). */
export function foreignRequests(requests: readonly string[], issuer: string): string[] {
  const origin = new URL(issuer).origin
  return requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin)
}
