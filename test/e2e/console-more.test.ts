// The web console in Chromium (issue 15, remaining gaps): an administrator gives and takes a role
// (a segregation-of-duties refusal says who must act), registers an OAuth client (its secret shown
// once) and deletes it, and adds a clinician to a patient's care team and removes them; an auditor
// sees the trail's status and its last signed checkpoint, finds the refusal on the security events
// page and the burst of failed sign-ins on the anomalies page; long lists (users, audit entries)
// page without repeats. Every outcome is checked against the API; each page state passes axe-core
// and is kept as a screenshot; no request leaves the origin.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { loadCheckpointSigner } from '../../src/audit/index.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { foreignRequests, type ConsoleSession } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'
import { mintToken } from '../support/world.ts'

const CONSOLE_SCOPE = 'openid patients:read device-data:read audit:read admin:users admin:clients'

describe('web console in Chromium: roles, clients, care teams, the trail, anomalies, long lists', () => {
  let w: ConsoleWorld
  // One session per user for the whole file: a second sign-in within the same 30-second TOTP step
  // would be refused as a replayed code.
  let adminSession: ConsoleSession | undefined
  let auditorSession: ConsoleSession | undefined
  const asAdmin = async () => (adminSession ??= await w.open(w.users.admin))
  const asAuditor = async () => (auditorSession ??= await w.open(w.users.auditor))
  const apiAs = async (accountId: string, path: string, init: RequestInit = {}) => {
    const token = await mintToken(w.s.app, w.s.issuer, {
      clientId: 'vigil-console',
      accountId,
      scope: CONSOLE_SCOPE,
    })
    return fetch(`${w.s.issuer}/api/v2${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
    })
  }
  const membersOf = async () => {
    const res = await apiAs(w.users.admin.id, `/organisations/${w.orgId}/users`)
    assert.equal(res.status, 200)
    return ((await res.json()) as { users: Array<{ id: string; email: string; roles: string[] }> }).users
  }
  before(async () => {
    w = await buildConsoleWorld({ days: 0, signIn: ['admin', 'auditor', 'outsider'] })
  })
  after(async () => w?.close())

  test('[SRS-UI-551] an administrator gives a user a role and takes it away (after confirming), the user list showing each change; a segregation-of-duties refusal says who must act instead', async () => {
    const c = await asAdmin()
    const { page } = c
    await page.getByRole('link', { name: 'Users', exact: true }).first().click()
    await page.getByLabel('Organisation').selectOption(w.orgId)
    const email = w.users.consented.email
    const users = page.getByRole('list', { name: 'Users' })
    const row = users.getByRole('listitem').filter({ hasText: email })
    await row.waitFor({ timeout: 30_000 })

    // A clinician's account is never given an administrative role (ADR-0012).
    await page.getByLabel('Account').selectOption({ label: email })
    await page.getByLabel('Grant').selectOption('org-admin')
    await page.getByRole('button', { name: 'Give role' }).click()
    const refusal = page.getByRole('alert')
    await refusal.waitFor({ timeout: 30_000 })
    assert.match((await refusal.textContent()) ?? '', /segregation of duties: .*separate account/i)
    await w.checkPage(c, 'admin-role-refused')

    await page.getByLabel('Grant').selectOption('caregiver')
    await page.getByRole('button', { name: 'Give role' }).click()
    await page.getByText(`Role caregiver given to ${email}.`).waitFor({ timeout: 30_000 })
    await row.getByRole('button', { name: `Take away caregiver from ${email}` }).waitFor({ timeout: 30_000 })
    assert.deepEqual(
      (await membersOf()).find((u) => u.email === email)?.roles.sort(),
      ['caregiver', 'clinician'],
      'the API holds the new role',
    )
    await w.checkPage(c, 'admin-role-given')

    await row.getByRole('button', { name: `Take away caregiver from ${email}` }).click()
    const confirm = page.getByRole('group', { name: `Confirm taking away caregiver from ${email}` })
    await confirm.waitFor()
    await w.checkPage(c, 'admin-role-confirm-take')
    await confirm.getByRole('button', { name: 'Yes, take it away' }).click()
    await page.getByText(`Role caregiver taken from ${email}.`).waitFor({ timeout: 30_000 })
    await row
      .getByRole('button', { name: `Take away caregiver from ${email}` })
      .waitFor({ state: 'detached' })
    assert.match((await row.textContent()) ?? '', /clinician/)
    assert.deepEqual(
      (await membersOf()).find((u) => u.email === email)?.roles,
      ['clinician'],
      'the API no longer holds it',
    )
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test('[SRS-UI-552] an administrator registers a confidential OAuth client whose secret is shown once and works, then deletes it after confirming; the API no longer lists it and its secret is refused', async () => {
    const c = await asAdmin()
    const { page } = c
    await page.getByRole('link', { name: 'OAuth clients', exact: true }).first().click()
    const clientId = `console-new-${w.tag}`
    await page.getByLabel('Client id').fill(clientId)
    await page.getByLabel('Grant types (space-separated)').fill('client_credentials')
    await page.getByLabel('Scopes (space-separated)').fill('device-data:write')
    await page.getByRole('button', { name: 'Register' }).click()
    const shown = page.getByTestId('client-secret')
    await shown.waitFor({ timeout: 30_000 })
    const secret = ((await shown.textContent()) ?? '').trim()
    assert.match(secret, /^[A-Za-z0-9_-]{32,}$/)
    await w.checkPage(c, 'admin-client-created')
    const tokenWith = () =>
      fetch(`${w.s.issuer}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      })
    assert.equal((await tokenWith()).status, 200, 'the shown secret works')
    await page.getByRole('button', { name: 'I have stored it' }).click()
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is gone from the page')
    const listed = async () =>
      (
        (await (await apiAs(w.users.admin.id, '/admin/clients')).json()) as {
          clients: Array<{ clientId: string }>
        }
      ).clients.some((x) => x.clientId === clientId)
    assert.equal(await listed(), true)

    await page.getByRole('button', { name: `Delete ${clientId}` }).click()
    const confirm = page.getByRole('group', { name: `Confirm deleting ${clientId}` })
    await confirm.waitFor()
    await w.checkPage(c, 'admin-client-confirm-delete')
    await confirm.getByRole('button', { name: 'Yes, delete' }).click()
    await page.getByText(`${clientId} deleted.`).waitFor({ timeout: 30_000 })
    await page.getByRole('button', { name: `Delete ${clientId}` }).waitFor({ state: 'detached' })
    assert.equal(await listed(), false, 'the API no longer lists it')
    assert.equal((await tokenWith()).status, 401, 'its secret is refused')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test("[SRS-UI-553] an administrator adds a clinician to a patient's care team and removes them; the API's care team follows each change", async () => {
    const c = await asAdmin()
    const { page } = c
    await page.getByRole('link', { name: 'Care teams', exact: true }).first().click()
    await page.getByLabel('Patient id').fill(w.patientId)
    await page.getByRole('button', { name: 'Show care team' }).click()
    const team = page.getByRole('list', { name: 'Care team' })
    await team.waitFor({ timeout: 30_000 })
    const teamIds = async () =>
      (
        (await (await apiAs(w.users.admin.id, `/patients/${w.patientId}/care-team`)).json()) as {
          members: Array<{ userId: string }>
        }
      ).members
        .map((m) => m.userId)
        .sort()
    const before = await teamIds()
    assert.equal(before.includes(w.users.outsider.id), false)
    await page.getByLabel("Clinician's user id").fill(w.users.outsider.id)
    await page.getByRole('button', { name: 'Add to care team' }).click()
    await page.getByText('Added to the care team.').waitFor({ timeout: 30_000 })
    const remove = team.getByRole('button', {
      name: new RegExp(`^Remove (${w.users.outsider.id}|.*outsider)`),
    })
    await remove.waitFor({ timeout: 30_000 })
    assert.deepEqual(await teamIds(), [...before, w.users.outsider.id].sort())
    await w.checkPage(c, 'admin-care-team-added')
    await remove.click()
    await page.getByText('Removed from the care team.').waitFor({ timeout: 30_000 })
    await remove.waitFor({ state: 'detached' })
    assert.deepEqual(await teamIds(), before)
    await w.checkPage(c, 'admin-care-team-removed')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test('[SRS-UI-554] with more users than one page, the users page shows a next-page control, and following it shows the rest without repeats', async () => {
    for (let i = 0; i < 22; i++) {
      const res = await apiAs(w.users.admin.id, `/organisations/${w.orgId}/users`, {
        method: 'POST',
        body: JSON.stringify({ email: `many.${i}.${w.tag}@console.test`, role: 'caregiver' }),
      })
      assert.equal(res.status, 201, await res.clone().text())
    }
    const all = (await membersOf()).map((u) => u.email)
    assert.ok(all.length > 20)
    const c = await asAdmin()
    const { page } = c
    await page.getByRole('link', { name: 'Devices', exact: true }).first().click()
    await page.getByRole('link', { name: 'Users', exact: true }).first().click()
    await page.getByLabel('Organisation').selectOption(w.orgId)
    const rows = page.getByRole('list', { name: 'Users' }).getByRole('listitem')
    await rows.first().waitFor({ timeout: 30_000 })
    const pager = page.getByRole('navigation', { name: 'Users pages' })
    await pager.waitFor()
    const emailsShown = async () =>
      (await rows.allTextContents()).map((t) => all.find((e) => t.includes(e)) ?? `?${t}`)
    const first = await emailsShown()
    assert.equal(first.length, 20)
    await w.checkPage(c, 'admin-users-page-1')
    await pager.getByRole('button', { name: 'Next' }).click()
    await pager.getByText(/Page 2 of/).waitFor()
    const second = await emailsShown()
    assert.equal(await pager.getByRole('button', { name: 'Next' }).isDisabled(), all.length <= 40)
    const seen = [...first, ...second]
    assert.equal(new Set(seen).size, seen.length, 'no user shown twice')
    assert.deepEqual([...seen].sort(), [...all].sort(), 'every user of the API shown once')
    await w.checkPage(c, 'admin-users-page-2')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test('[SRS-UI-555] the auditor sees the trail intact with its last signed checkpoint, the segregation-of-duties refusal on the security events page, and the burst of failed sign-ins on the anomalies page', async () => {
    // Five wrong passwords for one account, through the real sign-in page.
    const context = await w.browser.newContext()
    try {
      const p = await context.newPage()
      await p.goto(`${w.s.issuer}/console/`)
      for (let i = 0; i < 5; i++) {
        await p.getByLabel('Email').fill(w.users.outsider.email)
        await p.getByLabel('Password').fill(`wrong-password-${i}-${w.tag}`)
        await Promise.all([
          p.waitForResponse((r) => r.request().method() === 'POST', { timeout: 30_000 }),
          p.getByRole('button', { name: 'Sign in' }).click(),
        ])
        await p.getByRole('alert').waitFor({ timeout: 30_000 })
      }
    } finally {
      await context.close()
    }
    const scan = await apiAs(w.users.admin.id, '/security-events/scan', { method: 'POST' })
    assert.equal(scan.status, 200, await scan.clone().text())
    const raised = ((await scan.json()) as { raised: Array<{ kind: string; subject: string }> }).raised
    assert.ok(
      raised.some((e) => e.kind === 'failed-logins' && e.subject === w.users.outsider.id),
      'the detector raised the burst',
    )
    // A signed checkpoint of every chain's head.
    const checkpoint = await w.s.app.vigil.modules.audit.checkpoint(
      await loadCheckpointSigner(w.s.db, createKeyring(TEST_KEYRING)),
    )

    const c = await asAuditor()
    const { page } = c
    await page.getByRole('link', { name: 'Audit trail' }).first().click()
    const verification = page.getByRole('region', { name: 'Trail verification' })
    const status = verification.getByRole('definition').first()
    await verification.getByText('Intact').waitFor({ timeout: 60_000 })
    assert.equal((await status.textContent())?.trim(), 'Intact')
    const shownCheckpoint = await page.evaluate(
      `new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(${JSON.stringify(checkpoint.createdAt)}))`,
    )
    const api = (await (await apiAs(w.users.auditor.id, '/audit/verification')).json()) as {
      intact: boolean
      lastCheckpoint: { id: string } | null
    }
    assert.equal(api.intact, true)
    assert.equal(api.lastCheckpoint?.id, checkpoint.id, 'the API names the checkpoint just made')
    const checkpointText = await verification
      .locator('div')
      .filter({ hasText: 'Last signed checkpoint' })
      .getByRole('definition')
      .textContent()
    assert.equal(checkpointText?.trim(), shownCheckpoint, 'the page shows the last signed checkpoint')
    await w.checkPage(c, 'auditor-verification-checkpoint')

    await page.getByRole('link', { name: 'Security events', exact: true }).first().click()
    const events = page.getByRole('region', { name: 'Security events, newest first' })
    await events.waitFor({ timeout: 30_000 })
    await events
      .getByRole('row')
      .filter({ hasText: 'sod.administration-to-health-data-account' })
      .first()
      .waitFor({ timeout: 30_000 })
    await events
      .getByRole('row')
      .filter({ hasText: 'login.failed' })
      .filter({ hasText: w.users.outsider.id })
      .first()
      .waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'auditor-security-events')

    await page.getByRole('link', { name: 'Anomalies', exact: true }).first().click()
    const anomalies = page.getByRole('region', { name: 'Anomalies, newest first' })
    await anomalies.waitFor({ timeout: 30_000 })
    await anomalies
      .getByRole('row')
      .filter({ hasText: 'failed-logins' })
      .filter({ hasText: w.users.outsider.id })
      .first()
      .waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'auditor-anomalies')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test("[SRS-UI-556] with more audit entries than one page, the auditor's search shows an older-page control, and following it shows the rest without repeats", async () => {
    // 30 real reads of the patient by a clinician of the care team: 30 entries, more than a page of 25.
    for (let i = 0; i < 30; i++)
      assert.equal((await apiAs(w.users.clinician.id, `/patients/${w.patientId}`)).status, 200)
    const c = await asAuditor()
    const { page } = c
    await page.getByRole('link', { name: 'Audit trail' }).first().click()
    await page.getByLabel('Who (user, device or client id)').fill(w.users.clinician.id)
    await page.getByLabel('Action (e.g. device-data.read)').fill('patients.read')
    await page.getByRole('button', { name: 'Search' }).click()
    const table = page.getByRole('region', { name: 'Audit entries, newest first' })
    const links = table.getByRole('link')
    // Polled from here: the console's CSP (no 'unsafe-eval') refuses page.waitForFunction's polling.
    // Until the table holds n rows, every one the clinician's read (not the unfiltered first load).
    const bodyRows = table.locator('tbody tr')
    const settled = async (n: number) =>
      (await bodyRows.count()) === n &&
      (await bodyRows.filter({ hasNotText: w.users.clinician.id }).count()) === 0 &&
      (await bodyRows.filter({ hasNotText: 'patients.read' }).count()) === 0
    const rowsShown = async (n: number) => {
      for (let i = 0; i < 300 && !(await settled(n)); i++) await page.waitForTimeout(100)
      assert.equal(await settled(n), true, `${n} rows of the clinician's reads shown`)
    }
    const ids = async () =>
      (await links.evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''))).map((h) =>
        h.replace(/^.*\//u, ''),
      )
    await table.getByRole('row').filter({ hasText: 'patients.read' }).first().waitFor({ timeout: 30_000 })
    await rowsShown(25)
    const first = await ids()
    const pager = page.getByRole('navigation', { name: 'Audit pages' })
    const older = pager.getByRole('button', { name: 'Older' })
    assert.equal(await older.isEnabled(), true, 'a next page is offered')
    await w.checkPage(c, 'auditor-audit-page-1')
    await older.click()
    await rowsShown(5)
    const second = await ids()
    assert.equal(await older.isDisabled(), true, 'the last page offers no further one')
    const seen = [...first, ...second]
    assert.equal(new Set(seen).size, 30, 'thirty entries, none shown twice')
    const { rows } = await w.s.db.query<{ id: string }>(
      "SELECT id FROM audit_entries WHERE actor_id = $1 AND action = 'patients.read'",
      [w.users.clinician.id],
    )
    assert.deepEqual([...seen].sort(), rows.map((r) => r.id).sort(), 'exactly the entries of the trail')
    await w.checkPage(c, 'auditor-audit-page-2')
    await pager.getByRole('button', { name: 'Newer' }).click()
    await rowsShown(25)
    assert.deepEqual(await ids(), first, 'back to the first page')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test('[SRS-UI-559] the organisation an administrator picks stays picked, even when picked the moment the list of organisations appears, before the page would have chosen the first one itself', async () => {
    // A second organisation that sorts before the world's own, so "the first one" is not the one picked.
    const created = await apiAs(w.users.admin.id, '/organisations', {
      method: 'POST',
      body: JSON.stringify({ name: `A first clinic ${w.tag}` }),
    })
    assert.equal(created.status, 201, await created.clone().text())
    const c = await asAdmin()
    const { page } = c
    await page.getByRole('link', { name: 'Devices', exact: true }).first().click()
    // The pick happens in the microtask after the select is put in the document: before the page's
    // effects run after paint. A person or a script choosing that fast must not be overruled.
    // (Browser code as text: the test's own TypeScript has no DOM types.)
    await page.evaluate(`(() => { window.picked = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        const select = [...document.querySelectorAll('label')]
          .find((l) => l.textContent.trim().startsWith('Organisation'))
          ?.querySelector('select')
        if (!select || !select.querySelector('option[value="${w.orgId}"]')) return
        observer.disconnect()
        select.value = '${w.orgId}'
        select.dispatchEvent(new Event('change', { bubbles: true }))
        resolve()
      })
      observer.observe(document.body, { childList: true, subtree: true })
    }) })()`)
    await page.getByRole('link', { name: 'Users', exact: true }).first().click()
    await page.evaluate(
      "Promise.race([window.picked, new Promise((_, no) => setTimeout(() => no(new Error('no organisation select')), 10000))])",
    )
    const email = w.users.consented.email
    await page
      .getByRole('list', { name: 'Users' })
      .getByRole('listitem')
      .filter({ hasText: email })
      .waitFor({ timeout: 10_000 })
    // Two frames later, nothing has moved the choice.
    await page.evaluate(
      'new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))',
    )
    assert.equal(await page.getByLabel('Organisation').inputValue(), w.orgId)
    assert.equal(
      await page
        .getByRole('list', { name: 'Users' })
        .getByRole('listitem')
        .filter({ hasText: email })
        .count(),
      1,
      "the list still shows the picked organisation's users",
    )
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
