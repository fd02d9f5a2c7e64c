// The web console in Chromium (issue 15) at 390 px wide: the patient page fits, passes axe-core,
// and starts with a skip link for keyboard users.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: a phone-sized screen', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 1, signIn: ['mobile'] })
  })
  after(async () => w?.close())

  test('[SRS-UI-407] at 390 px wide the patient page fits the screen, passes axe-core, and is reachable by keyboard', async () => {
    const c = await w.open(w.users.mobile, { width: 390, path: `/console/patients/${w.patientId}` })
    const { page } = c
    await page.getByRole('img', { name: /^Glucose: \d+ points/ }).waitFor({ timeout: 30_000 })
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number
    assert.ok(overflow <= 1, `no horizontal scrolling (overflow ${overflow} px)`)
    await w.checkPage(c, 'clinician-patient-390px')
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content')
    await page.keyboard.press('Tab')
    assert.equal(
      await page.evaluate('document.activeElement?.tagName'),
      'A',
      'the next stop is the first link of the header',
    )
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
