// The web console in Chromium (issue 15), as a clinician: through the real sign-in pages with TOTP,
// the care-team patient's charts, an expired session, and the page at 390 px. Each page is checked by
// axe-core, photographed into test-results/console, and watched for requests leaving the origin.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: clinician', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ signIn: ['clinician', 'mobile'] })
  })
  after(async () => w?.close())

  test('[SRS-UI-400][SRS-UI-401] a clinician signs in with TOTP, opens the care-team patient and sees a chart of the readings; no request leaves the origin', async () => {
    const c = await w.open(w.users.clinician)
    const { page } = c
    await page.getByRole('link', { name: 'Patients' }).first().click()
    await page.getByRole('link', { name: `Grace Hopper${w.tag}` }).click()
    await page.getByRole('heading', { name: `Grace Hopper${w.tag}` }).waitFor()
    await page.getByRole('heading', { name: /^Glucose/ }).waitFor({ timeout: 30_000 })
    const label = await page.getByRole('img', { name: /^Glucose: \d+ points/ }).getAttribute('aria-label')
    assert.match(label ?? '', /^Glucose: 4[89] points, target 70–180 mg\/dL, \d+ out of target/)
    assert.equal(await page.locator('.chart-canvas canvas').count() >= 3, true, 'glucose, heart rate and blood pressure charts')
    await page.getByRole('heading', { name: 'Ambulatory glucose profile' }).waitFor()
    await page.getByText('Time in range (70–180 mg/dL)').waitFor()
    await w.checkPage(c, 'clinician-patient-day')
    await page.getByLabel('90 days').check()
    await page.getByRole('img', { name: /^Glucose: 1[45] points/ }).waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'clinician-patient-90-days')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
    assert.deepEqual(c.messages.filter((m) => /Content Security Policy|Refused/.test(m)), [])
  })

  test('[SRS-UI-407] at 390 px wide the patient page fits the screen, passes axe-core, and is reachable by keyboard', async () => {
    const c = await w.open(w.users.mobile, { width: 390, path: `/console/patients/${w.patientId}` })
    const { page } = c
    await page.getByRole('img', { name: /^Glucose: \d+ points/ }).waitFor({ timeout: 30_000 })
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number
    assert.ok(overflow <= 1, `no horizontal scrolling (overflow ${overflow} px)`)
    await w.checkPage(c, 'clinician-patient-390px')
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content')
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate('document.activeElement?.tagName'), 'A', 'the next stop is the first link of the header')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
