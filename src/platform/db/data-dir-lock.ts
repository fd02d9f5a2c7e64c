// PGlite is a single-process database: two processes on one data directory corrupt it. A lock
// file holding the owner's pid makes the second process fail with a clear message instead.
// A lock left by a process that no longer exists (kill -9, power loss) is taken over.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { DatabaseLockedError } from './database.ts'

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function acquireDataDirLock(lockFile: string, dataDir: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      let released = false
      return () => {
        if (released) return
        released = true
        try {
          if (readFileSync(lockFile, 'utf8') === String(process.pid)) unlinkSync(lockFile)
        } catch {
          // already gone
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number.parseInt(readFileSync(lockFile, 'utf8'), 10)
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) throw new DatabaseLockedError(dataDir, holder)
      if (holder === process.pid) throw new DatabaseLockedError(dataDir, holder)
      unlinkSync(lockFile) // stale: its owner is gone
    }
  }
  throw new Error(`Could not take the lock ${lockFile}`)
}
