// Checkpoints: every chain's head (seq and hash), signed with Ed25519 and exported outside the
// database — one JSON line appended to a file, and a log line — so a rewrite or truncation of
// the trail after the checkpoint is detected even by someone who controls the database.

import { execFile } from 'node:child_process'
import { appendFile, mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'

export type CheckpointHeads = Record<string, { seq: number; hash: string }>

export interface Checkpoint {
  readonly id: string
  readonly createdAt: Date
  readonly heads: CheckpointHeads
  readonly signature: string
  readonly kid: string
}

/** What is signed: a fixed-order JSON array, heads sorted by chain. */
export function checkpointPayload(c: Pick<Checkpoint, 'id' | 'createdAt' | 'heads'>): Buffer {
  const heads = Object.entries(c.heads)
    .map(([chain, h]) => [Number(chain), h.seq, h.hash] as const)
    .sort((a, b) => a[0] - b[0])
  return Buffer.from(
    JSON.stringify(['vigil-audit-checkpoint-v1', c.id, c.createdAt.toISOString(), heads]),
    'utf8',
  )
}

export interface ExportedCheckpoint {
  readonly id: string
  readonly createdAt: string
  readonly heads: CheckpointHeads
  readonly signature: string
  readonly kid: string
  readonly publicKey: string
}

export function toExported(c: Checkpoint, publicKey: string): ExportedCheckpoint {
  return {
    id: c.id,
    createdAt: c.createdAt.toISOString(),
    heads: c.heads,
    signature: c.signature,
    kid: c.kid,
    publicKey,
  }
}

/**
 * Gives the checkpoint to an operator's executable on stdin (one JSON line): run without a shell,
 * with no arguments and an environment holding only a standard PATH (none of the server's
 * secrets), killed after 10 s. Rejects on a non-zero exit.
 */
export function runCheckpointCommand(
  command: string,
  c: ExportedCheckpoint,
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      [],
      {
        timeout: timeoutMs,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        maxBuffer: 64 * 1024,
      },
      (err) => {
        if (err)
          reject(
            new Error(
              `AUDIT_CHECKPOINT_COMMAND failed: ${err.killed ? 'timed out' : `exit ${String(err.code)}`}`,
            ),
          )
        else resolve()
      },
    )
    child.stdin?.on('error', () => {}) // a command that exits without reading: the exit status decides
    child.stdin?.end(JSON.stringify(c) + '\n')
  })
}

/** Appends one JSON line (mode 0600; the directory is created). */
export async function appendCheckpointLine(file: string, c: ExportedCheckpoint): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
  await appendFile(file, JSON.stringify(c) + '\n', { mode: 0o600 })
}

/** The last checkpoint in the export file; undefined when there is no file or no line. */
export async function readLastCheckpointLine(file: string): Promise<Checkpoint | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const last = text.trimEnd().split('\n').at(-1)
  if (!last) return undefined
  const parsed = JSON.parse(last) as ExportedCheckpoint
  return {
    id: parsed.id,
    createdAt: new Date(parsed.createdAt),
    heads: parsed.heads,
    signature: parsed.signature,
    kid: parsed.kid,
  }
}
