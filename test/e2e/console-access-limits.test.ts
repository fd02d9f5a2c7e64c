// The web console in Chromium (issue 15): another patient and a clinician outside the care team see
// nothing the API would refuse them; break-glass needs a reason, shows the time left and is recorded.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: the limits of access', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 0, signIn: ['other', 'outsider'] })
  })
  after(async () => w?.close())

  test('[SRS-UI-406] another patient and a clinician outside the care team see nothing the API would refuse them', async () => {
    const other = await w.open(w.users.other)
    await other.page.getByRole('link', { name: 'My readings' }).first().click()
    await other.page.getByRole('heading', { name: `Alan Turing${w.tag}` }).waitFor({ timeout: 30_000 })
    await other.page.getByRole('img', { name: /^Glucose: 1 point/ }).waitFor({ timeout: 30_000 })
    await other.page.getByRole('link', { name: 'My devices' }).first().click()
    await other.page.getByRole('heading', { name: 'Pair a new device' }).waitFor()
    await w.checkPage(other, 'patient-devices')
    await other.page.goto(`${w.s.issuer}/console/patients/${w.patientId}`)
    await other.page.getByRole('heading', { name: 'Patient not available' }).waitFor({ timeout: 30_000 })
    assert.doesNotMatch(await other.page.content(), new RegExp(`Hopper${w.tag}|MRN-${w.tag}`))
    assert.equal(
      await other.page.getByLabel(/Reason for emergency access/).count(),
      0,
      'no break-glass for a patient',
    )

    const outsider = await w.open(w.users.outsider)
    await outsider.page.getByRole('link', { name: 'Patients' }).first().click()
    await outsider.page.getByText('No patients yet').waitFor({ timeout: 30_000 })
    await outsider.page.getByLabel('Name to search for').fill('Grace')
    await outsider.page.getByRole('button', { name: 'Search' }).click()
    await outsider.page.getByText('No patient you may see matches this search.').waitFor({ timeout: 30_000 })
    await outsider.page.goto(`${w.s.issuer}/console/patients/${w.patientId}`)
    await outsider.page.getByRole('heading', { name: 'Patient not available' }).waitFor({ timeout: 30_000 })
    assert.doesNotMatch(await outsider.page.content(), new RegExp(`Hopper${w.tag}|MRN-${w.tag}`))
    await w.checkPage(outsider, 'outsider-patient-not-available')
    // Break-glass: a reason is required; the banner shows the time left; the access is recorded as such.
    await outsider.page
      .getByLabel(/Reason for emergency access/)
      .fill('Unconscious in the emergency department')
    await outsider.page.getByRole('button', { name: 'Open emergency access' }).click()
    await outsider.page.getByRole('heading', { name: `Grace Hopper${w.tag}` }).waitFor({ timeout: 30_000 })
    await outsider.page.getByText(/Emergency access \(break-glass\)\. (60|59) minutes left/).waitFor()
    await w.checkPage(outsider, 'outsider-break-glass')
    const { rows } = await w.s.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_entries WHERE actor_id = $1 AND patient_id = $2 AND break_glass AND action = 'patients.read'",
      [w.users.outsider.id, w.patientId],
    )
    assert.ok(Number(rows[0]?.n) >= 1, 'the read under break-glass is marked in the trail')
    for (const c of [other, outsider]) assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
