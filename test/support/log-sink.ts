// A writable stream that keeps the JSON log lines a test's logger writes.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'

export class LogSink extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    done()
  }
  get text(): string {
    return this.lines.join('\n')
  }
  entries(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  }
  /** What a hostile-input run must leave in the log: no line carrying `marker`, no error-level line. */
  assertNothingHostile(marker: string): void {
    const cut = (lines: string[]) => lines.map((l) => l.slice(0, 300))
    assert.deepEqual(cut(this.lines.filter((l) => l.includes(marker))), [], 'a hostile value reached the log')
    assert.deepEqual(cut(this.lines.filter((l) => /"level":(50|60)/.test(l))), [], 'error-level log lines')
  }
}
