// A throwaway PostgreSQL 15 cluster of a test's own, on its own port and directory, that the test
// can stop, kill and start again (fault tests). initdb/pg_ctl refuse to run as root: as root they
// run as the `postgres` user through runuser. Every process is ended by its own pid.
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { freePort } from './ports.ts'

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'

function asPostgres(
  command: string,
  args: readonly string[],
): { status: number | null; stdout: string; stderr: string } {
  const root = process.getuid?.() === 0
  const [cmd, argv] = root
    ? ['runuser', ['-u', 'postgres', '--', path.join(BIN, command), ...args]]
    : [path.join(BIN, command), [...args]]
  const res = spawnSync(cmd as string, argv as string[], { encoding: 'utf8', timeout: 60_000 })
  return { status: res.status, stdout: res.stdout ?? '', stderr: res.stderr ?? '' }
}

function must(res: { status: number | null; stdout: string; stderr: string }, what: string): void {
  if (res.status !== 0) throw new Error(`${what} failed (${res.status}):\n${res.stdout}\n${res.stderr}`)
}

export class PgCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb in a fresh directory under os.tmpdir(), owned by postgres when run as root. */
  static async create(base: string): Promise<PgCluster> {
    const dir = path.join(base, 'pgdata')
    mkdirSync(dir, { mode: 0o700 })
    if (process.getuid?.() === 0) {
      const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
      const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
      const uid = Number(ids.stdout.trim())
      chownSync(base, uid, Number(gid.stdout.trim()))
      chownSync(dir, uid, Number(gid.stdout.trim()))
    }
    must(
      asPostgres('initdb', [
        '-D',
        dir,
        '-U',
        'postgres',
        '-A',
        'trust',
        '-E',
        'UTF8',
        '--no-sync',
        '--no-instructions',
      ]),
      'initdb',
    )
    return new PgCluster(dir, await freePort())
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  /** Starts the server and waits until it accepts connections (crash recovery included). */
  start(): void {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=60 -c shared_buffers=16MB`
    must(
      asPostgres('pg_ctl', [
        'start',
        '-D',
        this.dir,
        '-w',
        '-t',
        '60',
        '-l',
        path.join(this.dir, 'server.log'),
        '-o',
        options,
      ]),
      'pg_ctl start',
    )
  }

  /** A clean stop: fast mode terminates every session (57P01), as an operator's restart does. */
  stop(): void {
    must(asPostgres('pg_ctl', ['stop', '-D', this.dir, '-m', 'fast', '-w', '-t', '60']), 'pg_ctl stop')
  }

  /** The server's process ids: the postmaster (postmaster.pid) and its children (/proc). */
  pids(): number[] {
    const pidFile = path.join(this.dir, 'postmaster.pid')
    if (!existsSync(pidFile)) return []
    const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
    const children: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        if (ppid === postmaster) children.push(Number(entry))
      } catch {
        // gone meanwhile
      }
    }
    return [postmaster, ...children]
  }

  /** A crash: SIGKILL to the postmaster and every backend at once; the next start recovers. */
  async kill(): Promise<void> {
    const pids = this.pids()
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 10_000
    while (pids.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20))
  }

  async destroy(): Promise<void> {
    if (existsSync(path.join(this.dir, 'postmaster.pid'))) await this.kill()
    rmSync(path.dirname(this.dir), { recursive: true, force: true })
  }

  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error('plain lower-case database names only')
    const client = new pg.Client({ connectionString: this.url() })
    await client.connect()
    try {
      await client.query(`CREATE DATABASE ${name}`)
    } finally {
      await client.end()
    }
    return this.url(name)
  }
}
