// The migrated template every in-memory test database starts from. Each test file runs in its own
// process and opens its own PGlite; initdb alone costs seconds there, and the suite opens well over a
// hundred of them. The first process of a run migrates one database and writes its data directory
// to a file named by the hash of everything that shapes it (the migrations, the migration runner,
// the PGlite version); every other open loads that image instead. Tests still call migrate() on the
// result, which finds every migration applied; tests of the migrations themselves open unmigrated
// databases and never use the template.

import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { migrate, pgliteImage } from '../../src/platform/db/index.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const PREFIX = 'vigil-test-pglite-'

function templateFile(): string {
  const hash = createHash('sha256')
  const migrations = path.join(ROOT, 'migrations')
  for (const name of readdirSync(migrations).sort()) {
    hash
      .update(name)
      .update('\0')
      .update(readFileSync(path.join(migrations, name)))
      .update('\0')
  }
  hash.update(readFileSync(path.join(ROOT, 'src', 'platform', 'db', 'migrate.ts')))
  hash.update(readFileSync(path.join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json')))
  return path.join(os.tmpdir(), `${PREFIX}${hash.digest('hex').slice(0, 32)}.tar`)
}

async function load(): Promise<Blob> {
  const file = templateFile()
  try {
    return new Blob([readFileSync(file)])
  } catch {
    // Not there yet (or being replaced): build it. Two processes may both build; each writes a
    // file of its own and renames it into place, so a reader never sees half an image.
  }
  const image = await pgliteImage((db) => migrate(db))
  const partial = `${file}.${process.pid}.partial`
  writeFileSync(partial, Buffer.from(await image.arrayBuffer()), { mode: 0o600 })
  renameSync(partial, file)
  // Images of earlier migration sets are of no further use.
  for (const name of readdirSync(os.tmpdir())) {
    const other = path.join(os.tmpdir(), name)
    if (name.startsWith(PREFIX) && other !== file && !name.endsWith('.partial'))
      rmSync(other, { force: true })
  }
  return image
}

let template: Promise<Blob> | undefined

/** The migrated PGlite image (built once per set of migrations, then read from a file). */
export function migratedPgliteImage(): Promise<Blob> {
  template ??= load()
  return template
}
