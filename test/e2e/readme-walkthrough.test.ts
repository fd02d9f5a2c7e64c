/* eslint-disable @typescript-eslint/no-explicit-any -- command output is walked loosely */
// The README's "Try the demo" walkthrough runs as printed (issue 13, "Done when"): the shell
// blocks and inline commands are read from README.md itself and run with bash, curl, openssl and
// node in a directory holding `demo.json` (from `vigil seed-demo`, as the README makes it) against
// a real server process. Only what a person does by hand is done by the test: BASE is the test
// server's address instead of :8080, the "open that URL in a browser and sign in" step is Chromium
// on Vigil's sign-in pages, and `<the code parameter>` / `<patient>` are filled in. Each kind of
// demo user reaches a first successful call: device, patient, clinician (with an EHR launch),
// auditor, SMART app and backend service.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import {
  childEnv,
  CLI_ARGS,
  REPO_ROOT,
  removeDir,
  run,
  startServer,
  stopServer,
  tempDir,
  type Serving,
} from '../integration/server-process.ts'
import { launchChromium } from '../support/browser.ts'
import { freePort } from '../support/ports.ts'
import { ownDatabase, type OwnDatabase } from '../support/own-database.ts'
import { totpCode } from '../../src/modules/users/index.ts'

const PASSWORD = 'a long demo passphrase'

/** The "Try the demo" section of the README, up to the scope table. */
function walkthrough(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('### Try the demo')
  const end = readme.indexOf('#### Scopes and what they open', start)
  assert.ok(start > 0 && end > start, 'the README has its demo walkthrough')
  return readme.slice(start, end)
}

const shBlocks = (text: string) => [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string)
/** The inline command (in backticks) of the walkthrough that contains `needle`. */
function inline(text: string, needle: string): string {
  const found = [...text.matchAll(/`(curl [^`]+)`/g)]
    .map((m) => m[1] as string)
    .find((c) => c.includes(needle))
  assert.ok(found, `the README prints a command with ${needle}`)
  return found
}

describe('the README walkthrough, as printed, for every kind of demo user', () => {
  let dir: string
  let dataDir: string
  let database: OwnDatabase | undefined
  let server: Serving | undefined
  let browser: Browser
  let base = ''
  let demo: any
  const text = walkthrough()
  const blocks = shBlocks(text)

  before(async () => {
    dataDir = tempDir('readme-data')
    dir = tempDir('readme-walk')
    // The reader's working directory: demo.json, and the repository's packages (the backend block imports jose).
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'))
    database = await ownDatabase('vigil_demo')
    const port = await freePort()
    const env = childEnv(
      dataDir,
      {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        // Its own database: the demo world's fixed users and clients must not meet another test's.
        ...(database.url ? { DATABASE_URL: database.url } : {}),
      },
      { externalServices: true },
    )
    const seeded = await run(process.execPath, [...CLI_ARGS, 'seed-demo', '--password', PASSWORD], {
      env,
      timeoutMs: 120_000,
    })
    assert.equal(seeded.code, 0, seeded.stderr)
    writeFileSync(path.join(dir, 'demo.json'), seeded.stdout)
    demo = JSON.parse(seeded.stdout)
    server = await startServer(env)
    base = `http://127.0.0.1:${port}`
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    if (server) await stopServer(server.proc)
    removeDir(dir)
    removeDir(dataDir)
    await database?.drop()
  })

  /** Runs a printed script in the reader's directory, with BASE pointing at the test server. */
  function sh(script: string, extraEnv: Record<string, string> = {}): string {
    const body = script.replace(/^BASE=http:\/\/127\.0\.0\.1:8080$/m, `BASE=${base}`)
    const res = spawnSync('bash', ['-c', `set -e\nBASE=${base}\n${body}`], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv },
    })
    assert.equal(res.status, 0, `script failed: ${res.stderr}\n${script}`)
    return res.stdout
  }

  /** The person's part: open the printed URL, sign in (TOTP when asked), allow, and read the code off the redirect. */
  async function signIn(url: string, email: string, totpSecret?: string): Promise<string> {
    const context = await browser.newContext()
    try {
      // Nothing listens on http://127.0.0.1/callback, as the README says; the browser only shows the URL.
      await context.route('http://127.0.0.1/callback**', (route) =>
        route.fulfill({ status: 200, contentType: 'text/plain', body: 'copy the code from the address bar' }),
      )
      const page = await context.newPage()
      await page.goto(url)
      await page.getByLabel('Email').fill(email)
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      if (totpSecret) {
        await page.getByLabel('Code from your authenticator app').fill(totpCode(totpSecret, new Date()))
        await page.getByRole('button', { name: 'Verify' }).click()
      }
      // A first-party app goes straight back; a third-party one (demo-smart-app) asks for consent first.
      const allow = page.getByRole('button', { name: 'Allow' })
      await Promise.race([
        page.waitForURL(/\/callback\?/, { timeout: 30_000 }),
        allow.waitFor({ timeout: 30_000 }),
      ])
      if (!page.url().includes('/callback?')) {
        await allow.click()
        await page.waitForURL(/\/callback\?/, { timeout: 30_000 })
      }
      const code = new URL(page.url()).searchParams.get('code')
      assert.ok(code, `a code came back: ${page.url()}`)
      return code
    } finally {
      await context.close()
    }
  }

  /**
   * The patient's authorization block, with the bullet's substitutions (client, scope, extra
   * parameters); returns the user token the block's second half obtains, and what it printed.
   */
  async function authorize(
    login: { email: string; totpSecret?: string },
    change: { clientId?: string; scope?: string; extra?: string } = {},
  ) {
    const block = blocks.find((b) => b.includes('/oauth/authorize')) as string
    const [first, second] = block.split(/^# Open that URL.*$/m) as [string, string]
    let firstHalf = first
    if (change.scope)
      firstHalf = firstHalf.replace('scope=openid%20device-data:read', `scope=${change.scope}`)
    if (change.clientId) firstHalf = firstHalf.replace('client_id=demo-app', `client_id=${change.clientId}`)
    if (change.extra) firstHalf = firstHalf.replace('&state=demo"', `&state=demo${change.extra}"`)
    const printed = sh(`${firstHalf}\necho "VERIFIER=$VERIFIER"`).trim().split('\n')
    const url = printed[0] as string
    const verifier = (printed[1] as string).replace(/^VERIFIER=/, '')
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?/)
    const code = await signIn(url, login.email, login.totpSecret)
    let secondHalf = second
      .replace(/^# http:\/\/127.*$/m, '')
      .replace(/^CODE=<the code parameter>$/m, `CODE='${code}'`)
    if (change.clientId) secondHalf = secondHalf.replace('client_id=demo-app', `client_id=${change.clientId}`)
    const [exchange, ...calls] = secondHalf.split(/(?=^curl -s -H "Authorization)/m)
    const token = sh(`VERIFIER='${verifier}'\n${exchange}\necho "$USER_TOKEN"`).trim()
    assert.ok(token.length > 20 && token !== 'undefined', `a token from the printed exchange: ${token}`)
    return { token, calls: calls.join('\n') }
  }

  test('[SRS-DOC-526] the device block runs as printed: client credentials, then a reading is stored; the device without scope gets its default', () => {
    const device = blocks.find(
      (b) => b.includes('grant_type=client_credentials') && b.includes('/api/v2/device-data'),
    ) as string
    const out = sh(device)
    const answer = JSON.parse(out.trim().split('\n').pop() as string)
    assert.equal(answer.created + answer.duplicates, 1, out)
    const noScope = sh(
      device.split('\nNOW=')[0]!.replace(' -d scope=device-data:write', '') + '\necho "$DEVICE_TOKEN"',
    ).trim()
    assert.ok(noScope.length > 20 && noScope !== 'undefined', 'a token without scope (the default)')
  })

  test('[SRS-DOC-526] the patient block runs as printed: PKCE authorization, sign-in, code exchange, own readings', async () => {
    const { token, calls } = await authorize({ email: 'patient@demo.test' })
    const out = sh(calls, { USER_TOKEN: token })
    const page = JSON.parse(out.trim())
    assert.ok(Array.isArray(page.readings) && page.readings.length > 0, out.slice(0, 300))
    assert.ok(page.readings.every((r: any) => r.patientId === demo.patients.patient))
  })

  test("[SRS-DOC-526] the clinician bullet runs as printed: the patient's readings, and an EHR launch of the SMART app", async () => {
    const { token } = await authorize(
      { email: 'clinician@demo.test', totpSecret: demo.users.clinician.totpSecret },
      { scope: 'openid%20patients:read%20device-data:read' },
    )
    const readings = JSON.parse(sh(`${inline(text, '/api/v2/device-data?patient=')}`, { USER_TOKEN: token }))
    assert.ok(readings.readings.length > 0)
    const launch = JSON.parse(sh(inline(text, '/api/v2/smart/launch'), { USER_TOKEN: token }))
    assert.ok(typeof launch.launch === 'string' && launch.launch.length > 10, JSON.stringify(launch))
    assert.equal(launch.iss, `${base}/fhir/R4`)
  })

  test('[SRS-DOC-526] the auditor bullet runs as printed: the audit trail', async () => {
    const { token } = await authorize(
      { email: 'auditor@demo.test', totpSecret: demo.users.auditor.totpSecret },
      { scope: 'openid%20audit:read' },
    )
    const trail = JSON.parse(sh(inline(text, '/api/v2/audit/entries'), { USER_TOKEN: token }))
    assert.ok(Array.isArray(trail.entries) && trail.entries.length > 0, JSON.stringify(trail).slice(0, 300))
  })

  test('[SRS-DOC-526] the SMART app bullet runs as printed: discovery, a standalone launch with consent, the patient in the token response, Observations with next links', async () => {
    const cfg = JSON.parse(sh(`curl -s $BASE/fhir/R4/.well-known/smart-configuration`))
    assert.deepEqual(cfg.code_challenge_methods_supported, ['S256'])
    const bullet = /\*\*SMART app\*\*[\s\S]*?(?=\n- \*\*)/.exec(text)?.[0] ?? ''
    const scope = /`scope=([^`]+)`/.exec(bullet)?.[1] as string
    const aud = /`aud=([^`]+)`/.exec(bullet)?.[1] as string
    assert.ok(scope && aud, 'the bullet names the scope and aud')
    const { token } = await authorize(
      { email: 'patient@demo.test' },
      { clientId: 'demo-smart-app', scope, extra: `&aud=${aud}` },
    )
    const command = inline(text, '/fhir/R4/Observation?patient=<patient>').replace(
      '<patient>',
      demo.patients.patient,
    )
    const bundle = JSON.parse(sh(command, { TOKEN: token }))
    assert.equal(bundle.resourceType, 'Bundle')
    assert.ok(bundle.entry.length > 0)
    assert.ok(
      bundle.link.some((l: any) => l.relation === 'next'),
      'more than one page of 30 days of readings',
    )
  })

  test("[SRS-DOC-526] the backend service block runs as printed: a signed assertion, no scope, the patient's heart rates on /fhir/R4", () => {
    const backend = blocks.find((b) => b.includes('BACKEND_TOKEN=')) as string
    const bundle = JSON.parse(sh(backend))
    assert.equal(bundle.resourceType, 'Bundle')
    assert.ok(bundle.entry.length > 0)
    assert.ok(bundle.entry.every((e: any) => e.resource.code.coding[0].code === '8867-4'))
  })
})
