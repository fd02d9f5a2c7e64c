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
    w = await buildConsoleWorld({ signIn: ['clinician'] })
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
    assert.equal(
      (await page.locator('.chart-canvas canvas').count()) >= 3,
      true,
      'glucose, heart rate and blood pressure charts',
    )
    await page.getByRole('heading', { name: 'Ambulatory glucose profile' }).waitFor()
    await page.getByText('Time in range (70–180 mg/dL)').waitFor()
    await w.checkPage(c, 'clinician-patient-day')
    await page.getByLabel('90 days').check()
    await page.getByRole('img', { name: /^Glucose: 1[45] points/ }).waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'clinician-patient-90-days')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
    assert.deepEqual(
      c.messages.filter((m) => /Content Security Policy|Refused/.test(m)),
      [],
    )
  })
})
