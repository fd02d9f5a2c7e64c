// The web console in Chromium (issue 15), as a patient: readings, devices, the access report, and
// revoking a consent, after which the clinician loses the patient on the next load.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: patient', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 2, signIn: ['patient', 'consented'] })
  })
  after(async () => w?.close())

  test("[SRS-UI-403] a patient sees their readings, revokes a consent, and the clinician loses the patient on the next load; the access report shows the clinician's read on consent", async () => {
    const clinician = await w.open(w.users.consented)
    await clinician.page.getByRole('link', { name: 'Patients' }).first().click()
    await clinician.page.getByRole('link', { name: `Grace Hopper${w.tag}` }).click()
    await clinician.page.getByRole('heading', { name: /^Glucose/ }).waitFor({ timeout: 30_000 })
    await clinician.page.getByRole('link', { name: 'Patients' }).first().click()
    await clinician.page.getByRole('link', { name: `Grace Hopper${w.tag}` }).waitFor()

    const p = await w.open(w.users.patient)
    await p.page.getByRole('link', { name: 'My readings' }).first().click()
    await p.page.getByRole('img', { name: /^Glucose: \d+ points/ }).waitFor({ timeout: 30_000 })
    await w.checkPage(p, 'patient-readings')
    await p.page.getByRole('link', { name: 'Who saw my data' }).first().click()
    const row = p.page
      .getByRole('row')
      .filter({ hasText: w.users.consented.email })
      .filter({ hasText: 'Your consent' })
      .first()
    await row.waitFor({ timeout: 30_000 })
    assert.match((await row.textContent()) ?? '', /viewed your/)
    await w.checkPage(p, 'patient-access-report')
    await p.page.getByRole('link', { name: 'Sharing' }).first().click()
    await p.page.getByRole('button', { name: `Revoke access of ${w.users.consented.id}` }).click()
    await p.page.getByText('Access revoked').waitFor()
    await w.checkPage(p, 'patient-sharing')

    await clinician.page.reload()
    await clinician.page.getByRole('heading', { name: 'Patients' }).waitFor({ timeout: 30_000 })
    await clinician.page.getByText('No patients yet').waitFor({ timeout: 30_000 })
    assert.equal(await clinician.page.getByText(`Hopper${w.tag}`).count(), 0)
    await clinician.page.goto(`${w.s.issuer}/console/patients/${w.patientId}`)
    await clinician.page.getByRole('heading', { name: 'Patient not available' }).waitFor({ timeout: 30_000 })
    assert.doesNotMatch(await clinician.page.content(), new RegExp(`Hopper${w.tag}|MRN-${w.tag}`))
    for (const c of [clinician, p]) assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
