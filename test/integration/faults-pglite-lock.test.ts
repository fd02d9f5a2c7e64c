// Fault tests for the PGlite data-directory lock (ADR-0016), with real processes: 100 processes
// released at the same instant take the lock of one directory, round after round, with the holder
// killed (-9) or stopping cleanly between rounds; and PID reuse as in a container, where node runs
// as PID 1 of its own PID namespace (`unshare --pid --fork --mount-proc`, as root).
import assert from 'node:assert/strict'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import ts from 'typescript'
import { REPO_ROOT, removeDir, tempDir } from './server-process.ts'

/**
 * The child and the lock code it runs, transpiled once to plain JavaScript (the same source, types
 * removed), so a hundred children start on bare node instead of each loading the TypeScript loader.
 */
function transpileChild(into: string): string {
  const files = {
    'lock-child': 'test/support/lock-child.ts',
    'data-dir-lock': 'src/platform/db/data-dir-lock.ts',
    database: 'src/platform/db/database.ts',
  }
  for (const [name, source] of Object.entries(files)) {
    const { outputText } = ts.transpileModule(readFileSync(path.join(REPO_ROOT, source), 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: false,
      },
    })
    const js = outputText
      .replace(/'(?:\.\.\/)+src\/platform\/db\/([a-z-]+)\.ts'/g, "'./$1.mjs'")
      .replace(/'\.\/([a-z-]+)\.ts'/g, "'./$1.mjs'")
    writeFileSync(path.join(into, `${name}.mjs`), js)
  }
  return path.join(into, 'lock-child.mjs')
}
let CHILD = ''

interface Answer {
  readonly pid: number
  readonly result: 'ready' | 'held' | 'locked' | 'released'
  readonly message?: string
}

/** One lock-child process (optionally as PID 1 of a new PID namespace), answering line by line. */
class LockChild {
  readonly proc: ChildProcessWithoutNullStreams
  private buffer = ''
  private readonly answers: Answer[] = []
  private readonly waiting: Array<(a: Answer) => void> = []
  exited = false

  constructor(dataDir: string, options: { pidNamespace?: boolean } = {}) {
    const node = [process.execPath, CHILD, dataDir]
    const [command, ...args] = options.pidNamespace
      ? ['unshare', '--pid', '--fork', '--mount-proc', ...node]
      : node
    this.proc = spawn(command as string, args, {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
      },
    })
    this.proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffer += chunk
      let nl: number
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl)
        this.buffer = this.buffer.slice(nl + 1)
        const answer = JSON.parse(line) as Answer
        const waiter = this.waiting.shift()
        if (waiter) waiter(answer)
        else this.answers.push(answer)
      }
    })
    this.proc.stderr.setEncoding('utf8').on('data', (chunk: string) => process.stderr.write(chunk))
    this.proc.on('exit', () => {
      this.exited = true
    })
  }

  next(timeoutMs = 60_000): Promise<Answer> {
    const ready = this.answers.shift()
    if (ready) return Promise.resolve(ready)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('lock child did not answer in time')), timeoutMs)
      this.waiting.push((a) => {
        clearTimeout(timer)
        resolve(a)
      })
    })
  }

  send(line: string): void {
    this.proc.stdin.write(`${line}\n`)
  }

  /** SIGKILL to the child's whole process group (with unshare: the namespace's PID 1 and unshare). */
  async kill(): Promise<void> {
    if (this.exited) return
    const gone = new Promise((resolve) => this.proc.once('exit', resolve))
    try {
      process.kill(-(this.proc.pid as number), 'SIGKILL')
    } catch {
      this.proc.kill('SIGKILL')
    }
    await gone
  }
}

describe('PGlite data-directory lock under concurrent starts and PID reuse', () => {
  const dirs: string[] = []
  const children: LockChild[] = []
  before(() => {
    const dir = tempDir('lock-child')
    dirs.push(dir)
    CHILD = transpileChild(dir)
  })
  after(async () => {
    for (const c of children) await c.kill()
    for (const d of dirs) removeDir(d)
  })

  test('[SRS-DB-250] 100 processes released together: exactly one holds the lock every round; every loser gets the clear message', async () => {
    const dir = tempDir('lock-race')
    dirs.push(dir)
    const started = performance.now()
    let alive = Array.from({ length: 100 }, () => new LockChild(dir))
    children.push(...alive)
    for (const c of alive) assert.equal((await c.next()).result, 'ready')
    const loaded = performance.now()
    const rounds = 20
    let doubleHolders = 0
    for (let round = 0; round < rounds; round++) {
      for (const c of alive) c.send('go') // as close to together as one event-loop turn allows
      const answers = await Promise.all(alive.map(async (c) => ({ child: c, answer: await c.next() })))
      const holders = answers.filter((a) => a.answer.result === 'held')
      const losers = answers.filter((a) => a.answer.result !== 'held')
      if (holders.length > 1) doubleHolders++
      assert.equal(holders.length, 1, `round ${round}: exactly one holder`)
      for (const l of losers) {
        assert.equal(l.answer.result, 'locked')
        assert.match(l.answer.message ?? '', /is in use by another Vigil process/)
        assert.ok(l.answer.message?.includes(dir), 'the message names the data directory')
      }
      const holder = holders[0]!.child
      // Between rounds the holder goes away, alternately by kill -9 (the kernel drops the lock)
      // and by a clean stop (the lock file is removed while still locked).
      if (round % 2 === 0) {
        await holder.kill()
        alive = alive.filter((c) => c !== holder)
      } else {
        holder.send('release')
        assert.equal((await holder.next()).result, 'released')
      }
    }
    console.log(
      `# pglite lock race: ${rounds} rounds of ${100 - rounds + 1}–100 processes, double holders ${doubleHolders}, ` +
        `start ${((loaded - started) / 1000).toFixed(1)} s, rounds ${((performance.now() - loaded) / 1000).toFixed(1)} s`,
    )
  })

  test('[SRS-DB-251] PID reuse as in a container: a killed PID 1 leaves no lock behind, a live PID 1 in another namespace keeps it', async () => {
    const dir = tempDir('lock-pid1')
    dirs.push(dir)
    // A lock file in the old format naming PID 1, as a killed containerised node left it: the
    // next PID 1 must not read it as "held by me" nor as "held by a live process".
    writeFileSync(path.join(dir, 'pglite.lock'), '1')
    const first = new LockChild(dir, { pidNamespace: true })
    const second = new LockChild(dir, { pidNamespace: true })
    children.push(first, second)
    assert.equal((await first.next()).pid, 1, 'node runs as PID 1 of its namespace')
    assert.equal((await second.next()).pid, 1)

    first.send('go')
    assert.equal(
      (await first.next()).result,
      'held',
      'a stale lock file naming PID 1 does not block the new PID 1',
    )
    second.send('go')
    const refused = await second.next()
    assert.equal(
      refused.result,
      'locked',
      'a live holder that is also PID 1 (another namespace) keeps the lock',
    )
    assert.match(refused.message ?? '', /is in use by another Vigil process \(pid 1\)/)

    // kill -9 of the container's PID 1; `unshare` may report its exit a moment before the kernel
    // has finished tearing down the namespace's PID 1, so the next start retries briefly.
    await first.kill()
    const killedAt = performance.now()
    let taken: Answer | undefined
    while (performance.now() - killedAt < 2_000) {
      second.send('go')
      taken = await second.next()
      if (taken.result === 'held') break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(taken?.result, 'held', 'after kill -9 of the holder the next PID 1 takes the lock')
    console.log(
      `# pglite lock pid reuse: stale PID-1 file taken over, live PID 1 refused, lock free ${Math.round(performance.now() - killedAt)} ms after kill -9`,
    )
  })
})
