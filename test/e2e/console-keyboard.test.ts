// The web console in Chromium (issue 15, "keyboard-navigable, labels on every control"): one
// keyboard-only walk per role — Tab, Shift+Tab, Enter, Space and the arrow keys of a radio group,
// never the mouse — reaches and operates the page's main controls; every stop shows a visible
// focus indicator; every control on each page has an accessible name; each page passes axe-core
// and no request leaves the origin.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'
import { mintToken } from '../support/world.ts'

interface Focused {
  tag: string
  name: string
  outline: string
}

/** The focused element: its tag, accessible name (as the page gives it) and computed outline. */
async function focused(page: Page): Promise<Focused> {
  return (await page.evaluate(`(() => {
    const el = document.activeElement
    if (!el || el === document.body) return { tag: 'BODY', name: '', outline: '' }
    const labelled = el.getAttribute('aria-labelledby')
    const name =
      el.getAttribute('aria-label') ||
      (labelled ? labelled.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ') : '') ||
      (el.labels && el.labels.length ? [...el.labels].map((l) => l.textContent).join(' ') : '') ||
      el.textContent ||
      ''
    const s = getComputedStyle(el)
    return { tag: el.tagName, name: name.replace(/\\s+/g, ' ').trim(), outline: s.outlineStyle + ' ' + s.outlineWidth }
  })()`)) as Focused
}

/**
 * Presses Tab (or Shift+Tab) until the focused element's name matches; every stop on the way must
 * show a visible focus indicator (a solid outline at least 2 px wide).
 */
async function tabTo(page: Page, name: RegExp, options: { back?: boolean; max?: number } = {}) {
  const stops: string[] = []
  for (let i = 0; i < (options.max ?? 80); i++) {
    await page.keyboard.press(options.back ? 'Shift+Tab' : 'Tab')
    const f = await focused(page)
    stops.push(`${f.tag} "${f.name}"`)
    if (f.tag !== 'BODY') {
      const [style, width] = f.outline.split(' ')
      assert.ok(
        style !== 'none' && Number.parseFloat(width ?? '0') >= 2,
        `a visible focus indicator on ${f.tag} "${f.name}" (outline ${f.outline})`,
      )
    }
    if (name.test(f.name)) return f
  }
  assert.fail(`no keyboard stop named ${name}; stops: ${stops.join(' → ')}`)
}

/** Controls a keyboard or screen-reader user meets that have no accessible name. */
async function unnamedControls(page: Page): Promise<string[]> {
  return (await page.evaluate(`(() => {
    const out = []
    for (const el of document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')) {
      if (el.type === 'hidden' || el.getClientRects().length === 0) continue
      const labelled = el.getAttribute('aria-labelledby')
      const name =
        el.getAttribute('aria-label') ||
        (labelled ? labelled.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ') : '') ||
        (el.labels && el.labels.length ? [...el.labels].map((l) => l.textContent).join(' ') : '') ||
        (el.tagName === 'INPUT' ? '' : el.textContent) ||
        el.getAttribute('title') ||
        ''
      if (!name.trim()) out.push(el.outerHTML.slice(0, 120))
    }
    return out
  })()`)) as string[]
}

describe('web console in Chromium: keyboard only, one page per role', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 1, signIn: ['clinician', 'patient', 'admin', 'auditor'] })
  })
  after(async () => w?.close())

  const check = async (c: Awaited<ReturnType<ConsoleWorld['open']>>, name: string) => {
    assert.deepEqual(await unnamedControls(c.page), [], `every control on ${name} has an accessible name`)
    await w.checkPage(c, name)
  }

  test('[SRS-UI-557] by keyboard alone a clinician opens a patient from the list and changes the chart period; an administrator shows a care team, adds a clinician and removes them', async () => {
    const c = await w.open(w.users.clinician)
    const { page } = c
    await tabTo(page, /^Skip to content$/)
    await tabTo(page, /^Patients$/)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Patients', level: 1 }).waitFor({ timeout: 30_000 })
    await page.getByRole('link', { name: `Grace Hopper${w.tag}` }).waitFor({ timeout: 30_000 })
    await check(c, 'keyboard-clinician-list')
    await tabTo(page, new RegExp(`^Grace Hopper${w.tag}$`))
    await page.keyboard.press('Enter')
    await page.getByRole('img', { name: /^Glucose: \d+ points/ }).waitFor({ timeout: 30_000 })
    const day = page.getByRole('radio', { name: 'Day', exact: true })
    assert.equal(await day.isChecked(), true)
    // Tab reaches the group's checked radio; the arrow keys choose another, as in every radio group.
    await tabTo(page, /^Day$/)
    await page.keyboard.press('ArrowRight')
    assert.equal(await page.getByRole('radio', { name: '2 weeks', exact: true }).isChecked(), true)
    await page.getByText(/hour/i).first().waitFor({ timeout: 30_000 })
    await page.getByRole('img', { name: /^Glucose: \d+ points/ }).waitFor({ timeout: 30_000 })
    // Shift+Tab goes back out of the group, to the control before it.
    const previous = await tabTo(page, /./, { back: true, max: 1 })
    assert.notEqual(previous.name, '2 weeks')
    await check(c, 'keyboard-clinician-patient-2-weeks')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])

    const a = await w.open(w.users.admin)
    const ap = a.page
    await tabTo(ap, /^Care teams$/)
    await ap.keyboard.press('Enter')
    await ap.getByRole('heading', { name: 'Care teams' }).waitFor({ timeout: 30_000 })
    await tabTo(ap, /^Patient id$/)
    await ap.keyboard.type(w.patientId)
    await ap.keyboard.press('Enter')
    const team = ap.getByRole('list', { name: 'Care team' })
    await team.waitFor({ timeout: 30_000 })
    await tabTo(ap, /^Clinician's user id$/)
    await ap.keyboard.type(w.users.outsider.id)
    await tabTo(ap, /^Add to care team$/)
    await ap.keyboard.press('Space')
    await ap.getByText('Added to the care team.').waitFor({ timeout: 30_000 })
    const inTeam = async () =>
      (
        await w.s.db.query('SELECT 1 FROM care_team_members WHERE patient_id = $1 AND user_id = $2', [
          w.patientId,
          w.users.outsider.id,
        ])
      ).rows.length
    assert.equal(await inTeam(), 1)
    await check(a, 'keyboard-admin-care-team')
    await tabTo(ap, new RegExp(`^Remove (${w.users.outsider.id}|.*outsider.*)$`), { back: true })
    await ap.keyboard.press('Enter')
    await ap.getByText('Removed from the care team.').waitFor({ timeout: 30_000 })
    assert.equal(await inTeam(), 0)
    assert.deepEqual(foreignRequests(a.requests, w.s.issuer), [])
  })

  test('[SRS-UI-558] by keyboard alone a patient shares their readings through the sharing form, and an auditor searches the trail and opens an entry; every stop shows a visible focus indicator', async () => {
    const c = await w.open(w.users.patient)
    const { page } = c
    await tabTo(page, /^Sharing$/)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Share my data' }).waitFor({ timeout: 30_000 })
    await tabTo(page, /^Their Vigil user id/)
    await page.keyboard.type(w.users.outsider.id)
    await tabTo(page, /^Grant access$/)
    await page.keyboard.press('Enter')
    await page.getByText('Access granted.').waitFor({ timeout: 30_000 })
    const { rows } = await w.s.db.query(
      'SELECT 1 FROM consents WHERE patient_id = $1 AND grantee_id = $2 AND revoked_at IS NULL',
      [w.patientId, w.users.outsider.id],
    )
    assert.equal(rows.length, 1, 'the consent exists')
    await check(c, 'keyboard-patient-shared')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])

    // Something for the auditor to find: the clinician reads the patient.
    const token = await mintToken(w.s.app, w.s.issuer, {
      clientId: 'vigil-console',
      accountId: w.users.clinician.id,
      scope: 'openid patients:read',
    })
    const read = await fetch(`${w.s.issuer}/api/v2/patients/${w.patientId}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(read.status, 200)
    const a = await w.open(w.users.auditor)
    const ap = a.page
    await tabTo(ap, /^Audit trail$/)
    await ap.keyboard.press('Enter')
    await ap.getByRole('heading', { name: 'Audit trail' }).waitFor({ timeout: 30_000 })
    await tabTo(ap, /^Who \(user, device or client id\)$/)
    await ap.keyboard.type(w.users.clinician.id)
    await tabTo(ap, /^Action/)
    await ap.keyboard.type('patients.read')
    await ap.keyboard.press('Enter')
    const row = ap
      .getByRole('row')
      .filter({ hasText: 'patients.read' })
      .filter({ hasText: w.patientId })
      .first()
    await row.waitFor({ timeout: 30_000 })
    await check(a, 'keyboard-auditor-search')
    const entryLink = ((await row.getByRole('link').textContent()) ?? '').trim()
    await tabTo(ap, new RegExp(`^${entryLink.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
    await ap.keyboard.press('Enter')
    await ap.getByRole('heading', { name: 'Audit entry' }).waitFor({ timeout: 30_000 })
    await ap.getByRole('cell', { name: w.users.clinician.id, exact: false }).first().waitFor()
    await check(a, 'keyboard-auditor-entry')
    assert.deepEqual(foreignRequests(a.requests, w.s.issuer), [])
  })
})
