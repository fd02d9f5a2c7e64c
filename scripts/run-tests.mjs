#!/usr/bin/env node
// The test command: node's own test runner over every *.test.ts (unit tests beside the code in
// src/, integration, security and end-to-end tests in test/), TypeScript loaded through tsx.
// Arguments narrow the run to the given files or directories.
//   VIGIL_TEST_TAP=path  also writes a TAP report there (CI counts passes and failures from it).
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
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

const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout']
if (process.env.VIGIL_TEST_TAP) reporters.push('--test-reporter=tap', `--test-reporter-destination=${process.env.VIGIL_TEST_TAP}`)

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${process.env.VIGIL_TEST_CONCURRENCY ?? 2}`, '--test-timeout=120000', ...reporters, ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
)
process.exit(result.status ?? 1)
