// The web console in Chromium (issue 15), as a platform administrator: rotating a client secret, and
// the administration pages.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { serviceClientMetadata } from '../../src/modules/clients/index.ts'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: administrator', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 0, signIn: ['admin'] })
  })
  after(async () => w?.close())

  test('[SRS-UI-404] an admin rotates a client secret: the new one is shown once and works, the old one no longer does', async () => {
    const clientId = `console-rotate-${w.tag}`
    const oldSecret = 'old-secret-0123456789-abcdefghij'
    await w.s.clients.upsert({
      clientId,
      secret: oldSecret,
      metadata: serviceClientMetadata(clientId, 'device-data:write'),
    })
    const tokenWith = (secret: string) =>
      fetch(`${w.s.issuer}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      })
    assert.equal((await tokenWith(oldSecret)).status, 200)

    const c = await w.open(w.users.admin)
    const { page } = c
    await page.getByRole('link', { name: 'OAuth clients' }).first().click()
    await page.getByRole('button', { name: `Rotate secret of ${clientId}` }).click()
    const shown = page.getByTestId('client-secret')
    await shown.waitFor({ timeout: 30_000 })
    const newSecret = ((await shown.textContent()) ?? '').trim()
    assert.match(newSecret, /^[A-Za-z0-9_-]{40,}$/)
    await w.checkPage(c, 'admin-clients')
    assert.equal((await tokenWith(newSecret)).status, 200)
    assert.equal((await tokenWith(oldSecret)).status, 401)
    for (const [link, heading, name] of [
      ['Users', 'Invite a user', 'admin-users'],
      ['Devices', 'Register a device', 'admin-devices'],
      ['Care teams', 'Care teams', 'admin-care-teams'],
      ['Anomalies', 'Anomalies', 'admin-anomalies'],
    ] as const) {
      await page.getByRole('link', { name: link, exact: true }).first().click()
      await page.getByRole('heading', { name: heading }).waitFor({ timeout: 30_000 })
      await w.checkPage(c, name)
    }
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
