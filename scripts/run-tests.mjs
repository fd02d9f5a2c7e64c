#!/usr/bin/env node
// The test command: node's own test runner over every *.test.ts (unit tests beside the code in
// src/, integration, security and end-to-end tests in test/), TypeScript loaded through tsx.
// Arguments narrow the run to the given files or directories.
//   VIGIL_TEST_TAP=path  also writes a TAP report there (CI counts passes and failures from it).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

function collect(target, out) {
  const st = statSync(target)
  if (st.isDirectory()) {
    for (const name of readdirSync(target).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue
      collect(path.join(target, name), out)
    }
  } else if (target.endsWith('.test.ts')) {
    out.push(target)
  }
  return out
}

const targets = process.argv.slice(2)
const files = (targets.length > 0 ? targets : ['src', 'test']).flatMap((t) => collect(t, []))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}

// The browser tests drive Debian's Chromium. On a fresh Debian machine where we may install
// packages (root, apt-get present), install it once so `npm test` needs nothing done by hand;
// elsewhere the browser tests fail with a message saying what to install.
const CHROMIUM = '/usr/bin/chromium'
if (
  files.some((f) => f.includes(`${path.sep}e2e${path.sep}`) || f.startsWith(`test${path.sep}e2e`)) &&
  !existsSync(CHROMIUM)
) {
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
  if (canInstall) {
    console.log('installing Debian chromium for the browser tests (apt-get install -y chromium)…')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env })
  } else {
    console.warn(
      `${CHROMIUM} is missing: the browser tests will fail. Install it with: sudo apt-get install -y chromium`,
    )
  }
}

const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout']
if (process.env.VIGIL_TEST_TAP)
  reporters.push('--test-reporter=tap', `--test-reporter-destination=${process.env.VIGIL_TEST_TAP}`)

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${process.env.VIGIL_TEST_CONCURRENCY ?? 2}`,
    '--test-timeout=300000',
    ...reporters,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
)
process.exit(result.status ?? 1)
