// A child process for the PGlite lock fault tests (test/integration/faults-pglite-lock.test.ts):
// it loads the lock code, says "ready", and on each "go" line on stdin tries to take the lock of
// the data directory given as argument, answering one JSON line; "release" releases it. It exits
// when stdin closes. Not a test file itself.
import { createInterface } from 'node:readline'
import path from 'node:path'
import { acquireDataDirLock } from '../../src/platform/db/data-dir-lock.ts'

const dataDir = process.argv[2]
if (!dataDir) throw new Error('usage: lock-child.ts DATA_DIR')
let release: (() => void) | undefined

function answer(value: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...value })}\n`)
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'go') {
      if (release) return answer({ result: 'held' })
      try {
        release = acquireDataDirLock(path.join(dataDir, 'pglite.lock'), dataDir)
        answer({ result: 'held' })
      } catch (err) {
        answer({ result: 'locked', message: err instanceof Error ? err.message : String(err) })
      }
    } else if (line === 'release') {
      release?.()
      release = undefined
      answer({ result: 'released' })
    }
  })
  .on('close', () => process.exit(0))
answer({ result: 'ready' })
