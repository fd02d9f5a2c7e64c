// PGlite is a single-process database: two processes on one data directory corrupt it. The data
// directory is guarded by an OS-level advisory lock (flock(2) through fs-native-extensions) on
// DATA_DIR/pglite.lock, held on an open descriptor for the life of the process. The kernel drops
// it when the process dies, however it dies (kill -9, OOM, power loss), so there is no stale lock
// to judge: no pid comparison, and so no confusion when a restarted container's node is PID 1
// again, or when another process reuses the old pid (ADR-0016). Two processes starting together
// cannot both win: the kernel grants the lock to one.
//
// The file also records who holds it (pid, host, boot id, process start time), for the message
// the loser prints and for an operator; the lock itself never depends on what the file says.

import {
  closeSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { DatabaseLockedError } from './database.ts'

interface NativeLock {
  tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean
  unlock(fd: number): void
}

// A CommonJS native module with prebuilt binaries for Linux, macOS and Windows (x64 and arm64).
const native = createRequire(import.meta.url)('fs-native-extensions') as NativeLock

export interface LockHolder {
  readonly pid: number
  readonly hostname?: string
  readonly bootId?: string
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat, field 22). */
  readonly processStart?: number
  readonly acquiredAt?: string
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}

function processStart(): number | undefined {
  const stat = readOptional('/proc/self/stat')
  if (!stat) return undefined
  // Fields after the command name (which may itself hold spaces and parentheses).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const start = Number(fields[19])
  return Number.isSafeInteger(start) ? start : undefined
}

/** What the lock file says about its holder (diagnostics only); the format before ADR-0016 held a bare pid. */
export function readLockHolder(lockFile: string): LockHolder | undefined {
  const text = readOptional(lockFile)
  if (!text) return undefined
  if (/^\d+$/.test(text)) return { pid: Number(text) }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>
    return typeof parsed.pid === 'number' ? (parsed as LockHolder) : undefined
  } catch {
    return undefined
  }
}

function holderRecord(): string {
  const holder: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    ...(readOptional('/proc/sys/kernel/random/boot_id')
      ? { bootId: readOptional('/proc/sys/kernel/random/boot_id') }
      : {}),
    ...(processStart() !== undefined ? { processStart: processStart() } : {}),
    acquiredAt: new Date().toISOString(),
  }
  return `${JSON.stringify(holder)}\n`
}

/** Takes the data directory's lock or throws DatabaseLockedError; the returned function releases it. */
export function acquireDataDirLock(lockFile: string, dataDir: string): () => void {
  // A clean stop removes the file; a process that opened it just before could lock the removed
  // inode and believe it holds the lock. Holding a lock counts only on the inode the path names.
  for (let attempt = 0; attempt < 10; attempt++) {
    const fd = openSync(lockFile, 'a+', 0o600)
    let locked = false
    try {
      locked = native.tryLock(fd)
    } catch (err) {
      closeSync(fd)
      throw err
    }
    if (!locked) {
      closeSync(fd)
      throw new DatabaseLockedError(dataDir, readLockHolder(lockFile)?.pid)
    }
    let current: number | undefined
    try {
      current = statSync(lockFile).ino
    } catch {
      current = undefined
    }
    if (current !== fstatSync(fd).ino) {
      native.unlock(fd)
      closeSync(fd)
      continue
    }
    ftruncateSync(fd, 0)
    writeSync(fd, holderRecord())
    let released = false
    return () => {
      if (released) return
      released = true
      // Remove the file while still holding the lock, so no one locks a file about to vanish.
      try {
        unlinkSync(lockFile)
      } catch {
        // already gone
      }
      try {
        native.unlock(fd)
      } finally {
        closeSync(fd)
      }
    }
  }
  throw new DatabaseLockedError(dataDir, readLockHolder(lockFile)?.pid)
}
