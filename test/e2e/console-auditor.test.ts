// The web console in Chromium (issue 15), as an auditor: finding a clinician's read of a patient,
// the entry's detail, and the trail's verification.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'
import { mintToken } from '../support/world.ts'

describe('web console in Chromium: auditor', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 0, signIn: ['auditor'] })
  })
  after(async () => w?.close())

  test("[SRS-UI-405] an auditor finds the clinician's read of the patient and opens the entry", async () => {
    // The clinician reads the patient (a real request with a token the console client would hold).
    const token = await mintToken(w.s.app, w.s.issuer, {
      clientId: 'vigil-console',
      accountId: w.users.clinician.id,
      scope: 'openid patients:read',
    })
    const read = await fetch(`${w.s.issuer}/api/v2/patients/${w.patientId}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(read.status, 200)
    const c = await w.open(w.users.auditor)
    const { page } = c
    await page.getByRole('link', { name: 'Audit trail' }).first().click()
    await page
      .getByText(/Intact|TAMPERED/)
      .first()
      .waitFor({ timeout: 60_000 })
    await page.getByLabel('Who (user, device or client id)').fill(w.users.clinician.id)
    await page.getByLabel('Patient id').fill(w.patientId)
    await page.getByLabel('Action (e.g. device-data.read)').fill('patients.read')
    await page.getByRole('button', { name: 'Search' }).click()
    const row = page
      .getByRole('row')
      .filter({ hasText: 'patients.read' })
      .filter({ hasText: w.patientId })
      .first()
    await row.waitFor({ timeout: 30_000 })
    assert.match((await row.textContent()) ?? '', /clinician\.care-team/)
    await w.checkPage(c, 'auditor-search')
    await row.getByRole('link').click()
    await page.getByRole('heading', { name: 'Audit entry' }).waitFor()
    await page.getByRole('cell', { name: w.users.clinician.id, exact: false }).first().waitFor()
    await w.checkPage(c, 'auditor-entry')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
